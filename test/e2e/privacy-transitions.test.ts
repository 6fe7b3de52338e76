/**
 * Privacy when permissions change, seen from outside with real sockets:
 * - a group member who listens to the group and is then removed hears
 *   nothing more of it (neither members added later nor existing ones);
 * - a viewer who may not see a user gets a push only when what they see
 *   changes: force pushes and friendship changes of others leave strangers
 *   exactly as a truly offline user would (no push, the same version on
 *   reads), while the viewer whose permission changed is told.
 */
import { describe, expect, it } from 'vitest';
import { type Client, isPushOf, sleep, token, useStack } from '../support/e2e.ts';

const fx = useStack();
const { call, client } = fx;
const SYS = token('backend', 'presence:sys');
const sys = async (method: string, path: string) => expect((await call(method, path, SYS)).status).toBe(200);

/** no push about `userId` arrives at `c` for a while */
async function quiet(c: Client, userId: string, ms = 800) {
  const before = c.pushes().filter(isPushOf(userId)).length;
  await sleep(ms);
  expect(c.pushes().filter(isPushOf(userId)), `pushes of ${userId}`).toHaveLength(before);
}
const read = async (viewer: string, userId: string) => (await call('GET', `/v1/users/${userId}/presence`, token(viewer))).body;

describe('group listener after removal', () => {
  it('ends at once: the removed member hears neither members added later nor existing ones', async () => {
    for (const m of ['gr-a', 'gr-b']) await sys('PUT', `/v1/sys/groups/gr/members/${m}`);
    const a = await client('gr-a');
    expect(await a.request('listen', { groupId: 'gr' })).toMatchObject({ type: 'response' });
    await call('POST', '/v1/me/heartbeat', token('gr-b'), {});
    await a.next(isPushOf('gr-b'));
    await sys('DELETE', '/v1/sys/groups/gr/members/gr-a');
    await sys('PUT', '/v1/sys/groups/gr/members/gr-c');
    await call('POST', '/v1/me/heartbeat', token('gr-c'), {});
    await call('PATCH', '/v1/me/presence', token('gr-b'), { customStatus: 'after the removal' });
    // a member still listening hears both: the pushes did happen
    const b = await client('gr-b', 'phone');
    await b.request('listen', { groupId: 'gr' });
    await call('PATCH', '/v1/me/presence', token('gr-c'), { customStatus: 'new member speaks' });
    await b.next(isPushOf('gr-c', (d) => d.customStatus === 'new member speaks'));
    await quiet(a, 'gr-c');
    expect(a.pushes().filter(isPushOf('gr-b', (d) => d.customStatus === 'after the removal'))).toEqual([]);
  });
});

describe('hidden viewers', () => {
  it('a user hidden from everyone (nobody) force-pushes: strangers and friends get nothing, their reads do not change', async () => {
    await sys('PUT', '/v1/sys/users/hv-o/friends/hv-f');
    for (const v of ['hv-s', 'hv-f']) await call('POST', '/v1/me/subscriptions', token(v), { userIds: ['hv-o'] });
    const s = await client('hv-s');
    const f = await client('hv-f');
    const self = await client('hv-o', 'laptop');
    await call('PATCH', '/v1/me/presence', token('hv-o'), { visibility: 'nobody' });
    await s.next(isPushOf('hv-o', (d) => d.status === 'offline'));
    await f.next(isPushOf('hv-o', (d) => d.status === 'offline'));
    const seen = { s: await read('hv-s', 'hv-o'), f: await read('hv-f', 'hv-o') };
    for (let i = 0; i < 3; i++) expect((await call('POST', '/v1/me/presence/push', token('hv-o'))).status).toBe(200);
    // the user sees their own new version
    expect(await self.request('forcePush')).toMatchObject({ type: 'response', data: { version: seen.s.version + 4 } });
    await quiet(s, 'hv-o');
    await quiet(f, 'hv-o', 0);
    expect(await read('hv-s', 'hv-o')).toEqual(seen.s);
    expect(await read('hv-f', 'hv-o')).toEqual(seen.f);
  });

  it('friendship changes of a friends-only user tell the viewer concerned and nobody else', async () => {
    for (const v of ['fc-s', 'fc-x', 'fc-f']) await call('POST', '/v1/me/subscriptions', token(v), { userIds: ['fc-o'] });
    await sys('PUT', '/v1/sys/users/fc-o/friends/fc-f');
    const s = await client('fc-s');
    const x = await client('fc-x');
    const f = await client('fc-f');
    await call('POST', '/v1/me/heartbeat', token('fc-o'), {});
    await call('PATCH', '/v1/me/presence', token('fc-o'), { visibility: 'friends' });
    await s.next(isPushOf('fc-o', (d) => d.status === 'offline'));
    await x.next(isPushOf('fc-o', (d) => d.status === 'offline'));
    const strangerView = await read('fc-s', 'fc-o');

    // x becomes a friend: x gains sight; the stranger and the other friend see nothing new
    const fBefore = f.pushes().filter(isPushOf('fc-o')).length;
    await sys('PUT', '/v1/sys/users/fc-o/friends/fc-x');
    const gained = await x.next(isPushOf('fc-o', (d) => d.status === 'online'));
    // x is unfriended: x is told fc-o is offline, with a newer version than the real one it saw
    await sys('DELETE', '/v1/sys/users/fc-o/friends/fc-x');
    const lost = await x.next(
      isPushOf('fc-o', (d) => d.status === 'offline' && d.version > gained.data.version),
      5000,
      x.messages.length - 1,
    );
    expect(lost.data).toMatchObject({ devices: [], customStatus: null, activity: null });
    // re-adding an existing friendship changes nothing, so tells nobody
    await sys('PUT', '/v1/sys/users/fc-o/friends/fc-f');
    await quiet(s, 'fc-o');
    expect(f.pushes().filter(isPushOf('fc-o'))).toHaveLength(fBefore);
    expect(await read('fc-s', 'fc-o')).toEqual(strangerView);
  });
});
