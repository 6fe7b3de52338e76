/**
 * The Presence table (one item per user): user states (read, read-modify-write,
 * the PATCH and heartbeat fast paths), the sweep index and the online list.
 * Key shapes: ./keys.ts; the item itself: ./state-item.ts.
 */

import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { rateLimited } from '../../core/errors.ts';
import { type ChangeBudget, emptyState, finalize, pruneGone, spendBudget, sweepState, type UserState } from '../../core/presence.ts';
import { ddb } from '../clients.ts';
import { count, MetricName } from '../metrics.ts';
import { keys, ONLINE_INDEX, ONLINE_SHARDS, PRESENCE, SWEEP_INDEX, sweepShards } from './keys.ts';
import { backoff, batchGetAll, MAX_MUTATE_ATTEMPTS, queryAll } from './requests.ts';
import { stateFromItem, toItem, userIdOfStateKey } from './state-item.ts';

// ---------- user state ----------
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

// ---------- the sweep index ----------
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
