/**
 * DynamoDB Local dies mid-run: requests meanwhile fail fast with 503 (never
 * hang, never 500), the supervisor restarts it on the same data, nothing
 * stored is lost, and pushes flow again. Its own file: the handlers' clients
 * are created once per process and must point at this stack's DynamoDB Local.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startLocalStack } from '../../local/stack.ts';
import { api, connect, eventually, isPushOf, SECRET, token } from '../support/e2e.ts';
import { freePort } from '../support/ports.ts';

describe('DynamoDB Local dies', () => {
  it('answers 503 fast while it is down, restarts it on the same data, and pushes flow again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'presence-crash-'));
    const own = await startLocalStack({
      httpPort: await freePort(),
      wsPort: await freePort(),
      dynamodbPort: await freePort(),
      dataDir: dir,
      jwtSecret: SECRET,
      tablePrefix: `crash_${process.env.TABLE_SUFFIX}_`,
      onLog: (line) => {
        if (process.env.E2E_VERBOSE) console.error(line);
      },
    });
    try {
      const ownCall = api(own);
      await ownCall('POST', '/v1/me/subscriptions', token('cr-a'), { userIds: ['cr-b'] });
      expect((await ownCall('PATCH', '/v1/me/presence', token('cr-b'), { customStatus: 'kept' })).status).toBe(200);
      own.dynamodb?.crash();
      const t0 = Date.now();
      const during = await ownCall('GET', '/v1/me/presence', token('cr-b'));
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect([200, 503]).toContain(during.status);
      if (during.status === 503) expect(during.body).toEqual({ error: 'unavailable', message: expect.any(String) });
      console.log(`crash: request during the outage answered ${during.status} in ${Date.now() - t0} ms`);
      const after = await eventually(async () => {
        const r = await ownCall('GET', '/v1/me/presence', token('cr-b'));
        return r.status === 200 ? r : undefined;
      }, 30_000);
      expect(after.body.customStatus).toBe('kept');
      expect(own.dynamodb?.restarts).toBe(1);
      const a = await connect(own, token('cr-a'));
      await ownCall('PATCH', '/v1/me/presence', token('cr-b'), { customStatus: 'after restart' });
      await a.next(
        isPushOf('cr-b', (d) => d.customStatus === 'after restart'),
        15_000,
      );
      await a.close();
    } finally {
      await own.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
