/**
 * Friends, groups, listeners, force push and the privacy matrix through the
 * local stack with real WebSocket clients. Friendships and memberships are
 * written the way an app's back end does it: through the sys routes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.ts';
import { countRequests } from '../support/dynamo.ts';
import { api, type Client, connect, isPushOf, sleep, startTestStack, token } from '../support/e2e.ts';

let stack: LocalStack;
let call: ReturnType<typeof api>;
let requests: ReturnType<typeof countRequests>;
const open: Client[] = [];
const SYS = token('backend', 'presence:sys');

const client = async (user: string, device?: string) => {
  const c = await connect(stack, token(user), device);
  open.push(c);
  return c;
};
const sys = async (method: string, path: string, body?: unknown) => {
  const res = await call(method, path, SYS, body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};
/** no push about `userId` arrives at `c` for a while */
async function quiet(c: Client, userId: string, ms = 600) {
  const before = c.pushes().filter(isPushOf(userId)).length;
  await sleep(ms);
  expect(c.pushes().filter(isPushOf(userId)).length).toBe(before);
}

beforeAll(async () => {
  // no background sweep in this file: the admin cleanup test expects to be the one that sweeps
  stack = await startTestStack({ sweepIntervalSeconds: 3600 });
  call = api(stack);
  const { dynamodb } = await import('../../functions/commons/clients.ts');
  requests = countRequests(dynamodb);
});
afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await stack?.stop();
});

describe('friends and groups (sys routes, user reads)', () => {
  it('makes mutual friends in one call and lists them for both', async () => {
    expect(await sys('PUT', '/v1/sys/users/fr-a/friends/fr-b')).toEqual({ ok: true });
    expect((await call('GET', '/v1/me/friends', token('fr-a'))).body).toEqual({ friends: ['fr-b'] });
    expect((await call('GET', '/v1/me/friends', token('fr-b'))).body).toEqual({ friends: ['fr-a'] });
    await sys('DELETE', '/v1/sys/users/fr-a/friends/fr-b');
    expect((await call('GET', '/v1/me/friends', token('fr-b'))).body).toEqual({ friends: [] });
  });

  it('needs the sys scope and valid ids', async () => {
    expect((await call('PUT', '/v1/sys/users/x/friends/y', token('x'))).status).toBe(403);
    expect((await call('PUT', '/v1/sys/users/x/friends/x', SYS)).status).toBe(400);
    expect((await call('PUT', '/v1/sys/groups/bad%20g/members/x', SYS)).status).toBe(400);
  });

  it('friends presence with and without offline friends', async () => {
    await sys('PUT', '/v1/sys/users/fp-me/friends/fp-on');
    await sys('PUT', '/v1/sys/users/fp-me/friends/fp-off');
    await call('POST', '/v1/me/heartbeat', token('fp-on'), {});
    const online = await call('GET', '/v1/me/friends/presence', token('fp-me'));
    expect(online.body.presence.map((p: any) => p.userId)).toEqual(['fp-on']);
    const all = await call('GET', '/v1/me/friends/presence?includeOffline=true', token('fp-me'));
    expect(all.body.presence.map((p: any) => [p.userId, p.status])).toEqual([
      ['fp-off', 'offline'],
      ['fp-on', 'online'],
    ]);
    expect((await call('GET', '/v1/me/friends/presence?includeOffline=maybe', token('fp-me'))).status).toBe(400);
  });

  it('group presence is for members only, paged with a cursor', async () => {
    for (const m of ['gp-1', 'gp-2', 'gp-3', 'gp-4']) await sys('PUT', `/v1/sys/groups/gp/members/${m}`);
    await call('POST', '/v1/me/heartbeat', token('gp-2'), {});
    const outsider = await call('GET', '/v1/groups/gp/presence', token('gp-x'));
    expect(outsider.status).toBe(403);
    expect(outsider.body).toEqual({ error: 'forbidden', message: expect.any(String) });
    const p1 = await call('GET', '/v1/groups/gp/presence?includeOffline=true&limit=3', token('gp-1'));
    expect(p1.body.presence.map((p: any) => p.userId)).toEqual(['gp-1', 'gp-2', 'gp-3']);
    const p2 = await call('GET', `/v1/groups/gp/presence?includeOffline=true&limit=3&cursor=${p1.body.nextCursor}`, token('gp-1'));
    expect(p2.body).toMatchObject({ presence: [{ userId: 'gp-4' }], nextCursor: null });
    const onlineOnly = await call('GET', '/v1/groups/gp/presence', token('gp-1'));
    expect(onlineOnly.body.presence.map((p: any) => p.userId)).toEqual(['gp-2']);
    await sys('DELETE', '/v1/sys/groups/gp/members/gp-1');
    expect((await call('GET', '/v1/groups/gp/presence', token('gp-1'))).status).toBe(403);
  });
});

describe('listeners', () => {
  it('friends listener: snapshot, pushes, and a friend added later is heard', async () => {
    await sys('PUT', '/v1/sys/users/lf-me/friends/lf-1');
    await call('POST', '/v1/me/heartbeat', token('lf-1'), {});
    const me = await client('lf-me');
    const reply = await me.request('listen', { friends: true });
    expect(reply.data.presence).toEqual([expect.objectContaining({ userId: 'lf-1', status: 'online' })]);
    await call('PATCH', '/v1/me/presence', token('lf-1'), { customStatus: 'hi' });
    await me.next(isPushOf('lf-1', (d) => d.customStatus === 'hi'));
    await sys('PUT', '/v1/sys/users/lf-me/friends/lf-2');
    await call('POST', '/v1/me/heartbeat', token('lf-2'), {});
    await me.next(isPushOf('lf-2', (d) => d.status === 'online'));
    // not a friend: not heard
    await call('POST', '/v1/me/heartbeat', token('lf-stranger'), {});
    await quiet(me, 'lf-stranger');
  });

  it('group listener: members only; a member added later is heard', async () => {
    await sys('PUT', '/v1/sys/groups/lg/members/lg-me');
    await sys('PUT', '/v1/sys/groups/lg/members/lg-1');
    const outsider = await client('lg-out');
    expect(await outsider.request('listen', { groupId: 'lg' })).toMatchObject({ type: 'error', error: 'forbidden' });
    const me = await client('lg-me');
    const reply = await me.request('listen', { groupId: 'lg' });
    expect(reply.data.presence.map((p: any) => p.userId)).toEqual(['lg-1', 'lg-me']);
    await call('POST', '/v1/me/heartbeat', token('lg-1'), {});
    await me.next(isPushOf('lg-1', (d) => d.status === 'online'));
    await sys('PUT', '/v1/sys/groups/lg/members/lg-2');
    await call('POST', '/v1/me/heartbeat', token('lg-2'), {});
    await me.next(isPushOf('lg-2', (d) => d.status === 'online'));
  });

  it('userIds listener until stopListening; listen takes exactly one target', async () => {
    const me = await client('lu-me');
    expect(await me.request('listen', { friends: true, userIds: ['a'] })).toMatchObject({ type: 'error', error: 'bad_request' });
    expect(await me.request('listen', {})).toMatchObject({ type: 'error', error: 'bad_request' });
    const reply = await me.request('listen', { userIds: ['lu-1'] });
    expect(reply.data.presence).toEqual([expect.objectContaining({ userId: 'lu-1', status: 'offline', version: 0 })]);
    await call('POST', '/v1/me/heartbeat', token('lu-1'), {});
    await me.next(isPushOf('lu-1', (d) => d.status === 'online'));
    const stopped = await me.request('stopListening');
    expect(stopped.data.stopped).toBe(1);
    await call('PATCH', '/v1/me/presence', token('lu-1'), { customStatus: 'after stop' });
    await quiet(me, 'lu-1');
  });

  it('caps a connection at 1000 listener targets', async () => {
    const me = await client('lcap-me');
    for (let i = 0; i < 10; i++) {
      const ids = Array.from({ length: 100 }, (_, j) => `lcap-${i}-${j}`);
      expect(await me.request('listen', { userIds: ids }, 15_000)).toMatchObject({ type: 'response' });
    }
    expect(await me.request('listen', { userIds: ['one-too-many'] })).toMatchObject({
      type: 'error',
      error: 'bad_request',
      message: expect.stringContaining('1000'),
    });
    await me.request('stopListening');
    expect(await me.request('listen', { userIds: ['one-too-many'] })).toMatchObject({ type: 'response' });
  }, 60_000);

  it("a connection's listeners end with it", async () => {
    const first = await client('le-me');
    await first.request('listen', { userIds: ['le-1'] });
    await first.request('listen', { friends: true });
    await sys('PUT', '/v1/sys/users/le-me/friends/le-f');
    await first.close();
    const second = await client('le-me', 'other');
    await call('POST', '/v1/me/heartbeat', token('le-1'), {});
    await call('POST', '/v1/me/heartbeat', token('le-f'), {});
    await quiet(second, 'le-1');
    expect(second.pushes().filter(isPushOf('le-f'))).toEqual([]);
  });
});

describe('force push', () => {
  it('pushes the current presence again with a newer version (WS and HTTP)', async () => {
    await call('POST', '/v1/me/subscriptions', token('fp-watch'), { userIds: ['fp-src'] });
    const watcher = await client('fp-watch');
    const src = await client('fp-src');
    const first = await watcher.next(isPushOf('fp-src', (d) => d.status === 'online'));
    const ws = await src.request('forcePush');
    expect(ws.data.version).toBe(first.data.version + 1);
    const again = await watcher.next(isPushOf('fp-src', (d) => d.version === first.data.version + 1));
    // same presence (only time moved: the forcePush message itself was a sign of life)
    const still = (d: any) => ({ ...d, version: 0, lastSeen: 0, devices: d.devices.map((x: any) => ({ ...x, lastSeen: 0 })) });
    expect(still(again.data)).toEqual(still(first.data));
    const http = await call('POST', '/v1/me/presence/push', token('fp-src'));
    expect(http.body.version).toBe(first.data.version + 2);
    await watcher.next(isPushOf('fp-src', (d) => d.version === first.data.version + 2));
  });
});

describe('privacy matrix', () => {
  const O = 'pv-owner';
  const F = 'pv-friend';
  const S = 'pv-stranger';
  const G = 'pv-member';
  const viewers = [O, F, S, G];
  const canSee = (vis: string, viewer: string) => viewer === O || vis === 'everyone' || (vis === 'friends' && viewer === F);
  const ws: Record<string, Client> = {};

  function expectView(p: any, real: boolean, what: string) {
    if (real) expect(p, what).toMatchObject({ userId: O, status: 'busy', customStatus: expect.stringMatching(/^c/), activity: { game: 'go' } });
    else {
      expect(p, what).toMatchObject({ userId: O, status: 'offline', customStatus: null, activity: null, availabilityUntil: null, devices: [] });
    }
  }

  /** every read path a viewer has to O's presence */
  async function readPaths(viewer: string): Promise<[string, any][]> {
    const t = token(viewer);
    const paths: [string, any][] = [
      ['GET user', (await call('GET', `/v1/users/${O}/presence`, t)).body],
      ['GET batch', (await call('GET', `/v1/presence?userIds=${O}`, t)).body.presence[0]],
      ['WS getPresence', (await ws[viewer]?.request('getPresence', { userIds: [O] }))?.data.presence[0]],
      ['subscribe snapshot', (await call('POST', '/v1/me/subscriptions', t, { userIds: [O] })).body.presence[0]],
      ['WS subscribe snapshot', (await ws[viewer]?.request('subscribe', { userIds: [O] }))?.data.presence[0]],
      ['listen snapshot', (await ws[viewer]?.request('listen', { userIds: [O] }))?.data.presence[0]],
    ];
    const group = (await call('GET', '/v1/groups/pv/presence?includeOffline=true', t)).body.presence;
    if (group) paths.push(['group presence', group.find((p: any) => p.userId === O)]);
    if (viewer === F) {
      paths.push(['friends presence', (await call('GET', '/v1/me/friends/presence?includeOffline=true', t)).body.presence[0]]);
      paths.push(['friends listen snapshot', (await ws[F]?.request('listen', { friends: true }))?.data.presence[0]]);
    }
    return paths;
  }

  async function checkReads(vis: string) {
    for (const v of viewers) for (const [what, p] of await readPaths(v)) expectView(p, canSee(vis, v), `${vis}: ${v} via ${what}`);
  }

  it('applies visibility on every read path and on pushes', async () => {
    await sys('PUT', `/v1/sys/users/${O}/friends/${F}`);
    for (const m of [O, F, G]) await sys('PUT', `/v1/sys/groups/pv/members/${m}`);
    for (const v of viewers) ws[v] = await client(v);
    for (const v of [F, S, G]) await call('POST', '/v1/me/subscriptions', token(v), { userIds: [O] });
    await ws[O]?.request('setPresence', { status: 'busy', customStatus: 'c1', activity: { game: 'go' } });
    for (const v of [F, S, G]) await ws[v]?.next(isPushOf(O, (d) => d.customStatus === 'c1'));
    await checkReads('everyone');
    const realLastSeen = (await call('GET', '/v1/me/presence', token(O))).body.lastSeen;

    // friends only: strangers and plain group members are told O went "offline"
    await call('PATCH', '/v1/me/presence', token(O), { visibility: 'friends' });
    for (const v of [S, G]) {
      const hidden = await ws[v]?.next(isPushOf(O, (d) => d.status === 'offline'));
      expectView(hidden.data, false, `push to ${v}`);
      expect(Date.parse(hidden.data.lastSeen)).toBeLessThanOrEqual(Date.parse(realLastSeen));
    }
    await ws[O]?.request('setPresence', { customStatus: 'c2' });
    await ws[F]?.next(isPushOf(O, (d) => d.customStatus === 'c2'));
    for (const v of [S, G]) await quiet(ws[v] as Client, O);
    await checkReads('friends');

    // a stranger befriended later sees the real presence, and loses it when unfriended
    await sys('PUT', `/v1/sys/users/${O}/friends/${S}`);
    await ws[S]?.next(isPushOf(O, (d) => d.customStatus === 'c2'));
    await sys('DELETE', `/v1/sys/users/${O}/friends/${S}`);
    const lost = await ws[S]?.next(
      isPushOf(O, (d) => d.status === 'offline' && d.version > 0),
      5000,
      ws[S]?.messages.length,
    );
    expectView(lost.data, false, 'push after unfriending');

    // nobody: even the friend is told O went offline; O still sees themself
    await call('PATCH', '/v1/me/presence', token(O), { visibility: 'nobody' });
    await ws[F]?.next(isPushOf(O, (d) => d.status === 'offline'));
    await ws[O]?.request('setPresence', { customStatus: 'c3' });
    for (const v of [F, S, G]) await quiet(ws[v] as Client, O);
    await checkReads('nobody');
    const own = await call('GET', '/v1/me/presence', token(O));
    expect(own.body).toMatchObject({ status: 'busy', customStatus: 'c3', visibility: 'nobody' });

    // visible again: everyone gets the real presence
    await call('PATCH', '/v1/me/presence', token(O), { visibility: 'everyone' });
    for (const v of [F, S, G]) await ws[v]?.next(isPushOf(O, (d) => d.customStatus === 'c3'));
    await checkReads('everyone');
  });
});

describe('admin cleanup', () => {
  it('runs a sweep now and reports what it did', async () => {
    await sys('PUT', '/v1/sys/users/cl-dev/presence', { expiresIn: 1 });
    await call('POST', '/v1/me/subscriptions', token('cl-watch'), { userIds: ['cl-dev'], expiresIn: 1 });
    await sleep(1200);
    const res = await call('POST', '/v1/admin/cleanup-presence', token('ops', 'presence:admin'));
    expect(res.status).toBe(200);
    expect(res.body.devicesExpired).toBeGreaterThanOrEqual(1);
    expect(res.body.usersMarkedOffline).toBeGreaterThanOrEqual(1);
    expect(res.body.subscriptionsExpired).toBeGreaterThanOrEqual(1);
    expect((await call('GET', '/v1/users/cl-dev/presence', token('ops'))).body.status).toBe('offline');
  });
});

describe('access patterns', () => {
  it('no request path of this file used a Scan', () => {
    expect(requests.total()).toBeGreaterThan(100);
    expect(requests.counts.Scan).toBeUndefined();
  });
});
