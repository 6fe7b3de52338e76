/**
 * The account-wide online list against DynamoDB Local: the sparse, sharded
 * `byOnlineShard` index is set and cleared by the very write that takes a
 * user online or offline (or hides them), never by a request of its own, and
 * a walk of the list in pages of any size returns every listed user once.
 * This file's tables hold only what its tests write.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ddb, dynamodb } from '../../functions/commons/clients.ts';
import * as ops from '../../functions/commons/operations.ts';
import * as store from '../../functions/commons/store.ts';
import { countRequests, createTables } from '../support/dynamo.ts';

const requests = countRequests(dynamodb);
let n = 0;
const user = (name: string) => `${name}-${++n}`;

/** the state item's index key (undefined: not in the online list) */
const onlineShardOf = async (userId: string): Promise<string | undefined> =>
  (await ddb.get({ TableName: process.env.PRESENCE_TABLE, Key: { pk: `USER#${userId}`, sk: 'STATE' }, ConsistentRead: true })).Item?.onlineShard;

/** every page of the list, as the route walks it */
async function walk(limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let pages = 0;
  let from: store.OnlinePosition | null = { shard: 0, after: null };
  while (from) {
    const page = await store.onlineUsers(limit, from);
    expect(page.userIds.length).toBeLessThanOrEqual(limit);
    ids.push(...page.userIds);
    pages++;
    from = page.next;
  }
  return { ids, pages };
}

beforeAll(createTables);
beforeEach(() => requests.reset());

describe('the online list index', () => {
  it('is set by the connect write and cleared by the disconnect write: no request more than before', async () => {
    const u = user('on');
    await ops.connectDevice(u, 'web', 'c-on');
    expect(requests.counts).toEqual({ GetItem: 1, PutItem: 1 });
    expect(await onlineShardOf(u)).toMatch(/^O#\d+$/);
    requests.reset();
    // a heartbeat changes no index key: one write, the key stays
    await ops.touchConnection({ userId: u, device: 'web', connectionId: 'c-on' });
    expect(requests.counts).toEqual({ UpdateItem: 1 });
    expect(await onlineShardOf(u)).toMatch(/^O#\d+$/);
    requests.reset();
    await ops.disconnect(u, 'c-on');
    expect(requests.counts.PutItem).toBe(1);
    expect(await onlineShardOf(u)).toBeUndefined();
  });

  it('the same user always lands in the same shard, and users spread over several shards', async () => {
    const users = Array.from({ length: 24 }, () => user('spread'));
    await Promise.all(users.map((u) => ops.heartbeat(u, 'http', 'http')));
    const shards = await Promise.all(users.map(onlineShardOf));
    expect(new Set(shards).size).toBeGreaterThan(4);
    for (const s of shards) expect(Number(s?.slice(2))).toBeLessThan(store.ONLINE_SHARDS);
    await ops.heartbeat(users[0] as string, 'http', 'http');
    expect(await onlineShardOf(users[0] as string)).toBe(shards[0]);
    await Promise.all(users.map((u) => ops.deleteDevice(u, 'http')));
    expect((await Promise.all(users.map(onlineShardOf))).filter(Boolean)).toEqual([]);
  });

  it('a user visible to friends or nobody is not listed, and is again when visible to everyone (the same write each time)', async () => {
    const u = user('vis');
    await ops.heartbeat(u, 'http', 'http');
    expect(await onlineShardOf(u)).toBeDefined();
    for (const visibility of ['friends', 'nobody'] as const) {
      await ops.updatePresence(u, { visibility });
      expect(await onlineShardOf(u), visibility).toBeUndefined();
    }
    requests.reset();
    await ops.updatePresence(u, { visibility: 'everyone' });
    expect(requests.counts).toEqual({ GetItem: 1, PutItem: 1 });
    expect(await onlineShardOf(u)).toBeDefined();
    await ops.deleteDevice(u, 'http');
  });

  it('the sweep that takes an expired user offline clears it in its write', async () => {
    const u = user('swept');
    await ops.sysInitialize(u, { expiresIn: 1 });
    expect(await onlineShardOf(u)).toBeDefined();
    await new Promise((r) => setTimeout(r, 1100));
    // between the expiry and the sweep the key is still there, but the user reads offline (the list leaves them out)
    expect((await ops.onlinePresence(500, null)).presence.map((p) => p.userId)).not.toContain(u);
    const counts = await ops.sweep();
    expect(counts.usersMarkedOffline).toBeGreaterThanOrEqual(1);
    expect(await onlineShardOf(u)).toBeUndefined();
  });

  it('a walk in pages of any size returns every listed user exactly once, shard after shard; then nothing is left', async () => {
    const users = Array.from({ length: 23 }, () => user('walk'));
    await Promise.all(users.map((u) => ops.heartbeat(u, 'http', 'http')));
    for (const limit of [1, 5, 22, 23, 500]) {
      const { ids, pages } = await walk(limit);
      expect([...ids].sort(), `limit ${limit}`).toEqual([...users].sort());
      expect(new Set(ids).size).toBe(ids.length);
      expect(pages).toBeGreaterThanOrEqual(Math.ceil(users.length / limit));
    }
    // every page is a few Queries and a batch read of the states; never a Scan
    requests.reset();
    const page = await ops.onlinePresence(500, null);
    expect(page.presence.map((p) => p.userId).sort()).toEqual([...users].sort());
    expect(page.nextCursor).toBeNull();
    expect(requests.counts).toEqual({ Query: store.ONLINE_SHARDS, BatchGetItem: 1 });
    await Promise.all(users.map((u) => ops.deleteDevice(u, 'http')));
    expect((await walk(500)).ids).toEqual([]);
  });
});
