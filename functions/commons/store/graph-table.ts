/**
 * The Graph table: who watches whom (subscriptions, listeners, friendships,
 * group memberships), the record of what was fanned out, and the scratch
 * items kept there (the liveness wheel of the `gateway` heartbeat mode, the
 * caps' leases). Key shapes: ./keys.ts.
 */

import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { ApiError } from '../../core/errors.ts';
import { finalize, pruneGone, sweepState, type UserState } from '../../core/presence.ts';
import { LIMITS } from '../../core/schemas.ts';
import { planSubscriptions, type SubscriptionPlan } from '../../core/subscriptions.ts';
import { ddb } from '../clients.ts';
import { count, MetricName } from '../metrics.ts';
import { GRAPH, keys, PRESENCE, PUSHED_SK, REVERSE_SK, SUB_EXPIRY_INDEX, SWEEP_SHARDS, sweepShard, WATCH_GSK, WATCH_INDEX } from './keys.ts';
import { legacyPushedVersion } from './presence-table.ts';
import { backoff, batchGetAll, batchWrite, countQuery, MAX_MUTATE_ATTEMPTS, queryAll, type WriteRequest } from './requests.ts';
import { stateFromItem, toItem } from './state-item.ts';

// ---------- what was fanned out ----------
/**
 * Records that `version` was fanned out (after the fan-out finished, so a
 * crash or timeout mid-way leaves it unrecorded and the retry delivers it
 * again: at least once). Never moves backwards. Kept in the Graph table under
 * the user's relations, so the fan-out's `relationsOf` Query reads it too.
 */
export async function markPushed(userId: string, version: number): Promise<void> {
  try {
    await ddb.update({
      TableName: GRAPH,
      Key: keys.pushed(userId),
      UpdateExpression: 'SET v = :v',
      ConditionExpression: 'attribute_not_exists(v) OR v < :v',
      ExpressionAttributeValues: { ':v': version },
    });
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
}

/** The last version of `userId` whose fan-out finished (0 if none). */
export async function pushedVersion(userId: string): Promise<number> {
  const out = await ddb.get({ TableName: GRAPH, Key: keys.pushed(userId), ConsistentRead: true });
  return out.Item ? Number(out.Item.v ?? 0) : legacyPushedVersion(userId);
}

// ---------- liveness checks of the `gateway` heartbeat mode (functions/commons/liveness.ts) ----------
/** A WebSocket device whose connection the sweeper asks API Gateway about when its bucket comes. */
export interface LivenessEntry {
  userId: string;
  device: string;
  conn: string;
  /** when to look: the connection's last activity + timeout (epoch ms) */
  due: number;
  /** the device was taken offline for silence; look again each round in case the client speaks again */
  stale?: boolean;
}
/** entries per item: 50–80 bytes each, so an item of 200 is at most ~16 KB (test/integration/liveness-wheel.test.ts) */
const LIVENESS_ENTRIES_PER_ITEM = 200;

/**
 * Writes entries into their shard's time buckets, all the entries of one
 * bucket in as few items as fit (BatchWriteItem): a reschedule costs a
 * fraction of a write unit, not a write per device. Items expire by TTL
 * (free) a day after their bucket: they are read once, never deleted.
 */
export async function scheduleLiveness(entries: readonly (LivenessEntry & { bucket: number })[], bucketMs: number): Promise<void> {
  const groups = new Map<string, { shard: string; bucket: number; w: (string | number)[][] }>();
  for (const e of entries) {
    const shard = sweepShard(e.userId);
    const key = `${shard}|${e.bucket}`;
    const g = groups.get(key) ?? { shard, bucket: e.bucket, w: [] };
    g.w.push(e.stale ? [e.userId, e.device, e.conn, e.due, 1] : [e.userId, e.device, e.conn, e.due]);
    groups.set(key, g);
  }
  const puts: WriteRequest[] = [];
  for (const g of groups.values())
    for (let i = 0; i < g.w.length; i += LIVENESS_ENTRIES_PER_ITEM)
      puts.push({
        PutRequest: {
          Item: {
            pk: keys.livenessBucket(g.shard, g.bucket),
            sk: randomUUID(),
            w: g.w.slice(i, i + LIVENESS_ENTRIES_PER_ITEM),
            ttl: Math.ceil(((g.bucket + 1) * bucketMs) / 1000) + 86_400,
          },
        },
      });
  await batchWrite(GRAPH, puts);
}

/** The entries of one bucket of one shard (one Query, paged). */
export async function livenessEntries(shard: string, bucket: number): Promise<LivenessEntry[]> {
  const items = await queryAll({
    TableName: GRAPH,
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': keys.livenessBucket(shard, bucket) },
    ConsistentRead: true,
  });
  return items.flatMap((item) =>
    ((item.w as [string, string, string, number, number?][] | undefined) ?? []).map(([userId, device, conn, due, stale]) => ({
      userId,
      device,
      conn,
      due: Number(due),
      ...(stale ? { stale: true } : {}),
    })),
  );
}

/** The last bucket (of every shard) the sweeper has looked at; null: never. */
export async function livenessCursor(): Promise<number | null> {
  const out = await ddb.get({ TableName: GRAPH, Key: keys.livenessCursor, ConsistentRead: true });
  return typeof out.Item?.b === 'number' ? out.Item.b : null;
}

export async function setLivenessCursor(bucket: number): Promise<void> {
  await ddb.put({ TableName: GRAPH, Item: { ...keys.livenessCursor, b: bucket } });
}

// ---------- subscriptions ----------
/**
 * Deletes up to `max` expired subscriptions (found per shard with a Query on
 * `bySubscriptionExpiry`); each delete is conditional on still being expired,
 * so a renewal racing with the sweep wins. Returns how many were deleted.
 */
export async function deleteExpiredSubscriptions(now: number, max = 1000): Promise<number> {
  const shards = Array.from({ length: SWEEP_SHARDS }, (_, i) => `S#${i}`);
  const pages = await Promise.all(
    shards.map((shard) =>
      ddb.query({
        TableName: GRAPH,
        IndexName: SUB_EXPIRY_INDEX,
        KeyConditionExpression: 'xshard = :s AND #exp <= :now',
        ExpressionAttributeNames: { '#exp': 'exp' },
        ExpressionAttributeValues: { ':s': shard, ':now': now },
        Limit: Math.ceil(max / SWEEP_SHARDS),
      }),
    ),
  );
  const keysToDelete = pages.flatMap((p) => p.Items ?? []).map((i) => ({ pk: i.pk, sk: i.sk }));
  let deleted = 0;
  await Promise.all(
    keysToDelete.map(async (Key) => {
      try {
        await ddb.delete({
          TableName: GRAPH,
          Key,
          ConditionExpression: '#exp <= :now',
          ExpressionAttributeNames: { '#exp': 'exp' },
          ExpressionAttributeValues: { ':now': now },
        });
        deleted++;
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
    }),
  );
  return deleted;
}

export interface Subscription {
  userId: string;
  expiresAt: number;
}

/** Every unexpired subscription of a user (≤ 3000 items: one or two pages), strongly consistent (the cap counts them). */
export async function allSubscriptions(subscriber: string, now: number): Promise<Subscription[]> {
  const items = await queryAll({
    TableName: GRAPH,
    ConsistentRead: true,
    KeyConditionExpression: 'pk = :pk',
    FilterExpression: '#exp > :now',
    ProjectionExpression: 'sk, #exp',
    ExpressionAttributeNames: { '#exp': 'exp' },
    ExpressionAttributeValues: { ':pk': keys.subscriptionsOf(subscriber), ':now': now },
  });
  return items.map((i) => ({ userId: String(i.sk).slice(2), expiresAt: Number(i.exp) }));
}

/** Subscribes with the contract's cap rule; writes only what the plan says. */
export async function subscribe(subscriber: string, targets: readonly string[], expiresAt: number, now: number): Promise<SubscriptionPlan> {
  const existing = await allSubscriptions(subscriber, now);
  const plan = planSubscriptions(existing, targets, expiresAt, LIMITS.subscriptionsPerUser);
  const writes = [
    ...plan.subscribed.map((s) => ({
      PutRequest: {
        Item: {
          ...keys.subscription(subscriber, s.userId),
          gpk: keys.watchersOf(s.userId),
          gsk: WATCH_GSK.subscriber(subscriber),
          xshard: sweepShard(subscriber),
          exp: s.expiresAt,
          ttl: Math.ceil(s.expiresAt / 1000),
        },
      },
    })),
    ...plan.evicted.map((t) => ({ DeleteRequest: { Key: keys.subscription(subscriber, t) } })),
  ];
  await batchWrite(GRAPH, writes);
  return plan;
}

export async function unsubscribe(subscriber: string, targets: readonly string[]): Promise<void> {
  await batchWrite(
    GRAPH,
    targets.map((t) => ({ DeleteRequest: { Key: keys.subscription(subscriber, t) } })),
  );
}

export interface SubscriptionPage {
  total: number;
  subscriptions: Subscription[];
  /** the last userId of this page, when more may follow */
  nextCursor: string | null;
}

/** A page of unexpired subscriptions in userId order, after `afterUserId`, plus the total. */
export async function listSubscriptions(subscriber: string, limit: number, afterUserId: string | null, now: number): Promise<SubscriptionPage> {
  const pk = keys.subscriptionsOf(subscriber);
  const page: Subscription[] = [];
  let start: Record<string, unknown> | undefined = afterUserId ? keys.subscription(subscriber, afterUserId) : undefined;
  let more = true;
  while (page.length < limit && more) {
    const out = await ddb.query({
      TableName: GRAPH,
      KeyConditionExpression: 'pk = :pk',
      FilterExpression: '#exp > :now',
      ProjectionExpression: 'sk, #exp',
      ExpressionAttributeNames: { '#exp': 'exp' },
      ExpressionAttributeValues: { ':pk': pk, ':now': now },
      Limit: limit - page.length,
      ExclusiveStartKey: start,
    });
    for (const i of out.Items ?? []) page.push({ userId: String(i.sk).slice(2), expiresAt: Number(i.exp) });
    start = out.LastEvaluatedKey;
    more = start !== undefined;
  }
  const total = await countQuery({
    TableName: GRAPH,
    KeyConditionExpression: 'pk = :pk',
    FilterExpression: '#exp > :now',
    ExpressionAttributeNames: { '#exp': 'exp' },
    ExpressionAttributeValues: { ':pk': pk, ':now': now },
  });
  const last = page[page.length - 1];
  return { total, subscriptions: page, nextCursor: more && last ? last.userId : null };
}

/** Who hears `target` through the `byWatchedUser` partition W#<target>. */
export interface Watchers {
  /** users holding an unexpired subscription or userIds listener on it, or registered by a bidirectional userIds listen of its */
  users: string[];
  /** groups whose members hear it (a bidirectional group listen of its; the fan-out checks it is still a member) */
  groups: string[];
  /** its friends hear it (a bidirectional friends listen of its) */
  friends: boolean;
}

/**
 * Who watches `target` (the fan-out audience, before friends and group
 * listeners): one Query, whatever kinds of entries it finds.
 */
export async function watchersOf(target: string, now: number): Promise<Watchers> {
  const items = await unexpiredOnWatchIndex(keys.watchersOf(target), now);
  const users = new Set<string>();
  const groups = new Set<string>();
  let friends = false;
  for (const i of items) {
    const gsk = String(i.gsk);
    if (gsk.startsWith(WATCH_GSK.subscriber(''))) users.add(gsk.slice(2));
    else if (gsk.startsWith(WATCH_GSK.members(''))) groups.add(gsk.slice(2));
    else if (gsk.startsWith(WATCH_GSK.friends(''))) friends = true;
    else users.add(String(i.u));
  }
  return { users: [...users], groups: [...groups], friends };
}

/** The unexpired items of one partition of the `byWatchedUser` index. */
function unexpiredOnWatchIndex(gpk: string, now: number): Promise<Record<string, unknown>[]> {
  return queryAll({
    TableName: GRAPH,
    IndexName: WATCH_INDEX,
    KeyConditionExpression: 'gpk = :g',
    FilterExpression: '#exp > :now',
    ExpressionAttributeNames: { '#exp': 'exp' },
    ExpressionAttributeValues: { ':g': gpk, ':now': now },
  });
}

// ---------- listeners (per WebSocket connection) ----------
const listenerItem = (conn: string, userId: string, sk: string, gpk: string, gsk: string, exp: number) => ({
  pk: keys.listenersOfConn(conn),
  sk,
  gpk,
  gsk,
  u: userId,
  exp,
  ttl: Math.ceil(exp / 1000),
});

/**
 * userIds listeners of `userId`'s connection on `targets`; `bidirectional`:
 * also registers each target (but the user) to hear the user while the
 * connection lives, in the same BatchWriteItem.
 */
export async function addUserListeners(userId: string, conn: string, targets: readonly string[], exp: number, bidirectional = false): Promise<void> {
  const heard = bidirectional ? targets.filter((t) => t !== userId) : [];
  await batchWrite(GRAPH, [
    ...targets.map((t) => ({ PutRequest: { Item: listenerItem(conn, userId, `T#${t}`, keys.watchersOf(t), WATCH_GSK.listener(conn), exp) } })),
    ...heard.map((t) => ({ PutRequest: { Item: listenerItem(conn, t, keys.heardByUser(t), keys.watchersOf(userId), WATCH_GSK.listener(conn), exp) } })),
  ]);
}

/** A group listener; `bidirectional`: the group's members also hear the user while the connection lives (one BatchWriteItem). */
export async function addGroupListener(userId: string, conn: string, groupId: string, exp: number, bidirectional = false): Promise<void> {
  const listener = listenerItem(conn, userId, `G#${groupId}`, keys.groupListeners(groupId), `C#${conn}`, exp);
  if (!bidirectional) {
    await ddb.put({ TableName: GRAPH, Item: listener });
    return;
  }
  const heard = listenerItem(conn, userId, keys.heardByGroup(groupId), keys.watchersOf(userId), WATCH_GSK.members(groupId), exp);
  await batchWrite(GRAPH, [{ PutRequest: { Item: listener } }, { PutRequest: { Item: heard } }]);
}

/** A bidirectional friends listen's reverse registration: the user's friends hear the user while the connection lives. */
export async function addFriendsHearing(userId: string, conn: string, exp: number): Promise<void> {
  await ddb.put({ TableName: GRAPH, Item: listenerItem(conn, userId, keys.heardByFriends, keys.watchersOf(userId), WATCH_GSK.friends(conn), exp) });
}

/**
 * How many listener targets (users and groups) a connection holds, its
 * bidirectional listens' reverse registrations not counted (strongly
 * consistent: the cap counts them).
 */
export async function countListeners(conn: string): Promise<number> {
  return countQuery({
    TableName: GRAPH,
    ConsistentRead: true,
    KeyConditionExpression: 'pk = :pk AND sk < :r',
    ExpressionAttributeValues: { ':pk': keys.listenersOfConn(conn), ':r': REVERSE_SK },
  });
}

/**
 * Ends every listener of a connection (and every reverse registration of its
 * bidirectional listens); returns how many listener targets it held. With
 * `heardUntil` (the connection is gone), the reverse registrations are not
 * deleted but expire then (epoch ms), in the same BatchWriteItem: the change
 * that takes the connection's device away is fanned out after this, and those
 * who heard the user must still hear that one.
 */
export async function removeListeners(conn: string, heardUntil?: number): Promise<number> {
  const items = await queryAll({
    TableName: GRAPH,
    KeyConditionExpression: 'pk = :pk',
    ...(heardUntil === undefined ? { ProjectionExpression: 'pk, sk' } : {}),
    ExpressionAttributeValues: { ':pk': keys.listenersOfConn(conn) },
  });
  const reverse = (i: Record<string, unknown>) => String(i.sk).startsWith(REVERSE_SK);
  const until = (i: Record<string, unknown>) => Math.min(Number(i.exp), heardUntil ?? 0);
  await batchWrite(
    GRAPH,
    items.map((i) =>
      heardUntil !== undefined && reverse(i)
        ? { PutRequest: { Item: { ...i, exp: until(i), ttl: Math.ceil(until(i) / 1000) } } }
        : { DeleteRequest: { Key: { pk: i.pk, sk: i.sk } } },
    ),
  );
  return items.filter((i) => !reverse(i)).length;
}

/**
 * A connection hears every change in a push format (a compatibility facade's
 * everyone-broadcast): one listener item of the connection, so it goes with
 * the connection's other listeners (removeListeners) and expires with it.
 */
export async function addBroadcastListener(userId: string, conn: string, format: string, exp: number): Promise<void> {
  await ddb.put({ TableName: GRAPH, Item: listenerItem(conn, userId, `B#${format}`, keys.broadcastListeners(format), `C#${conn}`, exp) });
}

/** How many connections hear every change in `format` (their items on the index, expired ones too until TTL takes them). */
export async function countBroadcastListeners(format: string): Promise<number> {
  return countQuery({
    TableName: GRAPH,
    IndexName: WATCH_INDEX,
    KeyConditionExpression: 'gpk = :g',
    ExpressionAttributeValues: { ':g': keys.broadcastListeners(format) },
  });
}

/** The connections that hear every change in `format`, with their users (unexpired; at most `limit`). */
export async function broadcastListeners(format: string, now: number, limit: number): Promise<{ userId: string; conn: string }[]> {
  const items = await unexpiredOnWatchIndex(keys.broadcastListeners(format), now);
  return items.slice(0, limit).map((i) => ({ userId: String(i.u), conn: String(i.gsk).slice(2) }));
}

/** Users with an unexpired listener on a group. */
export async function groupListenersOf(groupId: string, now: number): Promise<string[]> {
  const items = await unexpiredOnWatchIndex(keys.groupListeners(groupId), now);
  return [...new Set(items.map((i) => String(i.u)))];
}

/** Deletes a user's listeners on a group, and the group's members hearing the user (their membership ended). */
export async function removeGroupListenersOf(groupId: string, userId: string): Promise<void> {
  const [listeners, heard] = await Promise.all([
    queryAll({
      TableName: GRAPH,
      IndexName: WATCH_INDEX,
      KeyConditionExpression: 'gpk = :g',
      FilterExpression: 'u = :u',
      ExpressionAttributeValues: { ':g': keys.groupListeners(groupId), ':u': userId },
    }),
    queryAll({
      TableName: GRAPH,
      IndexName: WATCH_INDEX,
      KeyConditionExpression: 'gpk = :g AND gsk = :m',
      ExpressionAttributeValues: { ':g': keys.watchersOf(userId), ':m': WATCH_GSK.members(groupId) },
    }),
  ]);
  const items = [...listeners, ...heard];
  await batchWrite(
    GRAPH,
    items.map((i) => ({ DeleteRequest: { Key: { pk: i.pk, sk: i.sk } } })),
  );
}

/** The key `memberships` answers with for a (group, user) pair. */
export const membershipKey = (groupId: string, userId: string) => `${groupId}/${userId}`;

/** Which of these (group, user) pairs are memberships now (⌈n/100⌉ BatchGetItem), as membershipKey strings. */
export async function memberships(pairs: readonly { groupId: string; userId: string }[]): Promise<Set<string>> {
  const keyList = [...new Map(pairs.map((p) => [membershipKey(p.groupId, p.userId), keys.member(p.groupId, p.userId)])).values()];
  const items = await batchGetAll(GRAPH, keyList, { ProjectionExpression: 'pk, sk', ConsistentRead: true });
  return new Set(items.map((i) => membershipKey(String(i.pk).slice('GROUP#'.length), String(i.sk).slice('MEMBER#'.length))));
}

// ---------- friends ----------
/** The user's friends (friendship is stored in both directions, so this is mutual). */
export async function friendsOf(userId: string): Promise<Set<string>> {
  const items = await queryAll({
    TableName: GRAPH,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :f)',
    ExpressionAttributeValues: { ':pk': keys.friend(userId, '').pk, ':f': 'FRIEND#' },
    ProjectionExpression: 'sk',
  });
  return new Set(items.map((i) => String(i.sk).slice('FRIEND#'.length)));
}

/**
 * Adds or ends a mutual friendship (both directions) and, in the same
 * transaction, gives each of the two users for whom `bumps` says so a new
 * version recording whose friendship changed (`rc`, read by the fan-out), so
 * the viewer whose permission changed is told. All or nothing: a retry after
 * any failure finds either everything done (and changes nothing) or nothing
 * done. Returns whether the friendship changed.
 */
export async function changeFriendship(a: string, b: string, add: boolean, bumps: (s: UserState) => boolean): Promise<boolean> {
  for (let attempt = 0; attempt < MAX_MUTATE_ATTEMPTS; attempt++) {
    if (attempt > 0) await backoff(attempt);
    const now = Date.now();
    const pairs = [
      [a, b],
      [b, a],
    ] as const;
    const [links, states] = await Promise.all([
      Promise.all(pairs.map(([u, f]) => ddb.get({ TableName: GRAPH, Key: keys.friend(u, f), ConsistentRead: true }))),
      Promise.all(pairs.map(([u]) => ddb.get({ TableName: PRESENCE, Key: keys.userState(u), ConsistentRead: true }))),
    ]);
    const present = links.map((l) => l.Item !== undefined);
    if (present.every((p) => p === add)) return false;
    const items: NonNullable<TransactWriteCommandInput['TransactItems']> = pairs.map(([u, f], i) =>
      add
        ? { Put: { TableName: GRAPH, Item: { ...keys.friend(u, f), since: now }, ...(present[i] ? {} : { ConditionExpression: 'attribute_not_exists(pk)' }) } }
        : { Delete: { TableName: GRAPH, Key: keys.friend(u, f), ...(present[i] ? { ConditionExpression: 'attribute_exists(pk)' } : {}) } },
    );
    pairs.forEach(([u, other], i) => {
      const found = states[i]?.Item;
      const before = stateFromItem(found, u);
      if (!bumps(before)) return;
      const { state } = finalize(before, pruneGone(sweepState(before, now).state, now), { bump: true });
      items.push({
        Put: {
          TableName: PRESENCE,
          Item: { ...toItem(state, now), rc: [other] },
          ConditionExpression: found ? '#rev = :rev' : 'attribute_not_exists(pk)',
          ...(found ? { ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': before.rev } } : {}),
        },
      });
    });
    try {
      await ddb.transactWrite({ TransactItems: items });
      // the friendship items first, then a state for each user whose visibility this changes
      count(MetricName.PresenceChanges, items.length - pairs.length);
      return true;
    } catch (err) {
      // another writer got there first (the user's state, or the same friendship): look again
      if (err instanceof TransactionCanceledException) continue;
      throw err;
    }
  }
  throw new Error(`too much contention on the friendship of ${a} and ${b}`);
}

// ---------- groups ----------
export async function addGroupMember(groupId: string, userId: string, now: number): Promise<void> {
  await batchWrite(GRAPH, [
    { PutRequest: { Item: { ...keys.member(groupId, userId), since: now } } },
    { PutRequest: { Item: { ...keys.groupOfUser(userId, groupId), since: now } } },
  ]);
}

export async function removeGroupMember(groupId: string, userId: string): Promise<void> {
  await batchWrite(GRAPH, [{ DeleteRequest: { Key: keys.member(groupId, userId) } }, { DeleteRequest: { Key: keys.groupOfUser(userId, groupId) } }]);
}

export async function isGroupMember(groupId: string, userId: string): Promise<boolean> {
  const out = await ddb.get({ TableName: GRAPH, Key: keys.member(groupId, userId), ProjectionExpression: 'pk' });
  return out.Item !== undefined;
}

/** Every member of a group (one Query, paged by DynamoDB): who hears a bidirectional group listener. */
export async function allGroupMembers(groupId: string): Promise<string[]> {
  const items = await queryAll({
    TableName: GRAPH,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :m)',
    ExpressionAttributeValues: { ':pk': keys.member(groupId, '').pk, ':m': 'MEMBER#' },
    ProjectionExpression: 'sk',
  });
  return items.map((i) => String(i.sk).slice('MEMBER#'.length));
}

/** A page of a group's members in userId order, after `afterUserId`. */
export async function groupMembers(groupId: string, limit: number, afterUserId: string | null): Promise<{ members: string[]; next: string | null }> {
  const out = await ddb.query({
    TableName: GRAPH,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :m)',
    ExpressionAttributeValues: { ':pk': keys.member(groupId, '').pk, ':m': 'MEMBER#' },
    ProjectionExpression: 'sk',
    Limit: limit,
    ExclusiveStartKey: afterUserId ? keys.member(groupId, afterUserId) : undefined,
  });
  const members = (out.Items ?? []).map((i) => String(i.sk).slice('MEMBER#'.length));
  return { members, next: out.LastEvaluatedKey ? (members[members.length - 1] ?? null) : null };
}

/**
 * A user's friends and groups and the last version of theirs fanned out
 * (`pushed`, null when the Graph table has no record of it: see
 * legacyPushedVersion), in one strongly consistent Query of the user's items
 * (the record of what was pushed must be read as written: a replay right
 * after a fan-out must see it).
 */
export async function relationsOf(userId: string): Promise<{ friends: Set<string>; groups: string[]; pushed: number | null }> {
  const items = await queryAll({
    TableName: GRAPH,
    ConsistentRead: true,
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': keys.friend(userId, '').pk },
    ProjectionExpression: 'sk, v',
  });
  const friends = new Set<string>();
  const groups: string[] = [];
  let pushed: number | null = null;
  for (const i of items) {
    const sk = String(i.sk);
    if (sk.startsWith('FRIEND#')) friends.add(sk.slice('FRIEND#'.length));
    else if (sk.startsWith('GROUP#')) groups.push(sk.slice('GROUP#'.length));
    else if (sk === PUSHED_SK) pushed = Number(i.v ?? 0);
  }
  return { friends, groups, pushed };
}

// ---------- leases ----------
/** how long a lease holds if its holder dies (longer than any API function's 29 s) */
const LEASE_MS = 30_000;
/** how long to wait for a lease before answering 503 (retry): well within an API function's 29 s */
const LEASE_WAIT_MS = 20_000;

/**
 * Runs `fn` while holding the lease `name`: a conditional put that only one
 * holder wins (or a lease whose holder died and whose time ran out), deleted
 * afterwards. Serializes a cap's count-then-write across concurrent calls.
 */
export async function withLease<T>(name: string, fn: () => Promise<T>, waitMs = LEASE_WAIT_MS): Promise<T> {
  const owner = randomUUID();
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    const now = Date.now();
    try {
      await ddb.put({
        TableName: GRAPH,
        Item: { ...keys.lease(name), owner, until: now + LEASE_MS, ttl: Math.ceil((now + LEASE_MS) / 1000) + 60 },
        ConditionExpression: 'attribute_not_exists(pk) OR #until < :now',
        ExpressionAttributeNames: { '#until': 'until' },
        ExpressionAttributeValues: { ':now': now },
      });
      break;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      if (Date.now() > deadline) throw new ApiError('unavailable', 'Busy with another request of this user or connection, retry shortly', 1);
      await new Promise((r) => setTimeout(r, Math.min(200, 5 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random())));
    }
  }
  try {
    return await fn();
  } finally {
    await ddb
      .delete({
        TableName: GRAPH,
        Key: keys.lease(name),
        ConditionExpression: '#owner = :me',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':me': owner },
      })
      .catch((err) => {
        // taken over after it ran out, or the table is unreachable: it expires by itself
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      });
  }
}
