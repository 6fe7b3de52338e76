/** The store against DynamoDB Local: access patterns, request budgets, concurrency. */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ddb, dynamodb } from '../../functions/commons/clients.ts';
import * as ops from '../../functions/commons/operations.ts';
import * as store from '../../functions/commons/store.ts';
import { GONE_RETENTION_MS, upsertDevice } from '../../functions/core/presence.ts';
import { countRequests, createTables } from '../support/dynamo.ts';

const requests = countRequests(dynamodb);
let n = 0;
const user = (name: string) => `${name}-${++n}`;

beforeAll(createTables);
beforeEach(() => requests.reset());

describe('user state', () => {
  it('reads an unknown user as offline without writing anything', async () => {
    const s = await store.getUserState(user('ghost'));
    expect(s.version).toBe(0);
    expect(requests.counts).toEqual({ GetItem: 1 });
  });

  it('setting the same profile again writes nothing, whatever order the stored map comes back in', async () => {
    const u = user('profile');
    const set = await ops.sysSetProfile(u, { name: 'Ada', pic: 'https://cdn.example.com/a.png' });
    expect(set.version).toBe(1);
    // DynamoDB does not promise a map's key order: a stored {pic, name} reads as {name, pic}
    const item = { pk: `USER#${u}`, sk: 'STATE', profile: { pic: 'https://cdn.example.com/a.png', name: 'Ada' } };
    expect(JSON.stringify(store.stateFromItem(item, u).profile)).toBe('{"name":"Ada","pic":"https://cdn.example.com/a.png"}');
    requests.reset();
    expect((await ops.sysSetProfile(u, { pic: 'https://cdn.example.com/a.png', name: 'Ada' })).version).toBe(1);
    expect(requests.counts).toEqual({ GetItem: 1 });
  });

  it('connect is one read and one write; a heartbeat is ONE write and no read', async () => {
    const u = user('hb');
    await ops.connectDevice(u, 'web', 'conn-1');
    expect(requests.counts).toEqual({ GetItem: 1, PutItem: 1 });
    requests.reset();
    await ops.touchConnection({ userId: u, device: 'web', connectionId: 'conn-1' });
    expect(requests.counts).toEqual({ UpdateItem: 1 });
    const s = await store.getUserState(u);
    expect(s.version).toBe(1); // the heartbeat did not change what subscribers see
  });

  it('counts every message of two connections that share one device, in the one write, and leaves the device with the newer one', async () => {
    const u = user('hb2');
    await ops.connectDevice(u, 'web', 'conn-1');
    await ops.connectDevice(u, 'web', 'conn-2');
    requests.reset();
    const first = await ops.touchConnection({ userId: u, device: 'web', connectionId: 'conn-1' });
    const second = await ops.touchConnection({ userId: u, device: 'web', connectionId: 'conn-1' });
    expect(requests.counts).toEqual({ UpdateItem: 2 });
    expect([first.messagesInWindow, second.messagesInWindow]).toEqual([1, 2]);
    expect((await ops.touchConnection({ userId: u, device: 'web', connectionId: 'conn-2' })).messagesInWindow).toBe(1);
    expect((await store.getUserState(u)).devices.web?.c).toBe('conn-2');
  });

  it('counts a message on the full path too (its device had expired), and re-adds the device', async () => {
    const u = user('hb3');
    await ops.connectDevice(u, 'web', 'conn-1');
    await ops.touchConnection({ userId: u, device: 'web', connectionId: 'conn-1' });
    // the device expired (as if no message came for the whole timeout)
    await store.mutateUser(u, (s) => ({ ...s, devices: { web: { ...(s.devices.web as NonNullable<(typeof s.devices)['web']>), e: Date.now() - 1 } } }));
    requests.reset();
    const t = await ops.touchConnection({ userId: u, device: 'web', connectionId: 'conn-1' });
    expect(requests.counts).toEqual({ UpdateItem: 1, GetItem: 1, PutItem: 1 });
    expect(t.messagesInWindow).toBe(2);
    const s = await store.getUserState(u);
    expect(s.devices.web?.e).toBeGreaterThan(Date.now());
    expect(s.devices.web?.c).toBe('conn-1');
  });

  it("counts a connection's messages per rate window in the same single write", async () => {
    const u = user('rate');
    await ops.connectDevice(u, 'web', 'c1');
    const exp = Date.now() + 60_000;
    const touch = (window: number) => store.touchDevice(u, 'web', exp, Date.now(), { id: 'c1', window });
    expect((await touch(7))?.messagesInWindow).toBe(1);
    expect((await touch(7))?.messagesInWindow).toBe(2);
    expect((await touch(7))?.messagesInWindow).toBe(3);
    expect((await touch(8))?.messagesInWindow).toBe(1);
    expect((await touch(10))?.messagesInWindow).toBe(1);
    const conn = (await store.getUserState(u)).conns.c1 as unknown as Record<string, unknown>;
    expect(Object.keys(conn).filter((k) => /^m\d+$/.test(k))).toEqual(['m10']); // older windows are removed
  });

  it('an HTTP heartbeat of a new device brings the user online (visible change)', async () => {
    const u = user('http');
    const r = await ops.heartbeat(u, 'http', 'http');
    expect(Date.parse(r.expiresAt)).toBeGreaterThan(Date.now());
    const s = await store.getUserState(u);
    expect(s.version).toBe(1);
    expect(Object.keys(s.devices)).toEqual(['http']);
  });

  it('disconnect of a superseded connection leaves the device alone', async () => {
    const u = user('dc');
    await ops.connectDevice(u, 'web', 'old');
    await ops.connectDevice(u, 'web', 'new');
    await ops.disconnect(u, 'old');
    expect(Object.keys((await store.getUserState(u)).devices)).toEqual(['web']);
    await ops.disconnect(u, 'new');
    expect((await store.getUserState(u)).devices).toEqual({});
  });

  it('disconnect takes the device offline even when the user has spent their change budget', async () => {
    const u = user('dc-budget');
    await ops.connectDevice(u, 'web', 'c1');
    // spend the budget: the next visible change of this user is refused with 429
    for (let i = 0; ; i++) {
      try {
        await ops.updatePresence(u, { customStatus: `s${i}` });
      } catch (err) {
        expect((err as { code?: string }).code).toBe('rate_limited');
        break;
      }
    }
    expect(Object.keys((await store.getUserState(u)).devices)).toEqual(['web']);
    await ops.disconnect(u, 'c1');
    const s = await store.getUserState(u);
    expect(s.devices).toEqual({});
    expect(s.conns).toEqual({});
  });

  it('loses no update when many writers change one user at once', async () => {
    const u = user('race');
    const devices = Array.from({ length: 20 }, (_, i) => `d${i}`);
    await Promise.all(devices.map((d) => store.mutateUser(u, (s, now) => upsertDevice(s, d, { kind: 'http', expiresAt: now + 60_000 }, now))));
    const s = await store.getUserState(u);
    expect(Object.keys(s.devices).sort()).toEqual([...devices].sort());
    expect(s.version).toBe(20);
    expect(s.rev).toBe(20);
  });

  it('batch-reads 250 users in 3 BatchGetItem calls, in request order', async () => {
    const ids = Array.from({ length: 250 }, (_, i) => `batch-${i}`);
    const states = await store.getUserStates(ids);
    expect(states.size).toBe(250);
    expect(requests.counts).toEqual({ BatchGetItem: 3 });
  });
});

describe('devices that went offline lately (`gone`, read by the Agora facade only)', () => {
  const stored = async (u: string) =>
    (await ddb.get({ TableName: process.env.PRESENCE_TABLE, Key: { pk: `USER#${u}`, sk: 'STATE' }, ConsistentRead: true })).Item ?? {};

  it('are written by the write that takes the device away (no request more), read by the same batch read, dropped when the device returns', async () => {
    const u = user('gone');
    await ops.connectDevice(u, 'web_1', 'conn-g1');
    await ops.connectDevice(u, 'android', 'conn-g2');
    requests.reset();
    await ops.disconnect(u, 'conn-g1');
    // the state's read and write; the rest is the connection's listeners
    expect(requests.counts).toMatchObject({ GetItem: 1, PutItem: 1 });
    const item = await stored(u);
    expect(Object.keys(item.gone ?? {})).toEqual(['web_1']);
    expect(item.version).toBe(3);
    requests.reset();
    const [viewed] = await ops.presenceWithOfflineFor('someone-else', [u]);
    expect(requests.counts).toEqual({ BatchGetItem: 1 });
    expect(viewed?.presence.devices.map((d) => d.device)).toEqual(['android']);
    expect(viewed?.offlineDevices).toEqual(['web_1']);
    // our API's presence never shows them
    expect(JSON.stringify((await ops.presenceFor('someone-else', [u]))[0])).not.toContain('web_1');
    await ops.connectDevice(u, 'web_1', 'conn-g3');
    expect(await stored(u)).not.toHaveProperty('gone');
  });

  it('past the retention they are dropped by a write that happens anyway, quietly (no version, no push); never a write of their own', async () => {
    const u = user('gone-old');
    const t0 = Date.now();
    await store.mutateUser(u, (s, now) => upsertDevice(s, 'web', { kind: 'http', expiresAt: now + 60_000 }, now), { clock: () => t0 });
    await ops.deleteDevice(u, 'web');
    const before = await stored(u);
    expect(Object.keys(before.gone ?? {})).toEqual(['web']);
    const later = () => Date.now() + GONE_RETENTION_MS + 1000;
    requests.reset();
    const unchanged = await store.mutateUser(u, (s) => s, { clock: later });
    expect(unchanged.written).toBe(false);
    expect(requests.counts).toEqual({ GetItem: 1 });
    // the sweeper's forced write (it records the next due time) drops them
    const forced = await store.mutateUser(u, (s) => s, { clock: later, force: true });
    expect(forced).toMatchObject({ written: true, visibleChange: false });
    const after = await stored(u);
    expect(after).not.toHaveProperty('gone');
    expect(after.quiet).toBe(true);
    expect(after.version).toBe(before.version);
  });

  it('read in name order whatever order the stored map comes back in', () => {
    const item = { pk: 'USER#x', sk: 'STATE', gone: { web_2: 2, android: 1, ios: 3 } };
    expect(JSON.stringify(store.stateFromItem(item, 'x').gone)).toBe('{"android":1,"ios":3,"web_2":2}');
    expect(store.stateFromItem({ pk: 'USER#x', sk: 'STATE' }, 'x')).not.toHaveProperty('gone');
  });
});

describe('sweeper', () => {
  it('finds due users with a Query on the sweep index (never a Scan) and expires them', async () => {
    const u = user('sweep');
    const t0 = Date.now();
    await store.mutateUser(u, (s, now) => upsertDevice(s, 'iot', { kind: 'sys', expiresAt: now + 50 }, now));
    const before = await store.getUserState(u);
    await new Promise((r) => setTimeout(r, 80));
    requests.reset();
    const counts = await ops.sweep();
    expect(requests.counts.Scan).toBeUndefined();
    expect(requests.counts.Query).toBe(2 * store.SWEEP_SHARDS); // due users + expired subscriptions
    expect(counts.devicesExpired).toBeGreaterThanOrEqual(1);
    expect(counts.usersMarkedOffline).toBeGreaterThanOrEqual(1);
    const after = await store.getUserState(u);
    expect(after.devices).toEqual({});
    expect(after.version).toBe(before.version + 1);
    expect(after.lastSeen).toBeGreaterThanOrEqual(t0);
    // nothing is due any more for this user
    const due = await store.dueForSweep(Date.now());
    expect(due).not.toContain(u);
  });

  it('re-arms a user whose heartbeat moved the expiry, without a visible change', async () => {
    const u = user('rearm');
    // one clock for the write and the heartbeat, so a slow machine cannot let the device expire between them
    const t0 = Date.now();
    await store.mutateUser(u, (s, now) => upsertDevice(s, 'web', { kind: 'http', expiresAt: now + 30 }, now), { clock: () => t0 });
    const v = (await store.getUserState(u)).version;
    expect(await store.touchDevice(u, 'web', t0 + 60_000, t0)).not.toBeNull();
    // the sweep index still says t0 + 30: wait until that is past
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + 50 - Date.now())));
    await ops.sweep();
    const s = await store.getUserState(u);
    expect(Object.keys(s.devices)).toEqual(['web']);
    expect(s.version).toBe(v);
    expect(await store.dueForSweep(Date.now())).not.toContain(u);
  });
});

describe('subscriptions', () => {
  it('subscribes, renews, pages with a total and ignores expired ones', async () => {
    const me = user('sub');
    const targets = Array.from({ length: 7 }, (_, i) => `t${i}`);
    const now = Date.now();
    await store.subscribe(me, targets, now + 60_000, now);
    await store.subscribe(me, ['t0'], now + 120_000, now); // renew
    await store.subscribe(me, ['expired'], now + 20, now);
    await new Promise((r) => setTimeout(r, 40));
    const p1 = await store.listSubscriptions(me, 3, null, Date.now());
    expect(p1.total).toBe(7);
    expect(p1.subscriptions.map((s) => s.userId)).toEqual(['t0', 't1', 't2']);
    expect(p1.subscriptions[0]?.expiresAt).toBe(now + 120_000);
    const p2 = await store.listSubscriptions(me, 3, p1.nextCursor, Date.now());
    const p3 = await store.listSubscriptions(me, 3, p2.nextCursor, Date.now());
    expect([...p2.subscriptions, ...p3.subscriptions].map((s) => s.userId)).toEqual(['t3', 't4', 't5', 't6']);
    expect(p3.nextCursor).toBeNull();
    expect((await store.watchersOf('expired', Date.now())).users).toEqual([]);
    expect((await store.watchersOf('t3', Date.now())).users).toEqual([me]);
    await store.unsubscribe(me, ['t3']);
    expect((await store.watchersOf('t3', Date.now())).users).toEqual([]);
  });
});

describe('expired subscriptions', () => {
  it('are deleted by the sweep (Query on the expiry index, conditional deletes), renewed ones survive', async () => {
    const me = user('subexp');
    const now = Date.now();
    await store.subscribe(me, ['gone-1', 'gone-2', 'renewed'], now + 30, now);
    await new Promise((r) => setTimeout(r, 60));
    await store.subscribe(me, ['renewed'], Date.now() + 60_000, Date.now());
    requests.reset();
    const deleted = await store.deleteExpiredSubscriptions(Date.now());
    expect(deleted).toBeGreaterThanOrEqual(2);
    expect(requests.counts.Scan).toBeUndefined();
    expect(requests.counts.Query).toBe(store.SWEEP_SHARDS);
    const left = await store.allSubscriptions(me, 0);
    expect(left.map((s) => s.userId)).toEqual(['renewed']);
  });
});
