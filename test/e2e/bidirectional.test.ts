/**
 * Bidirectional listeners (brainCloud's RegisterListenersFor* with
 * bidirectional = true) through the local stack with real WebSocket clients:
 * a `listen` with `bidirectional: true` also makes its targets hear the
 * caller, pushed to their open connections, while the caller's connection
 * lives or until stopListening; privacy applies to what they hear; the
 * fan-out finds them with the requests it always makes.
 */
import { describe, expect, it } from 'vitest';
import { type Client, isPushOf, sleep, token, useStack } from '../support/e2e.ts';

const fx = useStack({ sweepIntervalSeconds: 3600 });
const { call } = fx;
const SYS = token('backend', 'presence:sys');

const sys = async (method: string, path: string) => {
  const res = await call(method, path, SYS);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
};
/** no push about `userId` arrives at `c` for a while */
async function quiet(c: Client, userId: string, ms = 700) {
  const before = c.pushes().filter(isPushOf(userId)).length;
  await sleep(ms);
  expect(c.pushes().filter(isPushOf(userId)).length).toBe(before);
}
const status = (c: Client, text: string) => c.request('setPresence', { customStatus: text });
const requests = async (fn: string) => (await fx.stack.metrics.snapshot()).requests[fn] ?? {};

describe('bidirectional listen', () => {
  it('userIds: the targets hear the caller on every open connection (a plain listen does not), and the caller hears them', async () => {
    const me = await fx.client('bu-me');
    const [t1a, t1b, plain] = [await fx.client('bu-1', 'phone'), await fx.client('bu-1', 'web'), await fx.client('bu-plain')];
    const reply = await me.request('listen', { userIds: ['bu-1', 'bu-me'], bidirectional: true });
    expect(reply.data.presence.map((p: any) => p.userId)).toEqual(['bu-1', 'bu-me']);
    expect((await me.request('listen', { userIds: ['bu-plain'] })).type).toBe('response');
    await status(me, 'heard');
    for (const c of [t1a, t1b]) await c.next(isPushOf('bu-me', (d) => d.customStatus === 'heard'));
    await quiet(plain, 'bu-me');
    // forward, as any listen: the caller hears its targets
    await status(t1a, 'back');
    await me.next(isPushOf('bu-1', (d) => d.customStatus === 'back'));
    // once, not twice, for the caller listening to itself
    expect(me.pushes().filter(isPushOf('bu-me', (d) => d.customStatus === 'heard'))).toHaveLength(1);
  });

  it('ends with stopListening', async () => {
    const me = await fx.client('bs-me');
    const t = await fx.client('bs-1');
    await me.request('listen', { userIds: ['bs-1'], bidirectional: true });
    await status(me, 'one');
    await t.next(isPushOf('bs-me', (d) => d.customStatus === 'one'));
    expect((await me.request('stopListening')).data).toEqual({ stopped: 1 });
    await status(me, 'two');
    await quiet(t, 'bs-me');
  });

  it('a closing connection: its targets are told the caller went offline (the change the close made reaches them)', async () => {
    const me = await fx.client('bc-me');
    const t = await fx.client('bc-1');
    await me.request('listen', { userIds: ['bc-1'], bidirectional: true });
    await status(me, 'here');
    await t.next(isPushOf('bc-me', (d) => d.customStatus === 'here'));
    await me.close();
    const gone = await t.next(isPushOf('bc-me', (d) => d.status === 'offline'));
    expect(gone.data).toMatchObject({ devices: [], customStatus: 'here' });
  });

  it('privacy: a target sees the caller only as the caller’s visibility lets it (friends see, strangers get one “offline” and then nothing)', async () => {
    await sys('PUT', '/v1/sys/users/bp-me/friends/bp-friend');
    const me = await fx.client('bp-me');
    const [friend, stranger] = [await fx.client('bp-friend'), await fx.client('bp-stranger')];
    await me.request('listen', { userIds: ['bp-friend', 'bp-stranger'], bidirectional: true });
    await status(me, 'visible');
    for (const c of [friend, stranger]) await c.next(isPushOf('bp-me', (d) => d.customStatus === 'visible'));
    await me.request('setPresence', { visibility: 'friends' });
    // the stranger loses sight: told "offline" once, exactly what an offline user shows
    const hidden = await stranger.next(isPushOf('bp-me', (d) => d.status === 'offline'));
    expect(hidden.data).toMatchObject({ customStatus: null, activity: null, devices: [] });
    await status(me, 'friends only');
    await friend.next(isPushOf('bp-me', (d) => d.customStatus === 'friends only'));
    await quiet(stranger, 'bp-me');
    expect(stranger.pushes().some(isPushOf('bp-me', (d) => d.customStatus === 'friends only'))).toBe(false);
  });

  it('friends: every friend hears the caller, without a friends listener of theirs; one who is no friend does not', async () => {
    await sys('PUT', '/v1/sys/users/bf-me/friends/bf-1');
    await sys('PUT', '/v1/sys/users/bf-me/friends/bf-2');
    const me = await fx.client('bf-me');
    const [f1, f2, other] = [await fx.client('bf-1'), await fx.client('bf-2'), await fx.client('bf-other')];
    // without bidirectional, friends hear the caller only with a friends listener of their own (the control)
    await me.request('listen', { friends: true });
    await status(me, 'not yet');
    await quiet(f1, 'bf-me');
    const reply = await me.request('listen', { friends: true, bidirectional: true });
    expect(reply.data.presence.map((p: any) => p.userId)).toEqual(['bf-1', 'bf-2']);
    await status(me, 'to friends');
    for (const c of [f1, f2]) await c.next(isPushOf('bf-me', (d) => d.customStatus === 'to friends'));
    await quiet(other, 'bf-me');
    // a friend added later hears too (the friendship is read at each change)
    await sys('PUT', '/v1/sys/users/bf-me/friends/bf-other');
    await status(me, 'and you');
    await other.next(isPushOf('bf-me', (d) => d.customStatus === 'and you'));
  });

  it('group: every member hears the caller while the caller is a member; the membership’s end ends it', async () => {
    for (const u of ['bg-me', 'bg-1', 'bg-2']) await sys('PUT', `/v1/sys/groups/bg/members/${u}`);
    const me = await fx.client('bg-me');
    const [m1, m2, outsider] = [await fx.client('bg-1'), await fx.client('bg-2'), await fx.client('bg-out')];
    expect(await outsider.request('listen', { groupId: 'bg', bidirectional: true })).toMatchObject({ type: 'error', error: 'forbidden' });
    const reply = await me.request('listen', { groupId: 'bg', bidirectional: true });
    expect(reply.data.presence.map((p: any) => p.userId)).toEqual(['bg-1', 'bg-2', 'bg-me']);
    await status(me, 'to the group');
    for (const c of [m1, m2]) await c.next(isPushOf('bg-me', (d) => d.customStatus === 'to the group'));
    await quiet(outsider, 'bg-me');
    // a member added later hears too
    await sys('PUT', '/v1/sys/groups/bg/members/bg-out');
    await status(me, 'newcomer');
    await outsider.next(isPushOf('bg-me', (d) => d.customStatus === 'newcomer'));
    await sys('DELETE', '/v1/sys/groups/bg/members/bg-me');
    await status(me, 'gone from the group');
    await quiet(m1, 'bg-me');
    expect(m1.pushes().some(isPushOf('bg-me', (d) => d.customStatus === 'gone from the group'))).toBe(false);
  });

  it('within the listener cap: the reverse registrations add no target (1000 still fit)', async () => {
    const me = await fx.client('bcap-me');
    for (let i = 0; i < 10; i++) {
      const ids = Array.from({ length: 100 }, (_, j) => `bcap-${i}-${j}`);
      expect(await me.request('listen', { userIds: ids, bidirectional: true }, 20_000), `batch ${i}`).toMatchObject({ type: 'response' });
    }
    expect(await me.request('listen', { userIds: ['one-too-many'], bidirectional: true })).toMatchObject({
      type: 'error',
      error: 'bad_request',
      message: expect.stringContaining('1000'),
    });
    expect((await me.request('stopListening', {}, 20_000)).data).toEqual({ stopped: 1000 });
  }, 120_000);

  it('the fan-out of a caller with bidirectional listens costs the requests every fan-out costs', async () => {
    const me = await fx.client('bb-me');
    const targets = await Promise.all(['bb-1', 'bb-2', 'bb-3'].map((u) => fx.client(u)));
    await me.request('listen', { userIds: ['bb-1', 'bb-2', 'bb-3'], bidirectional: true });
    await status(me, 'warm');
    for (const t of targets) await t.next(isPushOf('bb-me', (d) => d.customStatus === 'warm'));
    await sleep(300);
    await fx.stack.metrics.reset();
    await status(me, 'counted');
    for (const t of targets) await t.next(isPushOf('bb-me', (d) => d.customStatus === 'counted'));
    await sleep(200);
    expect(await requests('StreamFanout')).toEqual({ Query: 2, UpdateItem: 1, BatchGetItem: 1 });
  });

  it('bad input gets an error reply and keeps the connection; nothing is registered', async () => {
    const me = await fx.client('bx-me');
    const t = await fx.client('bx-1');
    for (const msg of [
      { userIds: ['bx-1'], bidirectional: 'yes' },
      { userIds: ['bx-1'], bidirectional: 1 },
      { userIds: ['bx-1'], bidirectional: null },
      { bidirectional: true },
      { friends: true, userIds: ['bx-1'], bidirectional: true },
      { groupId: 'bad group!', bidirectional: true },
    ]) {
      const r = await me.request('listen', msg);
      expect(r, JSON.stringify(msg)).toMatchObject({ type: 'error', error: 'bad_request' });
    }
    expect((await me.request('stopListening')).data).toEqual({ stopped: 0 });
    await status(me, 'nobody hears');
    await quiet(t, 'bx-me');
    // `false` is a plain listen
    expect(await me.request('listen', { userIds: ['bx-1'], bidirectional: false })).toMatchObject({ type: 'response' });
    await status(me, 'still nobody');
    await quiet(t, 'bx-me');
  });
});
