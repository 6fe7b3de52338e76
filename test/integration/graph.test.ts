/**
 * The graph access patterns against DynamoDB Local: friendships (both
 * directions), group memberships (per group, paged, and per user, read with
 * the friends in one Query), listeners per connection (userIds and groups,
 * removed with the connection), and the watchers of a user. Each is a Query
 * or a Get/Batch call on a key, never a Scan.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dynamodb } from '../../functions/commons/clients.ts';
import * as store from '../../functions/commons/store.ts';
import { countRequests, createTables } from '../support/dynamo.ts';

const requests = countRequests(dynamodb);
beforeAll(createTables);
beforeEach(() => requests.reset());

describe('friends and groups', () => {
  it('stores friendship in both directions and reads friends and groups in one Query', async () => {
    const now = Date.now();
    expect(await store.changeFriendship('g-ann', 'g-bob', true, () => false)).toBe(true);
    expect(await store.changeFriendship('g-bob', 'g-ann', true, () => false)).toBe(false); // already friends: nothing to do
    await store.addGroupMember('club', 'g-ann', now);
    await store.addGroupMember('team', 'g-ann', now);
    requests.reset();
    const rel = await store.relationsOf('g-ann');
    expect(requests.counts).toEqual({ Query: 1 });
    expect([...rel.friends]).toEqual(['g-bob']);
    expect(rel.groups.sort()).toEqual(['club', 'team']);
    expect([...(await store.friendsOf('g-bob'))]).toEqual(['g-ann']);
    expect(await store.changeFriendship('g-bob', 'g-ann', false, () => false)).toBe(true);
    expect((await store.relationsOf('g-ann')).friends.size).toBe(0);
    await store.removeGroupMember('team', 'g-ann');
    expect((await store.relationsOf('g-ann')).groups).toEqual(['club']);
    expect(await store.isGroupMember('team', 'g-ann')).toBe(false);
    expect(await store.isGroupMember('club', 'g-ann')).toBe(true);
  });

  it('changes a friendship and the version it tells of in one transaction: racing or retried calls bump exactly once', async () => {
    const ops = await import('../../functions/commons/operations.ts');
    await store.mutateUser('g-vis', (s) => ({ ...s, visibility: 'friends' }));
    const v0 = (await store.getUserState('g-vis')).version;
    await Promise.all(Array.from({ length: 5 }, () => ops.addFriends('g-vis', 'g-x')));
    const added = await store.getUserState('g-vis');
    expect(added.version).toBe(v0 + 1);
    expect([...(await store.friendsOf('g-x'))]).toEqual(['g-vis']);
    await ops.addFriends('g-vis', 'g-x'); // a retry after success: nothing to do
    expect((await store.getUserState('g-vis')).version).toBe(v0 + 1);
    await Promise.all(Array.from({ length: 5 }, () => ops.removeFriends('g-x', 'g-vis')));
    expect((await store.getUserState('g-vis')).version).toBe(v0 + 2);
    expect((await store.friendsOf('g-vis')).size).toBe(0);
    // the other user shows everyone everything: no version of theirs is spent on it
    expect((await store.getUserState('g-x')).version).toBe(0);
  });

  it("pages a group's members in userId order", async () => {
    for (const m of ['m1', 'm2', 'm3', 'm4', 'm5']) await store.addGroupMember('paged', m, Date.now());
    const p1 = await store.groupMembers('paged', 2, null);
    const p2 = await store.groupMembers('paged', 2, p1.next);
    const p3 = await store.groupMembers('paged', 2, p2.next);
    expect([p1.members, p2.members, p3.members]).toEqual([['m1', 'm2'], ['m3', 'm4'], ['m5']]);
    expect(p3.next).toBeNull();
  });
});

describe('listeners', () => {
  it("make a connection's user a watcher, count toward the cap, and go with the connection", async () => {
    const exp = Date.now() + 60_000;
    await store.addUserListeners('l-ann', 'conn-1', ['l-x', 'l-y'], exp);
    await store.addGroupListener('l-ann', 'conn-1', 'club', exp);
    await store.subscribe('l-sub', ['l-x'], exp, Date.now());
    expect((await store.watchersOf('l-x', Date.now())).users.sort()).toEqual(['l-ann', 'l-sub']);
    expect(await store.groupListenersOf('club', Date.now())).toEqual(['l-ann']);
    expect(await store.countListeners('conn-1')).toBe(3);
    requests.reset();
    expect(await store.removeListeners('conn-1')).toBe(3);
    expect(requests.counts).toEqual({ Query: 1, BatchWriteItem: 1 });
    expect((await store.watchersOf('l-x', Date.now())).users).toEqual(['l-sub']);
    expect(await store.groupListenersOf('club', Date.now())).toEqual([]);
  });

  it('ignores expired listeners at read', async () => {
    await store.addUserListeners('l-old', 'conn-2', ['l-z'], Date.now() + 20);
    await new Promise((r) => setTimeout(r, 40));
    expect((await store.watchersOf('l-z', Date.now())).users).toEqual([]);
  });

  it('bidirectional: the targets, a group and the friends hear the caller, from the same Query of its watchers; no target counts twice', async () => {
    const exp = Date.now() + 60_000;
    requests.reset();
    await store.addUserListeners('b-ann', 'conn-b', ['b-x', 'b-y', 'b-ann'], exp, true);
    await store.addGroupListener('b-ann', 'conn-b', 'b-club', exp, true);
    await store.addFriendsHearing('b-ann', 'conn-b', exp);
    // each listen is still one write request
    expect(requests.counts).toEqual({ BatchWriteItem: 2, PutItem: 1 });
    // the listeners as before: b-ann watches its targets (itself included, as a plain listen does)
    expect((await store.watchersOf('b-x', Date.now())).users).toEqual(['b-ann']);
    expect(await store.groupListenersOf('b-club', Date.now())).toEqual(['b-ann']);
    // and the reverse: who hears b-ann (the caller is not registered to hear itself twice)
    requests.reset();
    const heard = await store.watchersOf('b-ann', Date.now());
    expect(requests.counts).toEqual({ Query: 1 });
    expect({ ...heard, users: heard.users.sort() }).toEqual({ users: ['b-ann', 'b-x', 'b-y'], groups: ['b-club'], friends: true });
    // the cap counts targets: 3 users and 1 group
    expect(await store.countListeners('conn-b')).toBe(4);
    // a membership that ends takes the group's hearing with the listener
    await store.removeGroupListenersOf('b-club', 'b-ann');
    expect((await store.watchersOf('b-ann', Date.now())).groups).toEqual([]);
    expect(await store.countListeners('conn-b')).toBe(3);
    // stopListening: everything goes, the reverse registrations too; the count is of targets
    expect(await store.removeListeners('conn-b')).toBe(3);
    expect(await store.watchersOf('b-ann', Date.now())).toEqual({ users: [], groups: [], friends: false });
  });

  it('a gone connection: its listeners go, its reverse registrations last until heardUntil (same two requests)', async () => {
    const exp = Date.now() + 60_000;
    await store.addUserListeners('g-ann', 'conn-g', ['g-x'], exp, true);
    await store.addFriendsHearing('g-ann', 'conn-g', exp);
    const heardUntil = Date.now() + 300;
    requests.reset();
    expect(await store.removeListeners('conn-g', heardUntil)).toBe(1);
    expect(requests.counts).toEqual({ Query: 1, BatchWriteItem: 1 });
    expect((await store.watchersOf('g-x', Date.now())).users).toEqual([]);
    expect(await store.watchersOf('g-ann', Date.now())).toEqual({ users: ['g-x'], groups: [], friends: true });
    expect(await store.countListeners('conn-g')).toBe(0);
    await new Promise((r) => setTimeout(r, 350));
    expect(await store.watchersOf('g-ann', Date.now())).toEqual({ users: [], groups: [], friends: false });
  });

  it('used no Scan in this file', () => {
    expect(Object.keys(requests.totals).length).toBeGreaterThan(3);
    expect(requests.totals.Scan).toBeUndefined();
  });
});
