/**
 * Liveness in the `gateway` heartbeat mode (lib/routes.ts HeartbeatMode):
 * WebSocket heartbeats go to a MOCK integration, so no function sees them and
 * nothing is written when a client sends one. Instead:
 *
 * - A WebSocket device's stored expiry is its connection's longest life
 *   (MAX_CONNECTION_MS), so reads and other writes never see it lapse while
 *   the connection lives; when it opens, a liveness entry is written for it.
 * - Entries sit in a time wheel (store: LIVE#<shard>#<bucket> items, up to 200
 *   entries each). Each sweeper round reads the buckets that have come since
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
import { dropConnection, expireConnectionDevice, MAX_CONNECTION_MS, upsertDevice } from '../core/presence.ts';
import { connections } from './clients.ts';
import { config } from './config.ts';
import { log } from './log.ts';
import { mapLimit } from './map-limit.ts';
import * as store from './store.ts';

const timeoutMs = config.presenceTimeoutSeconds * 1000;
/** the wheel's bucket: one sweep interval, and at most half the timeout so a new entry never lands in a bucket already read */
export const BUCKET_MS = Math.max(1, Math.min(config.sweepIntervalSeconds * 1000, Math.floor(timeoutMs / 2)));
/** how many buckets one round reads at most (catching up after the sweeper stopped: 40 × 15 s = 10 minutes per round) */
const MAX_BUCKETS_PER_ROUND = 40;
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
    log.warn('GetConnection failed; the connection is looked at again next round', { connectionId, error });
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
}

type Entry = store.LivenessEntry;
const entryKey = (e: Entry) => `${e.userId}\u0000${e.device}\u0000${e.conn}`;

/**
 * One round of the wheel: reads the buckets after the cursor up to the
 * current one, checks the due connections, writes the entries that stay
 * watched into their next buckets, then moves the cursor (so a round that
 * fails part-way is read again: an entry may be checked twice, never lost).
 */
export async function sweepLiveness(now: number): Promise<LivenessCounts> {
  const counts: LivenessCounts = { connectionsChecked: 0, devicesExpired: 0, devicesRestored: 0 };
  if (config.heartbeatMode !== 'gateway') return counts;
  const current = bucketOf(now);
  const cursor = (await store.livenessCursor()) ?? current - MAX_BUCKETS_PER_ROUND;
  const last = Math.min(current, cursor + MAX_BUCKETS_PER_ROUND);
  if (last <= cursor) return counts;
  const buckets = Array.from({ length: last - cursor }, (_, i) => cursor + 1 + i);
  const read = await Promise.all(store.sweepShards().flatMap((shard) => buckets.map((b) => store.livenessEntries(shard, b))));
  // one entry per connection's device: the latest due wins
  const entries = new Map<string, Entry>();
  for (const e of read.flat()) {
    const seen = entries.get(entryKey(e));
    if (!seen || e.due > seen.due || (e.due === seen.due && !e.stale)) entries.set(entryKey(e), e);
  }
  const next: (Entry & { bucket: number })[] = [];
  const keep = (e: Entry) => next.push({ ...e, bucket: Math.max(bucketOf(e.due), last + 1) });
  await mapLimit([...entries.values()], 16, async (e) => {
    if (e.due > now) return void keep(e);
    counts.connectionsChecked++;
    const activity = await connectionActivity(e.conn);
    if (activity === 'unknown') return void keep(e);
    if (activity === 'gone') {
      // as $disconnect would: the connection, its device (unless another connection holds it) and its listeners
      const out = await store.mutateUser(
        e.userId,
        (s, t) => (s.conns[e.conn] || Object.values(s.devices).some((d) => d.c === e.conn) ? dropConnection(s, e.conn, t) : null),
        {
          force: true,
        },
      );
      if (out.written) {
        counts.devicesExpired += Object.keys(out.before.devices).length - Object.keys(out.state.devices).length;
        await store.removeListeners(e.conn);
      }
      return;
    }
    const activeUntil = activity.lastActiveAt + timeoutMs;
    if (activeUntil > now) {
      if (e.stale) {
        const restored = await restore(e);
        // back online, or the device is held again some other way (the client's own message re-added it, with its own entry)
        if (restored === 'restored') counts.devicesRestored++;
        else return;
      }
      return void keep({ userId: e.userId, device: e.device, conn: e.conn, due: activeUntil });
    }
    if (!e.stale) {
      const out = await store.mutateUser(e.userId, (s, t) => expireConnectionDevice(s, e.device, e.conn, activeUntil, t), { force: true });
      if (out.written) counts.devicesExpired++;
    }
    // the socket is open but silent: look every round, so the device comes back when the client speaks again
    keep({ ...e, due: now, stale: true });
  });
  await store.scheduleLiveness(next, BUCKET_MS);
  await store.setLivenessCursor(last);
  return counts;
}

/** A silent connection spoke again: its device is live again, unless it is held already or the connection is closed. */
async function restore(e: Entry): Promise<'restored' | 'held' | 'closed'> {
  let outcome: 'restored' | 'held' | 'closed' = 'restored';
  try {
    await store.mutateUser(e.userId, (s, t) => {
      if (!s.conns[e.conn]) outcome = 'closed';
      else if (s.devices[e.device]) outcome = 'held';
      else return upsertDevice(s, e.device, { kind: 'ws', conn: e.conn, expiresAt: wsDeviceExpiry(t) }, t);
      return null;
    });
    return outcome;
  } catch (error) {
    // e.g. the user reached the device limit meanwhile: the device stays offline until the client reconnects
    log.warn('could not bring a connection back online', { userId: e.userId, error });
    return 'closed';
  }
}
