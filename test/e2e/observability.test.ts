/**
 * The CloudWatch metrics of docs/observability.md, as the local stack counts
 * the EMF lines the functions write (GET /__local/metrics, `emf`; both of its
 * threads): after the README walk-through (Alice subscribes to Bob and
 * listens, Bob comes online and gets busy, Bob leaves) and a few faults that
 * the rest need (a bad token, a flooding socket, a connection API Gateway
 * forgot, throttled pushes, a replayed stream batch, a device left to
 * expire), every metric of the table has datapoints, under the namespace and
 * the `service` dimension the docs name.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LocalMetricsSnapshot } from '../../local/metrics.ts';
import { connect, eventually, isPushOf, sleep, token, useStack } from '../support/e2e.ts';

// a low message rate, so that a short flood is rate limited (read when the stack loads the handlers; the
// bundles of an assembly, PRESENCE_FROM_ASSEMBLY, have the template's environment: the default, 100)
process.env.WS_RATE_LIMIT = '5';
const FLOOD = process.env.PRESENCE_FROM_ASSEMBLY ? 105 : 8;

const fx = useStack();
const { call, client } = fx;

/** the metric table of docs/observability.md: name → unit */
function documentedMetrics(): Map<string, string> {
  const doc = readFileSync(resolve(import.meta.dirname, '../../docs/observability.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `(\w+)` \| (\w+) \|/gm)];
  return new Map(rows.map((m) => [m[1] as string, m[2] as string]));
}

const emf = async (): Promise<LocalMetricsSnapshot['emf']> => ((await (await fetch(`${fx.stack.httpUrl}/__local/metrics`)).json()) as LocalMetricsSnapshot).emf;

/** metrics only special conditions produce (a push over 128 KB; a push throttled through five deliveries) */
const NOT_PROVOKED = new Set(['PushesRejected', 'PushesGivenUp']);

describe('CloudWatch metrics (EMF) of the local stack', () => {
  it('has datapoints for every documented metric after the walk-through and its faults', async () => {
    // the walk-through: Alice subscribes to Bob and listens on her phone
    expect((await call('POST', '/v1/me/subscriptions', token('alice'), { userIds: ['bob'] })).status).toBe(200);
    const alice = await client('alice', 'phone');
    // Bob comes online on his laptop and gets busy
    const bob = await client('bob', 'laptop');
    await alice.next(isPushOf('bob', (d) => d.status === 'online'));
    expect(await bob.request('setPresence', { status: 'busy', customStatus: 'In a meeting' })).toMatchObject({ type: 'response' });
    await alice.next(isPushOf('bob', (d) => d.status === 'busy'));

    // a bad token: the $connect authorizer refuses it
    await expect(connect(fx.stack, 'not-a-token')).rejects.toMatchObject({ status: 401 });
    // a flood: past the message rate, rate limited
    const flood = await client('flooder');
    const replies = await Promise.all(Array.from({ length: FLOOD }, () => flood.request('getPresence', { userIds: ['bob'] }, 15_000)));
    expect(replies.some((r) => r.type === 'error' && r.error === 'rate_limited')).toBe(true);

    // Alice also holds a connection API Gateway no longer knows (a missed $disconnect): a push to it is 410 Gone
    const store = await import('../../functions/commons/store.ts');
    const { upsertDevice } = await import('../../functions/core/presence.ts');
    await store.mutateUser('alice', (s, now) => upsertDevice(s, 'stale', { kind: 'ws', conn: 'no-such-connection', expiresAt: now + 60_000 }, now));
    // and her phone's pushes are throttled past a post's own retries: re-queued, delivered afterwards
    expect(fx.stack.gateway.throttlePushesTo('alice', 1200)).toBe(1);
    expect((await call('PATCH', '/v1/me/presence', token('bob'), { customStatus: 'back soon' })).status).toBe(200);
    await alice.next(
      isPushOf('bob', (d) => d.customStatus === 'back soon'),
      15_000,
    );

    // Bob leaves: Alice is told he is offline
    await bob.close();
    await alice.next(isPushOf('bob', (d) => d.status === 'offline'));

    // a replayed stream batch: its records are recognised as fanned out already
    const { handler } = await import('../../functions/workers/stream.ts');
    const batch = (await fx.stack.consumer.recentBatches()).find((b) => JSON.stringify(b).includes('USER#bob'));
    expect(batch).toBeDefined();
    expect((await handler(batch as never)).batchItemFailures).toEqual([]);

    // a thermostat's sys presence for one second, then a sweep: it is taken offline
    const sys = token('thermostat-backend', 'presence:sys');
    expect((await call('PUT', '/v1/sys/users/thermostat/presence', sys, { expiresIn: 1 })).status).toBe(200);
    await sleep(1200);
    await fx.stack.sweepNow();

    const documented = documentedMetrics();
    expect([...documented.keys()]).toEqual(
      expect.arrayContaining(['PresenceChanges', 'PushesSent', 'FanoutRecipients', 'FanoutDuration', 'NotifyLag', 'ColdStart']),
    );
    const seen = await eventually(async () => {
      const m = await emf();
      return [...documented.keys()].every((name) => NOT_PROVOKED.has(name) || (m.metrics[name]?.samples ?? 0) > 0) && m;
    }, 10_000).catch(async () => emf());
    for (const [name, unit] of documented) {
      if (NOT_PROVOKED.has(name)) continue;
      expect(seen.metrics[name], name).toMatchObject({ unit });
      expect(seen.metrics[name]?.samples, name).toBeGreaterThan(0);
      // a duration may be 0 ms; every count here happened at least once
      if (unit === 'Count') expect(seen.metrics[name]?.sum, name).toBeGreaterThan(0);
    }
    expect(seen.metrics.NotifyLag?.max).toBeGreaterThan(0);
    // nothing emitted that the docs do not name
    expect(Object.keys(seen.metrics).filter((name) => !documented.has(name))).toEqual([]);
    expect(seen.namespaces).toEqual(['Presence']);
    expect(seen.dimensions.service).toEqual(['presence-local']);
    // the stream consumer's thread is counted too
    expect(seen.byFunction.StreamFanout?.PushesSent).toBeGreaterThan(0);
    expect(seen.byFunction.WsAuthorizer?.AuthorizerRejections).toBeGreaterThan(0);
  }, 60_000);
});
