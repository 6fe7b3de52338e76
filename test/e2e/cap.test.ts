/**
 * The subscription cap (3000 per user): past it, longer new subscriptions
 * replace the shortest existing ones (evicted), shorter ones are rejected;
 * evicted subscriptions deliver nothing.
 */
import { describe, expect, it } from 'vitest';
import { connect, sleep, token, useStack } from '../support/e2e.ts';

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

const fx = useStack();
const { call } = fx;

describe('subscription cap', () => {
  it('holds 3000, evicts the shortest for longer ones, rejects shorter ones', async () => {
    const me = token('capper');
    const first = ids('a', 3000);
    for (let i = 0; i < first.length; i += 100) {
      // the first 100 are the shortest
      const res = await call('POST', '/v1/me/subscriptions', me, { userIds: first.slice(i, i + 100), expiresIn: i === 0 ? 1000 : 5000 });
      expect(res.body.rejected).toEqual([]);
      expect(res.body.evicted).toEqual([]);
    }
    expect((await call('GET', '/v1/me/subscriptions?limit=1', me)).body.total).toBe(3000);

    const longer = await call('POST', '/v1/me/subscriptions', me, { userIds: ['b1', 'b2', 'b3'], expiresIn: 2000 });
    expect(longer.body.subscribed.map((s: any) => s.userId)).toEqual(['b1', 'b2', 'b3']);
    expect(longer.body.evicted).toEqual(['a0000', 'a0001', 'a0002']);
    expect((await call('GET', '/v1/me/subscriptions?limit=1', me)).body.total).toBe(3000);

    const shorter = await call('POST', '/v1/me/subscriptions', me, { userIds: ['c1'], expiresIn: 10 });
    expect(shorter.body).toMatchObject({ subscribed: [], rejected: ['c1'], evicted: [] });

    // renewing an existing subscription is never rejected
    const renew = await call('POST', '/v1/me/subscriptions', me, { userIds: ['a0005'], expiresIn: 10 });
    expect(renew.body).toMatchObject({ subscribed: [{ userId: 'a0005' }], rejected: [], evicted: [] });

    // evicted subscriptions deliver nothing
    const ws = await connect(fx.stack, me);
    await call('POST', '/v1/me/heartbeat', token('a0000'), {});
    await call('POST', '/v1/me/heartbeat', token('b1'), {});
    await ws.next((m) => m.type === 'presence' && m.data.userId === 'b1');
    await sleep(300);
    expect(ws.pushes().filter((m) => m.data.userId === 'a0000')).toEqual([]);
    await ws.close();
  }, 120_000);
});
