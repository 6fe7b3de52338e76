/**
 * The core presence loop through the local fx.stack with real WebSocket clients:
 * connect/disconnect as devices, pushes to every connection of every
 * subscriber with strictly increasing versions, heartbeats that push nothing,
 * reads, subscriptions and 410 Gone cleanup.
 */
import { describe, expect, it } from 'vitest';
import { eventually, isPushOf, pushedVersions, sleep, token, useStack } from '../support/e2e.ts';

const fx = useStack();
const { call, client } = fx;

describe('presence loop', () => {
  it("pushes B's changes to every connection of subscriber A, once per change, with increasing versions", async () => {
    const A = 'loop-a';
    const B = 'loop-b';
    const sub = await call('POST', '/v1/me/subscriptions', token(A), { userIds: [B] });
    expect(sub.status).toBe(200);
    expect(sub.body.subscribed.map((s: any) => s.userId)).toEqual([B]);
    expect(sub.body.presence[0]).toMatchObject({ userId: B, status: 'offline', version: 0, lastSeen: null });

    const a1 = await client(A, 'phone');
    const a2 = await client(A, 'laptop');
    const b = await client(B, 'web_1');
    const online = await a1.next(isPushOf(B, (d) => d.status === 'online'));
    expect(online.data.devices).toEqual([{ device: 'web_1', status: 'online', ext: null, call: 'NoCall', lastSeen: expect.any(String) }]);
    expect(typeof online.timestamp).toBe('string');
    await a2.next(isPushOf(B, (d) => d.status === 'online'));

    const set = await b.request('setPresence', { status: 'busy', customStatus: 'In a meeting', ext: 'v2.3' });
    expect(set).toMatchObject({ type: 'response', data: { status: 'busy', customStatus: 'In a meeting' } });
    const busy = await a1.next(isPushOf(B, (d) => d.status === 'busy'));
    expect(busy.data.customStatus).toBe('In a meeting');
    expect(busy.data.devices[0].ext).toBe('v2.3');
    await a2.next(isPushOf(B, (d) => d.status === 'busy'));

    // a heartbeat only moves lastSeen: nothing is pushed
    const before = a1.pushes().length;
    const hb = await b.request('heartbeat');
    expect(hb.data.device).toBe('web_1');
    const httpHb = await call('POST', '/v1/me/heartbeat', token(B), { device: 'web_1' });
    expect(httpHb.status).toBe(200);
    await sleep(600);
    expect(a1.pushes().length).toBe(before);

    await b.close();
    const offline = await a1.next(isPushOf(B, (d) => d.status === 'offline'));
    await a2.next(isPushOf(B, (d) => d.status === 'offline'));
    expect(offline.data.devices).toEqual([]);
    expect(Date.parse(offline.data.lastSeen)).toBeGreaterThan(Date.parse(busy.data.lastSeen) - 1);

    const versions = pushedVersions(a1, B);
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    expect(new Set(versions).size).toBe(versions.length);
    expect(versions.length).toBe(3); // online, busy, offline: one push per change
    expect(pushedVersions(a2, B)).toEqual(versions);
  });

  it('PATCH /v1/me/presence pushes; a manual availability wins over devices until set back to auto', async () => {
    const A = 'patch-a';
    const B = 'patch-b';
    await call('POST', '/v1/me/subscriptions', token(A), { userIds: [B] });
    const a = await client(A);
    await client(B);
    await a.next(isPushOf(B, (d) => d.status === 'online'));
    const until = new Date(Date.now() + 60_000).toISOString();
    const res = await call('PATCH', '/v1/me/presence', token(B), { availability: 'dnd', availabilityUntil: until, activity: { game: 'chess', table: 7 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'dnd',
      availability: 'dnd',
      availabilityUntil: until,
      activity: { game: 'chess', table: 7 },
      visibility: 'everyone',
    });
    const pushed = await a.next(isPushOf(B, (d) => d.status === 'dnd'));
    expect(pushed.data.availabilityUntil).toBe(until);
    expect(pushed.data).not.toHaveProperty('visibility'); // only the owner sees settings
    const back = await call('PATCH', '/v1/me/presence', token(B), { availability: 'auto' });
    expect(back.body).toMatchObject({ status: 'online', availability: 'auto', availabilityUntil: null });
    await a.next(isPushOf(B, (d) => d.status === 'online' && d.version > pushed.data.version));
  });

  it('reads: own, single, batch in request order, WS getPresence, unknown users', async () => {
    const U = 'reader';
    await call('POST', '/v1/me/heartbeat', token('read-x'), {});
    const own = await call('GET', '/v1/me/presence', token(U));
    expect(own.body).toMatchObject({ userId: U, status: 'offline', visibility: 'everyone', availability: 'auto', version: 0 });
    const one = await call('GET', '/v1/users/read-x/presence', token(U));
    expect(one.body).toMatchObject({ userId: 'read-x', status: 'online', devices: [{ device: 'http', status: 'online' }] });
    const batch = await call('GET', '/v1/presence?userIds=zz-unknown,read-x,reader', token(U));
    expect(batch.status).toBe(200);
    expect(batch.body.presence.map((p: any) => [p.userId, p.status])).toEqual([
      ['zz-unknown', 'offline'],
      ['read-x', 'online'],
      ['reader', 'offline'],
    ]);
    expect(batch.body.presence[0]).toMatchObject({ lastSeen: null, version: 0, devices: [] });
    const c = await client(U);
    const ws = await c.request('getPresence', { userIds: ['read-x', 'reader'] });
    expect(ws.data.presence.map((p: any) => p.userId)).toEqual(['read-x', 'reader']);
    expect(ws.data.presence[1].status).toBe('online'); // the caller's own connection
  });

  it('WS subscribe replies with current presence; unsubscribe stops pushes', async () => {
    const A = 'wsub-a';
    const B = 'wsub-b';
    await client(B);
    const a = await client(A);
    const sub = await a.request('subscribe', { userIds: [B], expiresIn: 600 });
    expect(sub.data.subscribed[0].userId).toBe(B);
    expect(Date.parse(sub.data.subscribed[0].expiresAt) - Date.now()).toBeGreaterThan(590_000);
    expect(sub.data.presence[0]).toMatchObject({ userId: B, status: 'online' });
    await call('PATCH', '/v1/me/presence', token(B), { customStatus: 'hello' });
    await a.next(isPushOf(B, (d) => d.customStatus === 'hello'));
    const unsub = await a.request('unsubscribe', { userIds: [B] });
    expect(unsub.type).toBe('response');
    const count = a.pushes().length;
    await call('PATCH', '/v1/me/presence', token(B), { customStatus: 'bye' });
    await sleep(600);
    expect(a.pushes().length).toBe(count);
  });

  it('lists subscriptions in pages with a total and a cursor', async () => {
    const me = 'lister';
    const ids = Array.from({ length: 5 }, (_, i) => `l${i}`);
    await call('POST', '/v1/me/subscriptions', token(me), { userIds: ids, expiresIn: 3600 });
    const p1 = await call('GET', '/v1/me/subscriptions?limit=2', token(me));
    expect(p1.body.total).toBe(5);
    expect(p1.body.subscriptions.map((s: any) => s.userId)).toEqual(['l0', 'l1']);
    const p2 = await call('GET', `/v1/me/subscriptions?limit=2&cursor=${p1.body.nextCursor}`, token(me));
    const p3 = await call('GET', `/v1/me/subscriptions?limit=2&cursor=${p2.body.nextCursor}`, token(me));
    expect(p2.body.subscriptions.map((s: any) => s.userId)).toEqual(['l2', 'l3']);
    expect(p3.body).toMatchObject({ total: 5, subscriptions: [{ userId: 'l4' }], nextCursor: null });
    await call('DELETE', '/v1/me/subscriptions', token(me), { userIds: ['l0', 'l1'] });
    const after = await call('GET', '/v1/me/subscriptions', token(me));
    expect(after.body.total).toBe(3);
  });

  it('removes a connection that answers 410 Gone during fan-out', async () => {
    const store = await import('../../functions/commons/store.ts');
    const { upsertDevice } = await import('../../functions/core/presence.ts');
    const A = 'gone-a';
    const B = 'gone-b';
    await call('POST', '/v1/me/subscriptions', token(A), { userIds: [B] });
    // A has a device whose connection API Gateway no longer knows (a missed $disconnect)
    await store.mutateUser(A, (s, now) => upsertDevice(s, 'stale', { kind: 'ws', conn: 'no-such-connection', expiresAt: now + 60_000 }, now));
    const live = await client(A, 'live');
    await call('POST', '/v1/me/heartbeat', token(B), {});
    await live.next(isPushOf(B, (d) => d.status === 'online'));
    const state = await eventually(async () => {
      const s = await store.getUserState(A);
      return s.devices.stale ? undefined : s;
    });
    expect(Object.keys(state.devices)).toEqual(['live']);
  });
});
