/**
 * The store: every DynamoDB key shape and query of the product lives here.
 * Handlers and workers call intent-named functions; nothing else builds keys.
 *
 * Presence table (one item per user):
 *   USER#<userId> / STATE   the user's devices, settings, aggregate and version; `gone`: devices that went offline
 *                           lately (≤ 10, ≤ 24 h; functions/core/presence.ts rememberGone), for the Agora facade
 *     writtenAt             epoch ms of the item's last full write (the stream consumer's NotifyLag starts there)
 *     sweepShard/sweepAt    sparse GSI `bySweepDue`: when the sweeper must look again
 *     onlineShard           sparse GSI `byOnlineShard` (sort key pk): O#<n>, present exactly while the user is
 *                           online and visible to everyone (listedOnline), set and removed by the write that makes it so
 *   USER#<userId> / PUSHED  legacy place of the last version fanned out: read only while the Graph table has none
 * Graph table (GSI `byWatchedUser` on gpk/gsk):
 *   SUB#<subscriber> / T#<target>      a subscription (exp, ttl); gpk W#<target>, gsk S#<subscriber>
 *   LCONN#<conn> / T#<target>          a userIds listener of a connection (u, exp, ttl); gpk W#<target>, gsk L#<conn>
 *   LCONN#<conn> / G#<groupId>         a group listener (u, exp, ttl); gpk GL#<groupId>, gsk C#<conn>
 *   LCONN#<conn> / ~R#T#<target>       a bidirectional userIds listen's reverse registration: <target> (u) hears the
 *                                      connection's user <caller>; gpk W#<caller>, gsk L#<conn> (read like a listener)
 *   LCONN#<conn> / ~R#G#<groupId>      a bidirectional group listen's: the group's members hear <caller> (u);
 *                                      gpk W#<caller>, gsk M#<groupId>
 *   LCONN#<conn> / ~R#F                a bidirectional friends listen's: <caller>'s friends hear it (u); gpk W#<caller>, gsk F#<conn>
 *   LCONN#<conn> / B#<format>          the connection hears every change in that push format (u, exp, ttl);
 *                                      gpk BCAST#<format>, gsk C#<conn> (a compatibility facade's everyone-broadcast)
 *   USER#<userId> / FRIEND#<friendId>  friendship, one item per direction
 *   GROUP#<groupId> / MEMBER#<userId>  membership, listed per group
 *   USER#<userId> / GROUP#<groupId>    the same membership, listed per user (one Query with the friends)
 *   USER#<userId> / PUSHED             the last version fanned out (v): stream idempotency, read by that same
 *                                      Query (its sort key sorts after FRIEND# and GROUP#)
 *   LEASE#<name> / LEASE               a short lease that serializes one cap's read-then-write (until, owner, ttl)
 *   LIVE#<shard>#<bucket> / <random>   `gateway` heartbeat mode: WebSocket connections to check in that time
 *                                      bucket, up to 200 per item (w: [userId, device, conn, due, stale?][], ttl)
 *   LIVECURSOR / CURSOR                the last liveness bucket the sweeper looked at (b)
 * Friends listeners are a flag on the connection in the user's state (conns[c].f).
 */

import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { BatchGetCommandOutput, BatchWriteCommandInput, QueryCommandInput, TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { graphTable, presenceTable } from '../../lib/tables.ts';
import { ApiError, rateLimited } from '../core/errors.ts';
import { type ChangeBudget, emptyState, finalize, listedOnline, pruneGone, spendBudget, sweepDueAt, sweepState, type UserState } from '../core/presence.ts';
import { LIMITS } from '../core/schemas.ts';
import { planSubscriptions, type SubscriptionPlan } from '../core/subscriptions.ts';
import { ddb } from './clients.ts';
import { config } from './config.ts';
import { count, MetricName } from './metrics.ts';

const PRESENCE = config.presenceTable;
const GRAPH = config.graphTable;
const SWEEP_INDEX = presenceTable.indexes[0]?.name as string;
const WATCH_INDEX = graphTable.indexes[0]?.name as string;
const SUB_EXPIRY_INDEX = graphTable.indexes[1]?.name as string;
const ONLINE_INDEX = presenceTable.indexes[1]?.name as string;
export const SWEEP_SHARDS = 4;
/**
 * Partitions of the online list's index (`byOnlineShard`): every user going
 * online or offline writes one of them, so a reconnect herd spreads over
 * ONLINE_SHARDS keys instead of one (numbers in docs/scale.md).
 */
export const ONLINE_SHARDS = 16;
const MAX_ATTEMPTS = 8;
const BATCH_GETS_IN_FLIGHT = 8;
/** read-modify-write retries under contention (jittered backoff, capped at 1 s) */
const MAX_MUTATE_ATTEMPTS = 25;

// ---------- key shapes (defined once) ----------
const PUSHED_SK = 'PUSHED';
/**
 * sort key prefix of a connection's reverse registrations (bidirectional
 * listens), which are no listener targets of their own: `~` sorts after every
 * listener's (`G#`, `T#`), so the cap's count reads the listeners alone
 */
const REVERSE_SK = '~R#';
/** `byWatchedUser` sort keys: who hears the partition's user, and how */
const WATCH_GSK = {
  subscriber: (subscriber: string) => `S#${subscriber}`,
  /** a userIds listener of the user, or a user a bidirectional listen of the user's registered (u hears) */
  listener: (conn: string) => `L#${conn}`,
  /** the members of a group hear the user */
  members: (groupId: string) => `M#${groupId}`,
  /** the user's friends hear the user */
  friends: (conn: string) => `F#${conn}`,
};
const keys = {
  userState: (userId: string) => ({ pk: `USER#${userId}`, sk: 'STATE' }),
  /** the last version the fan-out delivered (replays and late duplicates are skipped); in the Graph table, under the user's relations */
  pushed: (userId: string) => ({ pk: `USER#${userId}`, sk: PUSHED_SK }),
  /** where the Presence table kept it before (read while the Graph table has none for the user) */
  legacyPushed: (userId: string) => ({ pk: `USER#${userId}`, sk: PUSHED_SK }),
  subscription: (subscriber: string, target: string) => ({ pk: `SUB#${subscriber}`, sk: `T#${target}` }),
  subscriptionsOf: (subscriber: string) => `SUB#${subscriber}`,
  watchersOf: (target: string) => `W#${target}`,
  friend: (userId: string, friendId: string) => ({ pk: `USER#${userId}`, sk: `FRIEND#${friendId}` }),
  member: (groupId: string, userId: string) => ({ pk: `GROUP#${groupId}`, sk: `MEMBER#${userId}` }),
  groupOfUser: (userId: string, groupId: string) => ({ pk: `USER#${userId}`, sk: `GROUP#${groupId}` }),
  listenersOfConn: (conn: string) => `LCONN#${conn}`,
  /** a bidirectional listen's reverse registrations, in the connection's partition (sort keys after REVERSE_SK) */
  heardByUser: (target: string) => `${REVERSE_SK}T#${target}`,
  heardByGroup: (groupId: string) => `${REVERSE_SK}G#${groupId}`,
  heardByFriends: `${REVERSE_SK}F`,
  groupListeners: (groupId: string) => `GL#${groupId}`,
  /** the connections that hear every change in a push format (a compatibility facade's everyone-broadcast) */
  broadcastListeners: (format: string) => `BCAST#${format}`,
  lease: (name: string) => ({ pk: `LEASE#${name}`, sk: 'LEASE' }),
  /** a partition of the online list (`byOnlineShard`) */
  onlineShard: (shard: number) => `O#${shard}`,
  /** `gateway` heartbeat mode: the connections to look at in one time bucket of one sweep shard (any number of items) */
  livenessBucket: (shard: string, bucket: number) => `LIVE#${shard}#${bucket}`,
  /** the last bucket (of every shard) the sweeper has looked at */
  livenessCursor: { pk: 'LIVECURSOR', sk: 'CURSOR' },
};

/** The leases the caps are checked under: what is counted and written together. */
export const leases = {
  subscriptionsOf: (subscriber: string) => `SUB#${subscriber}`,
  listenersOf: (conn: string) => `LCONN#${conn}`,
};

/** A stable hash of a userId into 0..n-1. */
const shardOf = (userId: string, n: number): number => {
  let h = 0;
  for (let i = 0; i < userId.length; i++) h = (h * 31 + userId.charCodeAt(i)) | 0;
  return Math.abs(h) % n;
};

/** Spreads a sparse "due" index over SWEEP_SHARDS partitions (no hot key). */
export const sweepShard = (userId: string): string => `S#${shardOf(userId, SWEEP_SHARDS)}`;

// ---------- user state ----------
type StateItem = Omit<UserState, 'activity'> & {
  activity: string | Record<string, unknown> | null;
  pk: string;
  sk: string;
  sweepShard?: string;
  sweepAt?: number;
  onlineShard?: string;
  quiet?: boolean;
  /** when the item was written (epoch ms): not part of the state, it times the change's way to the subscribers */
  writtenAt?: number;
};

export function stateFromItem(item: Record<string, unknown> | undefined, userId: string): UserState {
  if (!item) return emptyState(userId);
  const base = emptyState(userId);
  const s = item as Partial<StateItem>;
  return {
    userId,
    devices: s.devices ?? base.devices,
    availability: s.availability ?? base.availability,
    availabilityUntil: s.availabilityUntil ?? null,
    customStatus: s.customStatus ?? null,
    activity: typeof s.activity === 'string' ? (JSON.parse(s.activity) as Record<string, unknown>) : (s.activity ?? null),
    // fields in one order, whatever order the stored map comes back in (states are compared as JSON)
    profile: s.profile ? { name: s.profile.name ?? null, pic: s.profile.pic ?? null } : null,
    visibility: s.visibility ?? base.visibility,
    lastSeen: s.lastSeen ?? null,
    version: s.version ?? 0,
    rev: s.rev ?? 0,
    hidden: s.hidden ?? null,
    hiddenToFriends: s.hiddenToFriends ?? null,
    ...(s.budget ? { budget: s.budget } : {}),
    ...(typeof s.createdAt === 'number' ? { createdAt: s.createdAt } : {}),
    conns: s.conns ?? {},
    ...goneOf(s.gone),
  };
}

/** The stored gone devices in name order (states are compared as JSON), absent when none. */
function goneOf(gone: Record<string, unknown> | undefined): Pick<UserState, 'gone'> {
  const entries = Object.entries(gone ?? {}).flatMap(([name, at]) => (typeof at === 'number' ? [[name, at] as const] : []));
  return entries.length === 0 ? {} : { gone: Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
}

/** userId of a user-state item key or image (null for other items). */
export function userIdOfStateKey(item: Record<string, unknown> | undefined): string | null {
  const pk = item?.pk;
  if (typeof pk !== 'string' || item?.sk !== 'STATE' || !pk.startsWith('USER#')) return null;
  return pk.slice(5);
}

function toItem(state: UserState, writtenAt: number): StateItem {
  // activity is free-form JSON: stored as a string so any JSON object the contract allows is storable
  const activity = state.activity === null ? null : JSON.stringify(state.activity);
  const item = { ...keys.userState(state.userId), ...state, activity, writtenAt } as unknown as StateItem;
  const due = sweepDueAt(state);
  if (due !== null) {
    item.sweepShard = sweepShard(state.userId);
    item.sweepAt = due;
  }
  if (listedOnline(state)) item.onlineShard = keys.onlineShard(shardOf(state.userId, ONLINE_SHARDS));
  return item;
}

export async function getUserState(userId: string): Promise<UserState> {
  return (await getUserRecord(userId)).state;
}

/** A user's state and when its item was last written in full (`writtenAt`; null: there is no item). */
export async function getUserRecord(userId: string): Promise<{ state: UserState; writtenAt: number | null }> {
  const out = await ddb.get({ TableName: PRESENCE, Key: keys.userState(userId), ConsistentRead: true });
  return { state: stateFromItem(out.Item, userId), writtenAt: writtenAtOf(out.Item) };
}

const writtenAtOf = (item: Record<string, unknown> | undefined): number | null =>
  item === undefined ? null : typeof item.writtenAt === 'number' ? item.writtenAt : null;

/** States of many users, in the order asked, ceil(n/100) BatchGetItem calls. */
export async function getUserStates(userIds: readonly string[], projection?: readonly (keyof UserState)[]): Promise<Map<string, UserState>> {
  const result = new Map<string, UserState>();
  const unique = [...new Set(userIds)];
  const names: Record<string, string> = {};
  let projectionExpression: string | undefined;
  if (projection) {
    const attrs = ['pk', 'sk', ...projection];
    attrs.forEach((a, i) => {
      names[`#p${i}`] = a;
    });
    projectionExpression = attrs.map((_, i) => `#p${i}`).join(',');
  }
  const items = await batchGetAll(
    PRESENCE,
    unique.map((u) => keys.userState(u)),
    projectionExpression ? { ProjectionExpression: projectionExpression, ExpressionAttributeNames: names } : {},
  );
  for (const item of items) {
    const id = userIdOfStateKey(item);
    if (id) result.set(id, stateFromItem(item, id));
  }
  for (const u of unique) if (!result.has(u)) result.set(u, emptyState(u));
  return result;
}

/**
 * Every item of `keyList` that exists, ⌈n/100⌉ BatchGetItem calls with their
 * unprocessed keys retried; a few batches in flight at a time, so a huge
 * audience does not burst the table's read capacity.
 */
async function batchGetAll(
  table: string,
  keyList: readonly Record<string, unknown>[],
  projection: { ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string>; ConsistentRead?: boolean },
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const chunks: Record<string, unknown>[][] = [];
  for (let i = 0; i < keyList.length; i += 100) chunks.push(keyList.slice(i, i + 100));
  const readChunk = async (chunk: Record<string, unknown>[]) => {
    let request: NonNullable<BatchGetCommandOutput['UnprocessedKeys']> = { [table]: { Keys: chunk, ...projection } };
    for (let attempt = 0; Object.keys(request).length > 0; attempt++) {
      if (attempt > 0) await backoff(attempt);
      if (attempt >= MAX_ATTEMPTS) throw new Error('BatchGetItem kept returning unprocessed keys');
      const out = await ddb.batchGet({ RequestItems: request });
      items.push(...(out.Responses?.[table] ?? []));
      request = out.UnprocessedKeys ?? {};
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(BATCH_GETS_IN_FLIGHT, chunks.length) }, async () => {
      while (next < chunks.length) await readChunk(chunks[next++] as Record<string, unknown>[]);
    }),
  );
  return items;
}

export interface MutationResult {
  before: UserState;
  state: UserState;
  /** something was written */
  written: boolean;
  /** what subscribers see changed (version bumped) */
  visibleChange: boolean;
  /** what the sweep-before-change removed */
  devicesExpired: number;
  availabilityCleared: boolean;
  /** when the item was last written in full: now when this wrote it, else as it was (null: there is no item) */
  writtenAt: number | null;
}

export interface MutateOptions {
  clock?: () => number;
  /** write even if the state is unchanged (the sweeper: records the next due time) */
  force?: boolean;
  /** count the write as a visible change (force push, permission change) */
  bump?: boolean;
  /**
   * the user's change budget: a write that changes what subscribers see (and
   * so starts a fan-out) spends one unit; none left → 429 `rate_limited`,
   * nothing written
   */
  budget?: ChangeBudget;
  /**
   * the item as it is now (`item` undefined: there is none), e.g. returned by
   * a conditional write that failed (quickPatch): the first attempt uses it
   * instead of reading it again
   */
  current?: { item: Record<string, unknown> | undefined };
}

/**
 * Read-modify-write of a user's state with optimistic concurrency on `rev`:
 * expired devices and a lapsed availability are swept first, then `change`
 * runs (return null for "nothing to do"), the aggregate/version are completed
 * by the core, and the item is written only if nobody wrote in between
 * (else the whole step is retried on fresh state).
 */
export async function mutateUser(
  userId: string,
  change: (state: UserState, now: number) => UserState | null,
  { clock = Date.now, force = false, bump = false, budget, current }: MutateOptions = {},
): Promise<MutationResult> {
  for (let attempt = 0; attempt < MAX_MUTATE_ATTEMPTS; attempt++) {
    if (attempt > 0) await backoff(attempt);
    const now = clock();
    const out = attempt === 0 && current ? { Item: current.item } : await ddb.get({ TableName: PRESENCE, Key: keys.userState(userId), ConsistentRead: true });
    const before = stateFromItem(out.Item, userId);
    const swept = sweepState(before, now);
    const changed = change(swept.state, now);
    // the item's first write records when it was created (kept by every later write: it is part of the state)
    const next = changed !== null && !out.Item ? { ...changed, createdAt: now } : changed;
    const unchanged = next === null || (out.Item !== undefined && JSON.stringify(next) === JSON.stringify(before));
    if (next === null || (unchanged && !bump && !(force && out.Item))) {
      return {
        before,
        state: before,
        written: false,
        visibleChange: false,
        devicesExpired: 0,
        availabilityCleared: false,
        writtenAt: writtenAtOf(out.Item),
      };
    }
    // a write that happens anyway drops the gone devices past their retention (never a write of its own)
    const finalized = finalize(before, pruneGone(next, now), { bump });
    let state = finalized.state;
    const visibleChange = finalized.visibleChange;
    if (budget && visibleChange) {
      const spent = spendBudget(state, budget, now);
      if ('retryAfterMs' in spent)
        throw rateLimited(`At most ${budget.limit} presence changes per ${budget.windowMs / 1000} s per user`, spent.retryAfterMs / 1000);
      state = spent.state;
    }
    const item: Record<string, unknown> = { ...toItem(state, now) };
    if (!visibleChange) item.quiet = true;
    try {
      await ddb.put({
        TableName: PRESENCE,
        Item: item,
        ConditionExpression: out.Item ? '#rev = :rev' : 'attribute_not_exists(pk)',
        ...(out.Item ? { ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': before.rev } } : {}),
      });
      if (visibleChange) count(MetricName.PresenceChanges);
      return {
        before,
        state,
        written: true,
        visibleChange,
        devicesExpired: swept.devicesExpired,
        availabilityCleared: swept.availabilityCleared,
        writtenAt: now,
      };
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) continue;
      throw err;
    }
  }
  throw new Error(`too much contention on user ${userId}`);
}

/** What PATCH may change in one write, without reading the state first (quickPatch). */
export interface QuickPatch {
  customStatus?: string | null;
  activity?: Record<string, unknown> | null;
}

/**
 * The PATCH fast path: ONE conditional UpdateItem, no read, writing exactly
 * what mutateUser writes for the same patch (applyPatch, finalize and
 * spendBudget of functions/core/presence.ts; test/integration/quick-patch.test.ts
 * compares the two items). That is only known without reading when:
 * - nothing is due for the sweep (sweepAt > now, so the item exists): no
 *   device, connection or manual availability has expired, the full path's
 *   sweep would change nothing, and every device is live;
 * - the user has a device, so lastSeen moves to now (as applyPatch does);
 * - the user's last budgeted change was in an earlier budget window (or
 *   there was none): this change opens the window, {w, n: 1}, within any
 *   limit. The usual case for changes minutes apart; a second change within
 *   the window takes the full path;
 * - a patched field really differs, so the version grows;
 * - the frozen hidden views are as finalize keeps them for an unchanged
 *   visibility (hidden set unless visible to everyone, hiddenToFriends set
 *   only at `nobody`).
 * The write sets the fields, lastSeen and budget; adds 1 to version and rev
 * (so a concurrent read-modify-write sees `rev` moved and starts again);
 * removes `quiet` (the stream's filter passes the write: subscribers are
 * told) and `rc` (friendships recorded by the previous write, which the full
 * path's Put drops too). sweepShard/sweepAt stay: nothing that moves them
 * changes (after heartbeats extended devices, sweepAt is earlier than the
 * full path would compute: a lower bound either way, as after any heartbeat).
 * When the condition fails nothing is written and `miss` carries the item as
 * it is (DynamoDB returns it with the failure; undefined when there is none)
 * for mutateUser's `current`: the full path then needs no read of its own,
 * so a miss costs the two requests the full path always cost.
 */
export async function quickPatch(
  userId: string,
  patch: QuickPatch,
  budget: ChangeBudget,
  now: number,
): Promise<{ state: UserState } | { miss: { item: Record<string, unknown> | undefined } }> {
  const w = Math.floor(now / budget.windowMs);
  const names: Record<string, string> = {
    '#sa': 'sweepAt',
    '#dv': 'devices',
    '#b': 'budget',
    '#w': 'w',
    '#vis': 'visibility',
    '#h': 'hidden',
    '#hf': 'hiddenToFriends',
    '#ls': 'lastSeen',
    '#ver': 'version',
    '#rev': 'rev',
    '#q': 'quiet',
    '#rc': 'rc',
    '#wa': 'writtenAt',
  };
  const values: Record<string, unknown> = {
    ':now': now,
    ':zero': 0,
    ':one': 1,
    ':w': w,
    ':budget': { w, n: 1 },
    ':everyone': 'everyone',
    ':friends': 'friends',
    ':nobody': 'nobody',
    ':NULL': 'NULL',
    ':M': 'M',
  };
  const set = ['#ls = :now', '#b = :budget', '#wa = :now'];
  const differs: string[] = [];
  // both stored as toItem stores them: a string (activity as JSON) or null; an activity stored
  // as a map (stateFromItem reads those too) compares by content, so the full path decides
  const field = (name: string, attr: string, value: string | null) => {
    names[name] = attr;
    values[`:${attr}`] = value;
    set.push(`${name} = :${attr}`);
    differs.push(
      value === null
        ? `(attribute_exists(${name}) AND NOT attribute_type(${name}, :NULL))`
        : `(attribute_not_exists(${name}) OR attribute_type(${name}, :NULL) OR (attribute_type(${name}, :S) AND ${name} <> :${attr}))`,
    );
    if (value !== null) values[':S'] = 'S';
  };
  if (patch.customStatus !== undefined) field('#cs', 'customStatus', patch.customStatus);
  if (patch.activity !== undefined) field('#act', 'activity', patch.activity === null ? null : JSON.stringify(patch.activity));
  if (differs.length === 0) throw new Error('quickPatch needs a field to change');
  const anyDiffers = differs.length === 1 ? differs[0] : `(${differs.join(' OR ')})`;
  const hiddenAsKept = [
    '(#vis = :everyone AND attribute_type(#h, :NULL) AND attribute_type(#hf, :NULL))',
    '(#vis = :friends AND attribute_type(#h, :M) AND attribute_type(#hf, :NULL))',
    '(#vis = :nobody AND attribute_type(#h, :M) AND attribute_type(#hf, :M))',
  ].join(' OR ');
  try {
    const out = await ddb.update({
      TableName: PRESENCE,
      Key: keys.userState(userId),
      UpdateExpression: `SET ${set.join(', ')} REMOVE #q, #rc ADD #ver :one, #rev :one`,
      ConditionExpression: `#sa > :now AND size(#dv) > :zero AND NOT (#b.#w = :w) AND (${hiddenAsKept}) AND ${anyDiffers}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_NEW',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    count(MetricName.PresenceChanges);
    return { state: stateFromItem(out.Attributes, userId) };
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return { miss: { item: err.Item ? unmarshall(err.Item) : undefined } };
    throw err;
  }
}

/**
 * The heartbeat fast path: ONE conditional UpdateItem, no read, no push.
 * Succeeds only if the device is live; returns null otherwise so the caller
 * can take the full path (a heartbeat that brings a device back is a visible
 * change). For a WebSocket connection (still known in the user's state) the
 * same write counts the message in the connection's current rate window
 * (`conns.<id>.m<window>`, the previous windows removed) and returns that
 * count, whichever connection holds the device: every message of every
 * connection is counted. With `withItem`, the write also returns the whole
 * item as it left it (no extra read: a message that goes on to change the
 * state starts its read-modify-write from it, see MutateOptions.current).
 */
export async function touchDevice(
  userId: string,
  device: string,
  /** the new expiry; null: leave it (the `gateway` heartbeat mode, where the sweeper's liveness check owns it) */
  expiresAt: number | null,
  now: number,
  conn?: { id: string; window: number },
  withItem = false,
): Promise<{ messagesInWindow: number; item?: Record<string, unknown> } | null> {
  const names: Record<string, string> = { '#dv': 'devices', '#d': device, '#e': 'e', '#l': 'l', '#rev': 'rev' };
  const values: Record<string, unknown> = { ':now': now, ':t': true, ':one': 1 };
  let set = 'SET #dv.#d.#l = :now, lastSeen = :now, quiet = :t';
  if (expiresAt !== null) {
    values[':e'] = expiresAt;
    set += ', #dv.#d.#e = :e';
  }
  let remove = '';
  let condition = 'attribute_exists(#dv.#d) AND #dv.#d.#e > :now';
  if (conn) {
    Object.assign(names, { '#cn': 'conns', '#conn': conn.id, '#w': `m${conn.window}`, '#w1': `m${conn.window - 1}`, '#w2': `m${conn.window - 2}` });
    values[':zero'] = 0;
    set += ', #cn.#conn.#w = if_not_exists(#cn.#conn.#w, :zero) + :one';
    remove = ' REMOVE #cn.#conn.#w1, #cn.#conn.#w2';
    condition += ' AND attribute_exists(#cn.#conn)';
  }
  try {
    const out = await ddb.update({
      TableName: PRESENCE,
      Key: keys.userState(userId),
      UpdateExpression: `${set}${remove} ADD #rev :one`,
      ConditionExpression: condition,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: withItem ? 'ALL_NEW' : conn ? 'UPDATED_NEW' : 'NONE',
    });
    const counters = (out.Attributes?.conns as Record<string, Record<string, number>> | undefined)?.[conn?.id ?? ''];
    return { messagesInWindow: counters?.[`m${conn?.window}`] ?? 0, ...(withItem ? { item: out.Attributes } : {}) };
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException || err instanceof TransactionCanceledException) return null;
    throw err;
  }
}

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

/**
 * The last version fanned out as the Presence table recorded it before the
 * record moved to the Graph table (0 if none). Read only for a user with no
 * record in the Graph table yet, so a stream record or queued chunk handed
 * over again across the upgrade is still recognised; once the user's next
 * fan-out is recorded, never again. Drop it (and the Presence table's
 * `USER#<id>/PUSHED` items) once every stack has run this version longer
 * than the stream's 24 h retention.
 */
export async function legacyPushedVersion(userId: string): Promise<number> {
  const out = await ddb.get({ TableName: PRESENCE, Key: keys.legacyPushed(userId), ConsistentRead: true });
  return Number(out.Item?.v ?? 0);
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

/** The sweep shards (the due index's and the liveness wheel's partitions). */
export const sweepShards = (): string[] => Array.from({ length: SWEEP_SHARDS }, (_, i) => `S#${i}`);

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

/** Users whose sweep is due (devices or availability may have expired), one Query per shard (keys only). */
export async function dueForSweep(now: number): Promise<string[]> {
  const shards = sweepShards();
  const pages = await Promise.all(
    shards.map((shard) =>
      queryAll({
        TableName: PRESENCE,
        IndexName: SWEEP_INDEX,
        KeyConditionExpression: 'sweepShard = :s AND sweepAt <= :now',
        ExpressionAttributeValues: { ':s': shard, ':now': now },
      }),
    ),
  );
  return pages.flat().flatMap((item) => userIdOfStateKey(item) ?? []);
}

// ---------- the online list ----------
/** A place in the walk of the online list: a shard, and the last user read there (null: from its start). */
export interface OnlinePosition {
  shard: number;
  after: string | null;
}

/**
 * Up to `limit` users of the online list from `from` on: shard after shard,
 * each in userId order (keys only, eventually consistent: a user who just
 * went online or offline may be missing or still there). `next` is where the
 * following page starts, null when every shard has been read to its end.
 */
export async function onlineUsers(limit: number, from: OnlinePosition): Promise<{ userIds: string[]; next: OnlinePosition | null }> {
  const userIds: string[] = [];
  let { shard, after } = from;
  while (shard < ONLINE_SHARDS) {
    const gsiKey = keys.onlineShard(shard);
    const out = await ddb.query({
      TableName: PRESENCE,
      IndexName: ONLINE_INDEX,
      KeyConditionExpression: 'onlineShard = :s',
      ExpressionAttributeValues: { ':s': gsiKey },
      Limit: limit - userIds.length,
      ExclusiveStartKey: after === null ? undefined : { ...keys.userState(after), onlineShard: gsiKey },
    });
    for (const item of out.Items ?? []) {
      const id = userIdOfStateKey(item);
      if (id) userIds.push(id);
    }
    const last = out.LastEvaluatedKey ? userIdOfStateKey(out.LastEvaluatedKey) : null;
    if (last !== null) {
      if (userIds.length >= limit) return { userIds, next: { shard, after: last } };
      after = last;
      continue;
    }
    shard++;
    after = null;
    if (userIds.length >= limit) return { userIds, next: shard < ONLINE_SHARDS ? { shard, after: null } : null };
  }
  return { userIds, next: null };
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

// ---------- helpers ----------
async function queryAll(input: QueryCommandInput): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb.query({ ...input, ExclusiveStartKey: start });
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

async function countQuery(input: QueryCommandInput): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb.query({ ...input, Select: 'COUNT', ExclusiveStartKey: start });
    count += out.Count ?? 0;
    start = out.LastEvaluatedKey;
  } while (start);
  return count;
}

type WriteRequest = NonNullable<NonNullable<BatchWriteCommandInput['RequestItems']>[string]>[number];

async function batchWrite(table: string, requests: WriteRequest[]): Promise<void> {
  const chunks: WriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += 25) chunks.push(requests.slice(i, i + 25));
  await Promise.all(
    chunks.map(async (chunk) => {
      let pending = chunk;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= MAX_ATTEMPTS) throw new Error('BatchWriteItem kept returning unprocessed items');
        if (attempt > 0) await backoff(attempt);
        const out = await ddb.batchWrite({ RequestItems: { [table]: pending } });
        pending = (out.UnprocessedItems?.[table] ?? []) as WriteRequest[];
      }
    }),
  );
}

const backoff = (attempt: number) => new Promise((r) => setTimeout(r, Math.min(1000, 10 * 2 ** attempt) * (0.5 + Math.random() / 2)));
