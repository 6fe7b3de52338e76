/**
 * The subscription cap (3000 per user): past it, longer new subscriptions
 * replace the shortest existing ones (evicted), shorter ones are rejected;
 * evicted subscriptions deliver nothing. The caps hold under concurrency:
 * parallel subscribe calls of one user, parallel listens on one connection.
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

  it('holds 3000 when 20 subscribe calls of 100 new users each race from 2950', async () => {
    const me = token('racer');
    const held = ids('h', 2950);
    for (let i = 0; i < held.length; i += 100) await call('POST', '/v1/me/subscriptions', me, { userIds: held.slice(i, i + 100), expiresIn: 5000 });
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, k) => call('POST', '/v1/me/subscriptions', me, { userIds: ids(`r${String(k).padStart(2, '0')}-`, 100), expiresIn: 1000 })),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
    // the 50 free slots are taken, and past them a later (so longer) one may only replace an earlier one
    const net = replies.reduce((n, r) => n + r.body.subscribed.length - r.body.evicted.length, 0);
    expect(net).toBe(50);
    expect((await call('GET', '/v1/me/subscriptions?limit=1', me)).body.total).toBe(3000);
  }, 120_000);

  it('holds 1000 listener targets when listens race on one connection', async () => {
    const ws = await connect(fx.stack, token('lrace'));
    for (let i = 0; i < 9; i++) expect(await ws.request('listen', { userIds: ids(`l${i}-`, 100) }, 15_000)).toMatchObject({ type: 'response' });
    expect(await ws.request('listen', { userIds: ids('l9-', 50) }, 15_000)).toMatchObject({ type: 'response' });
    // 950 held: 20 listens of 100 new targets at once, only room for none of them in full
    const replies = await Promise.all(Array.from({ length: 20 }, (_, k) => ws.request('listen', { userIds: ids(`x${k}-`, 100) }, 30_000)));
    expect(replies.every((r) => r.type === 'error' && r.error === 'bad_request')).toBe(true);
    const small = await Promise.all(Array.from({ length: 20 }, (_, k) => ws.request('listen', { userIds: ids(`y${k}-`, 5) }, 30_000)));
    expect(small.filter((r) => r.type === 'response')).toHaveLength(10); // 950 + 10 × 5 = 1000
    const { countListeners } = await import('../../functions/commons/store.ts');
    const conn = [...fx.stack.gateway.connections.values()].find((c) => c.authorizer.userId === 'lrace');
    expect(await countListeners(conn?.id as string)).toBe(1000);
    await ws.close();
  }, 120_000);
});
