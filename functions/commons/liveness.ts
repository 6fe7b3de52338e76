/**
 * Liveness in the `gateway` heartbeat mode (lib/routes.ts HeartbeatMode):
 * WebSocket heartbeats go to a MOCK integration, so no function sees them and
 * nothing is written when a client sends one. Instead:
 *
 * - A WebSocket device's stored expiry is its connection's longest life
 *   (MAX_CONNECTION_MS), so reads and other writes never see it lapse while
 *   the connection lives; when it opens, a liveness entry is written for it.
 * - Entries sit in a time wheel (store: LIVE#<shard>#<second> items, up to 200
 *   entries each). Each sweeper round reads the seconds that have come since
 *   the last round and asks API Gateway about each due connection
 *   (GetConnection, not billed): active within the timeout → the entry moves
 *   to the bucket of LastActiveAt + timeout (a share of one batched write; the
 *   user's state is not touched); silent for the timeout → the device goes
 *   offline (one state write; subscribers are told as today) and the entry is
 *   looked at every round while the socket stays open, so a client that speaks
 *   again comes back online; gone → the connection is forgotten as on
 *   $disconnect. A connection that cannot be read (throttled, an error) is
 *   looked at again next round: not knowing is not a sign of death.
 *
 * Offline stays within timeout + sweep interval: an entry is read in the
 * round that follows its due time (its bucket is read as soon as it starts,
 * and an entry not yet due is carried to the next bucket).
 */
import { GetConnectionCommand, GoneException } from '@aws-sdk/client-apigatewaymanagementapi';
import { ApiError } from '../core/errors.ts';
import { expireConnectionDevice, MAX_CONNECTION_MS, upsertDevice } from '../core/presence.ts';
import { connections } from './clients.ts';
import { config } from './config.ts';
import { forgetConnection, wentOffline } from './forget-connection.ts';
import { logger } from './logger.ts';
import { mapLimit } from './map-limit.ts';
import * as store from './store.ts';

const timeoutMs = config.presenceTimeoutSeconds * 1000;
/**
 * The wheel's bucket: one second, whatever the configuration, so changing the
 * timeout or the sweep interval never renumbers buckets written before. A new
 * entry lands `timeout` ahead (≥ 2 s: config), never in a bucket already read.
 */
export const BUCKET_MS = 1000;
/** buckets read per step; the cursor is written after each step */
const STEP_BUCKETS = 60;
/** how far back the wheel looks: a connection lives at most MAX_CONNECTION_MS; the first round ever looks back one step */
const LOOKBACK_BUCKETS = Math.ceil(MAX_CONNECTION_MS / BUCKET_MS);
/** a round stops taking new steps after this (the lease holds 30 s); the rest waits for the next round */
const ROUND_BUDGET_MS = 20_000;
const bucketOf = (t: number) => Math.floor(t / BUCKET_MS);

/** The expiry a WebSocket device is written with: the timeout (`lambda` mode), or its connection's longest life (`gateway`). */
export const wsDeviceExpiry = (now: number): number => now + (config.heartbeatMode === 'gateway' ? MAX_CONNECTION_MS : timeoutMs);

/** `gateway` mode: a connection's device is watched from now (written before the device, so no live device goes unwatched). */
export async function watchConnection(entry: { userId: string; device: string; conn: string }, now: number): Promise<void> {
  if (config.heartbeatMode !== 'gateway') return;
  const due = now + timeoutMs;
  await store.scheduleLiveness([{ ...entry, due, bucket: bucketOf(due) }], BUCKET_MS);
}

/** When the connection last carried a client message (epoch ms), `gone`, or `unknown`. */
export type ConnectionActivity = { lastActiveAt: number } | 'gone' | 'unknown';

export async function connectionActivity(connectionId: string): Promise<ConnectionActivity> {
  try {
    const out = await connections().send(new GetConnectionCommand({ ConnectionId: connectionId }));
    const at = out.LastActiveAt ?? out.ConnectedAt;
    return at ? { lastActiveAt: at.getTime() } : 'unknown';
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (error instanceof GoneException || status === 410) return 'gone';
    logger.warn('GetConnection failed; the connection is looked at again next round', { connectionId, error });
    return 'unknown';
  }
}

export interface LivenessCounts {
  /** connections asked about (GetConnection) */
  connectionsChecked: number;
  /** devices taken offline: connection silent for the timeout, or gone */
  devicesExpired: number;
  /** devices back online: a silent connection spoke again */
  devicesRestored: number;
  /** users whose last device this took away (SweeperUsersOffline) */
  usersMarkedOffline: number;
}

export const noLivenessCounts = (): LivenessCounts => ({ connectionsChecked: 0, devicesExpired: 0, devicesRestored: 0, usersMarkedOffline: 0 });

type Entry = store.LivenessEntry;
const entryKey = (e: Entry) => `${e.userId}\u0000${e.device}\u0000${e.conn}`;

/**
 * One round of the wheel, under a lease (another sweep running at the same
 * time skips it): from the cursor up to the current second, a step of
 * buckets at a time: read them, check the due connections, write the entries
 * that stay watched into their next buckets, then move the cursor. A step
 * that fails is read again next round (an entry may be checked twice, never
 * lost); a round that runs out of time leaves the rest to the next.
 */
export async function sweepLiveness(now: number): Promise<LivenessCounts> {
  const counts = noLivenessCounts();
  if (config.heartbeatMode !== 'gateway') return counts;
  try {
    await store.withLease('liveness', () => wheelRound(now, counts), 0);
  } catch (error) {
    if (error instanceof ApiError && error.code === 'unavailable') logger.info('another sweep is turning the liveness wheel');
    else throw error;
  }
  return counts;
}

async function wheelRound(now: number, counts: LivenessCounts): Promise<void> {
  const started = Date.now();
  const current = bucketOf(now);
  let cursor = Math.max((await store.livenessCursor()) ?? current - STEP_BUCKETS, current - LOOKBACK_BUCKETS);
  while (cursor < current && Date.now() - started < ROUND_BUDGET_MS) {
    const last = Math.min(current, cursor + STEP_BUCKETS);
    await wheelStep(cursor + 1, last, now, counts);
    await store.setLivenessCursor(last);
    cursor = last;
  }
}

async function wheelStep(first: number, last: number, now: number, counts: LivenessCounts): Promise<void> {
  const reads = store.sweepShards().flatMap((shard) => Array.from({ length: last - first + 1 }, (_, i) => ({ shard, bucket: first + i })));
  // one entry per connection's device: the latest due wins
  const entries = new Map<string, Entry>();
  await mapLimit(reads, 32, async ({ shard, bucket }) => {
    for (const e of await store.livenessEntries(shard, bucket)) {
      const seen = entries.get(entryKey(e));
      if (!seen || e.due > seen.due || (e.due === seen.due && !e.stale)) entries.set(entryKey(e), e);
    }
  });
  const next: (Entry & { bucket: number })[] = [];
  const keep = (e: Entry) => void next.push({ ...e, bucket: Math.max(bucketOf(e.due), last + 1) });
  await mapLimit([...entries.values()], 16, async (e) => {
    if (e.due > now) return keep(e);
    try {
      await check(e, now, counts, keep);
    } catch (error) {
      // throttled, contended, unreachable: not a sign of death; looked at again next round
      logger.warn('liveness check failed; looked at again next round', { userId: e.userId, error });
      keep({ ...e, due: now });
    }
  });
  await store.scheduleLiveness(next, BUCKET_MS);
}

async function check(e: Entry, now: number, counts: LivenessCounts, keep: (e: Entry) => void): Promise<void> {
  counts.connectionsChecked++;
  const activity = await connectionActivity(e.conn);
  if (activity === 'unknown') return keep({ ...e, due: now });
  if (activity === 'gone') {
    // as $disconnect would: the connection, its device (unless another connection shares it) and its listeners
    const gone = await forgetConnection(e.userId, e.conn);
    counts.devicesExpired += gone.devicesOffline;
    if (gone.userOffline) counts.usersMarkedOffline++;
    return;
  }
  const live = { userId: e.userId, device: e.device, conn: e.conn };
  const activeUntil = activity.lastActiveAt + timeoutMs;
  if (activeUntil > now) {
    if (e.stale) {
      const restored = await restore(e);
      if (restored === 'closed') return;
      if (restored === 'restored') counts.devicesRestored++;
    }
    return keep({ ...live, due: activeUntil });
  }
  if (!e.stale) {
    // a message a function saw (its last sign of life, `l`) after API Gateway's answer was read also counts
    let seenUntil = activeUntil;
    const out = await store.mutateUser(e.userId, (s, t) => {
      const d = s.devices[e.device];
      if (d?.c === e.conn) seenUntil = Math.max(activeUntil, d.l + timeoutMs);
      // null, or a state without the device (or with it handed to another connection): never unchanged
      return seenUntil > t ? null : expireConnectionDevice(s, e.device, e.conn, activeUntil, t);
    });
    if (seenUntil > now) return keep({ ...live, due: seenUntil });
    if (out.written) counts.devicesExpired++;
    if (wentOffline(out)) counts.usersMarkedOffline++;
  }
  // the socket is open but silent: look every round, so the device comes back when the client speaks again
  keep({ ...live, due: now, stale: true });
}

/**
 * A silent connection spoke again: its device is live again (`restored`), or
 * already is (`live`: held by this or another connection), or the connection
 * is closed (`closed`: nothing to watch). Past the device cap it throws: the
 * device stays away and the connection is looked at again next round.
 */
async function restore(e: Entry): Promise<'restored' | 'live' | 'closed'> {
  let outcome: 'restored' | 'live' | 'closed' = 'restored';
  await store.mutateUser(e.userId, (s, t) => {
    if (!s.conns[e.conn]) outcome = 'closed';
    else if (s.devices[e.device]) outcome = 'live';
    else return upsertDevice(s, e.device, { kind: 'ws', conn: e.conn, expiresAt: wsDeviceExpiry(t) }, t);
    return null;
  });
  return outcome;
}
