/**
 * Fan-out of one change of a user's presence to everyone watching them:
 * watchers are queried, privacy is applied per recipient, recipients'
 * connections are read in batches of 100 (ceil(N/100) BatchGetItem calls),
 * pushes are posted with bounded concurrency, and connections that answer
 * 410 Gone are removed. Metrics (docs/observability.md): FanoutRecipients
 * and FanoutDuration per change; per delivered chunk PushesSent, PushesGone,
 * PushesThrottled, PushesRequeued (and PushesRejected, PushesGivenUp) and
 * NotifyLag, from the state's write to the chunk's last post.
 */
import { DeleteConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { encodePush, isPushFormat } from '../compat/push-formats.ts';
import { iso, type Presence, pushFor, type UserState } from '../core/presence.ts';
import { connections, postToConnection } from './clients.ts';
import { config } from './config.ts';
import { logger } from './logger.ts';
import { mapLimit } from './map-limit.ts';
import { count, ExtraMetricName, MetricName, milliseconds, sample } from './metrics.ts';
import { disconnect } from './operations.ts';
import * as store from './store.ts';

export interface FanoutResult {
  recipients: number;
  posted: number;
  gone: number;
  /** posts that still failed after their retries (throttled, 5xx, network): re-queued while attempts remain */
  failed: number;
  /** posts refused for good (413 too large, 4xx): never retried */
  rejected: number;
  /** post attempts API Gateway answered 429 (each retried, or the push re-queued) */
  throttled: number;
}

/** deliveries of one change to one recipient: the first, then re-queued ones for posts that failed */
export const MAX_DELIVERY_ATTEMPTS = 5;

/** One change as a kind of recipient sees it: the presence, the contract's push (JSON), the same in other formats once asked for. */
interface Payload {
  data: Presence;
  json: string;
  formats: Map<string, string>;
}

interface Delivery {
  userId: string;
  connectionId: string;
  payload: string;
}

/**
 * The audience of a change of `userId` to `version`: subscribers and userIds
 * listeners, listeners of the user's groups who are still members of that
 * group (a listener outlives a membership only until this check), friends
 * with a friends listener open, and whoever's friendship with the user this
 * change records as ended (they may have to be told they lost sight).
 * The user's bidirectional listens add, from the same Query of its watchers:
 * the users they registered, the members of a group the user listened to
 * (while the user is still a member: its groups come with its relations),
 * and all its friends, who then hear it without a friends listener of theirs.
 * Null when that version was fanned out already (a replayed or late record):
 * the record of what was pushed comes with the user's relations, in the same
 * Query, so checking costs no request of its own.
 */
async function audience(userId: string, version: number, now: number, relationChanged: readonly string[]) {
  const [watchers, { friends, groups, pushed }] = await Promise.all([store.watchersOf(userId, now), store.relationsOf(userId)]);
  if ((pushed ?? (await store.legacyPushedVersion(userId))) >= version) return null;
  const direct = new Set(watchers.users);
  const hearingGroups = watchers.groups.filter((g) => groups.includes(g));
  for (const members of await Promise.all(hearingGroups.map((g) => store.allGroupMembers(g)))) for (const m of members) if (m !== userId) direct.add(m);
  if (watchers.friends) for (const f of [...friends, ...relationChanged]) direct.add(f);
  const listening = (await Promise.all(groups.map(async (groupId) => (await store.groupListenersOf(groupId, now)).map((u) => ({ groupId, userId: u })))))
    .flat()
    .filter((l) => !direct.has(l.userId));
  if (listening.length > 0) {
    const members = await store.memberships(listening);
    for (const l of listening) if (members.has(store.membershipKey(l.groupId, l.userId))) direct.add(l.userId);
  }
  const friendsOnly = [...new Set([...friends, ...relationChanged])].filter((f) => !direct.has(f));
  return { direct, friendsOnly, friends };
}

/**
 * The generic facade's everyone-broadcast (opt-in, docs/compat.md): the
 * connections registered for it (at most `genericBroadcastMax`, one Query)
 * whose users are not in the audience already, each with only those
 * connections (their user's other connections hear what they follow).
 */
async function broadcastRecipients(now: number, audience: ReadonlySet<string>, friends: ReadonlySet<string>): Promise<FanoutChunk['recipients']> {
  const byUser = new Map<string, string[]>();
  for (const { userId, conn } of await store.broadcastListeners('generic', now, config.genericBroadcastMax)) {
    if (audience.has(userId)) continue;
    byUser.set(userId, [...(byUser.get(userId) ?? []), conn]);
  }
  return [...byUser].map(([u, conns]) => ({ u, friend: friends.has(u), direct: true, conns }));
}

/** A state as a queued chunk carries it: connection records carry no presence, and chunks stay small. */
const withoutConnections = (s: UserState): UserState => ({ ...s, conns: {} });

/** One unit of delivery: a change and part of its audience (≤ FANOUT_CHUNK_SIZE recipients). */
export interface FanoutChunk {
  before: UserState;
  after: UserState;
  /** epoch ms of the fan-out (pushes carry it as `timestamp`) */
  at: number;
  /**
   * recipients: userId, whether they are friends of the changed user, whether they watch directly,
   * whether this change is their friendship with the user being added or removed, and, for a
   * recipient only through the everyone-broadcast, the connections that hear it (none other does)
   */
  recipients: { u: string; friend: boolean; direct: boolean; toggled?: true; conns?: string[] }[];
  /** 1 for the first delivery; a chunk of recipients whose posts failed comes back with the next */
  attempt?: number;
  /**
   * delivered from the chunk queue, so possibly late: skipped when a newer
   * version of the user has been fanned out since (no recipient gets an older
   * state after a newer one)
   */
  queued?: true;
  /** epoch ms of the state write that made `after` (its item's writtenAt): NotifyLag counts from there; absent: not measured */
  writtenAt?: number;
}

/** Where chunks go (SQS on AWS, an in-process queue locally), optionally after a delay. */
export type ChunkQueue = (chunks: FanoutChunk[], delaySeconds?: number) => Promise<void>;

export interface FanoutOptions {
  /** where chunks of a large audience go; none: every audience is delivered inline */
  queue?: ChunkQueue;
  /** when the fan-out happens (epoch ms; pushes carry it as `timestamp`) */
  now?: number;
  /** the users whose friendship with this user the change added or removed */
  relationChanged?: readonly string[];
  /** the change is only friendships being added or removed: nobody else sees anything new */
  onlyRelationChanged?: boolean;
  /** epoch ms of the state write that made `after` (NotifyLag) */
  writtenAt?: number;
}

/**
 * Fans out one change: small audiences are delivered right here; larger ones
 * are split into chunks handed to `queue` and delivered in parallel by the
 * fan-out chunk function, each chunk retried on its own.
 * Returns null, having pushed nothing, when `after.version` (or a newer one)
 * was fanned out already; the caller records the version once this returns.
 */
export async function fanOut(
  before: UserState,
  after: UserState,
  { queue, now = Date.now(), relationChanged = [], onlyRelationChanged = false, writtenAt }: FanoutOptions = {},
): Promise<(FanoutResult & { chunks: number }) | null> {
  const started = Date.now();
  const found = await audience(after.userId, after.version, now, relationChanged);
  if (!found) return null;
  const { direct, friendsOnly, friends } = found;
  const toggled = new Set(relationChanged);
  const recipient = (u: string, isDirect: boolean) => ({ u, friend: friends.has(u), direct: isDirect, ...(toggled.has(u) ? { toggled: true as const } : {}) });
  const watching = [...[...direct].map((u) => recipient(u, true)), ...friendsOnly.map((u) => recipient(u, false))];
  const broadcast = config.genericBroadcastMax > 0 ? await broadcastRecipients(now, new Set([...direct, ...friendsOnly]), friends) : [];
  const recipients = [...watching, ...broadcast].filter((r) => !onlyRelationChanged || r.toggled);
  sample(MetricName.FanoutRecipients, recipients.length);
  const size = config.fanoutChunkSize;
  let result: FanoutResult & { chunks: number };
  if (recipients.length <= size || !queue) {
    result = { ...(await deliverChunk({ before, after, at: now, recipients, writtenAt }, queue)), chunks: 0 };
  } else {
    const chunks: FanoutChunk[] = [];
    for (let i = 0; i < recipients.length; i += size)
      chunks.push({
        before: withoutConnections(before),
        after: withoutConnections(after),
        at: now,
        recipients: recipients.slice(i, i + size),
        queued: true,
        ...(writtenAt ? { writtenAt } : {}),
      });
    await queue(chunks);
    result = { recipients: recipients.length, posted: 0, gone: 0, failed: 0, rejected: 0, throttled: 0, chunks: chunks.length };
  }
  milliseconds(MetricName.FanoutDuration, Date.now() - started);
  return result;
}

/**
 * Delivers one chunk: reads the recipients' connections (⌈n/100⌉ batch reads),
 * applies privacy, posts. Recipients with a post that still failed after its
 * retries are handed back to `queue` as a chunk of their own, delayed, until
 * MAX_DELIVERY_ATTEMPTS (a recipient reached twice ignores the older version).
 */
export async function deliverChunk(chunk: FanoutChunk, queue?: ChunkQueue): Promise<FanoutResult> {
  const { before, after, at } = chunk;
  const result: FanoutResult = { recipients: 0, posted: 0, gone: 0, failed: 0, rejected: 0, throttled: 0 };
  if (chunk.recipients.length === 0) return result;
  if (chunk.queued && (await store.pushedVersion(after.userId)) > after.version) return result;
  const states = await store.getUserStates(
    chunk.recipients.map((r) => r.u),
    ['conns'],
  );
  const timestamp = iso(at);
  const deliveries: Delivery[] = [];
  // what a recipient is sent depends only on how it relates to the user (self, friend, friendship toggled):
  // computed and serialized once per kind, not once per recipient
  const payloads = new Map<string, Payload | null>();
  const payloadFor = (self: boolean, friend: boolean, toggled: boolean) => {
    const key = `${+self}${+friend}${+toggled}`;
    let payload = payloads.get(key);
    if (payload === undefined) {
      const relAfter = { self, friend };
      const data = pushFor(before, after, toggled ? { self, friend: !friend } : relAfter, relAfter, at);
      payload = data ? { data, json: JSON.stringify({ type: 'presence', data, timestamp }), formats: new Map() } : null;
      payloads.set(key, payload);
    }
    return payload;
  };
  // a connection with a compatibility facade's push format (docs/compat.md) gets the same change in that format:
  // encoded once per kind and format, on the first such connection
  const inFormat = (payload: Payload, format: string): string => {
    if (!isPushFormat(format)) return payload.json;
    let json = payload.formats.get(format);
    if (json === undefined) {
      json = encodePush(format, payload.data, timestamp);
      payload.formats.set(format, json);
    }
    return json;
  };
  for (const r of chunk.recipients) {
    const all = Object.entries(states.get(r.u)?.conns ?? {});
    const conns = r.conns ? all.filter(([id]) => r.conns?.includes(id)) : all;
    // a friend hears only while one of their connections listens to friends
    if (!r.direct && !conns.some(([, c]) => c.f)) continue;
    const payload = payloadFor(r.u === after.userId, r.friend, r.toggled === true);
    if (payload === null) continue;
    result.recipients++;
    for (const [connectionId, c] of conns) deliveries.push({ userId: r.u, connectionId, payload: c.p === undefined ? payload.json : inFormat(payload, c.p) });
  }
  const retry = new Set<string>();
  let lastPostedAt = 0;
  await mapLimit(deliveries, config.fanoutConcurrency, async (d) => {
    const outcome = await post(d, result);
    result[outcome]++;
    if (outcome === 'posted') lastPostedAt = Date.now();
    if (outcome === 'failed') retry.add(d.userId);
  });
  count(MetricName.PushesSent, result.posted);
  count(MetricName.PushesGone, result.gone);
  count(MetricName.PushesThrottled, result.throttled);
  count(ExtraMetricName.PushesRejected, result.rejected);
  if (result.posted > 0 && chunk.writtenAt) milliseconds(MetricName.NotifyLag, lastPostedAt - chunk.writtenAt);
  if (retry.size > 0) {
    const attempt = (chunk.attempt ?? 1) + 1;
    if (queue && attempt <= MAX_DELIVERY_ATTEMPTS) {
      count(MetricName.PushesRequeued, result.failed);
      await queue(
        [
          {
            ...chunk,
            before: withoutConnections(before),
            after: withoutConnections(after),
            recipients: chunk.recipients.filter((r) => retry.has(r.u)),
            attempt,
            queued: true,
          },
        ],
        attempt - 1,
      );
    } else {
      count(ExtraMetricName.PushesGivenUp, result.failed);
      logger.error('pushes given up', { userId: after.userId, version: after.version, recipients: retry.size, attempts: chunk.attempt ?? 1 });
    }
  }
  return result;
}

/** Posts one push, retrying what is worth it; 429s are counted in `tally.throttled`. */
async function post(d: Delivery, tally: { throttled: number }): Promise<'posted' | 'gone' | 'failed' | 'rejected'> {
  for (let attempt = 0; ; attempt++) {
    try {
      await postToConnection(d.connectionId, d.payload);
      return 'posted';
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 410) {
        await disconnect(d.userId, d.connectionId).catch((e) => logger.warn('stale connection cleanup failed', { error: e }));
        return 'gone';
      }
      // too large (413) or otherwise refused for good: another try would be refused the same way
      if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
        logger.error('push refused', { connectionId: d.connectionId, bytes: Buffer.byteLength(d.payload), error: err });
        return 'rejected';
      }
      if (status === 429) tally.throttled++;
      // throttled, a server error, or no answer at all: worth another try
      if ((status === undefined || status === 429 || status >= 500) && attempt < 3) {
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt * (0.5 + Math.random())));
        continue;
      }
      logger.warn('push failed', { connectionId: d.connectionId, error: err });
      return 'failed';
    }
  }
}

/** Closes a connection from the server side (e.g. tests, admin). */
export async function closeConnection(connectionId: string): Promise<void> {
  await connections().send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
}
