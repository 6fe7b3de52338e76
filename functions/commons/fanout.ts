/**
 * Fan-out of one change of a user's presence to everyone watching them:
 * watchers are queried, privacy is applied per recipient, recipients'
 * connections are read in batches of 100 (ceil(N/100) BatchGetItem calls),
 * pushes are posted with bounded concurrency, and connections that answer
 * 410 Gone are removed.
 */
import { DeleteConnectionCommand, GoneException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { iso, projectedVersion, projectFor, type UserState } from '../core/presence.ts';
import { connections } from './clients.ts';
import { config } from './config.ts';
import { log } from './log.ts';
import { disconnect, mapLimit } from './operations.ts';
import * as store from './store.ts';

export interface FanoutResult {
  recipients: number;
  posted: number;
  gone: number;
  /** posts that still failed after their retries (throttled, 5xx, network): re-queued while attempts remain */
  failed: number;
}

/** deliveries of one change to one recipient: the first, then re-queued ones for posts that failed */
export const MAX_DELIVERY_ATTEMPTS = 5;

interface Delivery {
  userId: string;
  connectionId: string;
  payload: string;
}

/**
 * The audience of a change of `userId`: subscribers and userIds listeners,
 * listeners of the user's groups, and friends with a friends listener open.
 */
async function audience(userId: string, now: number) {
  const [watchers, { friends, groups }] = await Promise.all([store.watchersOf(userId, now), store.relationsOf(userId)]);
  const groupListeners = await Promise.all(groups.map((g) => store.groupListenersOf(g, now)));
  const direct = new Set([...watchers, ...groupListeners.flat()]);
  const friendsOnly = [...friends].filter((f) => !direct.has(f));
  return { direct, friendsOnly, friends };
}

/** A state as a queued chunk carries it: connection records carry no presence, and chunks stay small. */
const withoutConnections = (s: UserState): UserState => ({ ...s, conns: {} });

/** One unit of delivery: a change and part of its audience (≤ FANOUT_CHUNK_SIZE recipients). */
export interface FanoutChunk {
  before: UserState;
  after: UserState;
  /** epoch ms of the fan-out (pushes carry it as `timestamp`) */
  at: number;
  /** recipients: userId, whether they are friends of the changed user, whether they watch directly */
  recipients: { u: string; friend: boolean; direct: boolean }[];
  /** 1 for the first delivery; a chunk of recipients whose posts failed comes back with the next */
  attempt?: number;
}

/** Where chunks go (SQS on AWS, an in-process queue locally), optionally after a delay. */
export type ChunkQueue = (chunks: FanoutChunk[], delaySeconds?: number) => Promise<void>;

/**
 * Fans out one change: small audiences are delivered right here; larger ones
 * are split into chunks handed to `queue` and delivered in parallel by the
 * fan-out chunk function, each chunk retried on its own.
 */
export async function fanOut(before: UserState, after: UserState, queue?: ChunkQueue, now = Date.now()): Promise<FanoutResult & { chunks: number }> {
  const { direct, friendsOnly, friends } = await audience(after.userId, now);
  const recipients = [
    ...[...direct].map((u) => ({ u, friend: friends.has(u), direct: true })),
    ...friendsOnly.map((u) => ({ u, friend: true, direct: false })),
  ];
  const size = config.fanoutChunkSize;
  if (recipients.length <= size || !queue) {
    return { ...(await deliverChunk({ before, after, at: now, recipients }, queue)), chunks: 0 };
  }
  const chunks: FanoutChunk[] = [];
  for (let i = 0; i < recipients.length; i += size)
    chunks.push({ before: withoutConnections(before), after: withoutConnections(after), at: now, recipients: recipients.slice(i, i + size) });
  await queue(chunks);
  return { recipients: recipients.length, posted: 0, gone: 0, failed: 0, chunks: chunks.length };
}

/**
 * Delivers one chunk: reads the recipients' connections (⌈n/100⌉ batch reads),
 * applies privacy, posts. Recipients with a post that still failed after its
 * retries are handed back to `queue` as a chunk of their own, delayed, until
 * MAX_DELIVERY_ATTEMPTS (a recipient reached twice ignores the older version).
 */
export async function deliverChunk(chunk: FanoutChunk, queue?: ChunkQueue): Promise<FanoutResult> {
  const { before, after, at } = chunk;
  const result: FanoutResult = { recipients: 0, posted: 0, gone: 0, failed: 0 };
  if (chunk.recipients.length === 0) return result;
  const states = await store.getUserStates(
    chunk.recipients.map((r) => r.u),
    ['conns'],
  );
  const timestamp = iso(at);
  const deliveries: Delivery[] = [];
  for (const r of chunk.recipients) {
    const conns = Object.entries(states.get(r.u)?.conns ?? {});
    // a friend hears only while one of their connections listens to friends
    if (!r.direct && !conns.some(([, c]) => c.f)) continue;
    const rel = { self: r.u === after.userId, friend: r.friend };
    if (projectedVersion(after, rel) <= projectedVersion(before, rel)) continue;
    result.recipients++;
    const payload = JSON.stringify({ type: 'presence', data: projectFor(after, rel, at), timestamp });
    for (const [connectionId] of conns) deliveries.push({ userId: r.u, connectionId, payload });
  }
  const retry = new Set<string>();
  await mapLimit(deliveries, config.fanoutConcurrency, async (d) => {
    const outcome = await post(d);
    result[outcome]++;
    if (outcome === 'failed') retry.add(d.userId);
  });
  if (retry.size > 0) {
    const attempt = (chunk.attempt ?? 1) + 1;
    if (queue && attempt <= MAX_DELIVERY_ATTEMPTS) {
      await queue(
        [
          {
            ...chunk,
            before: withoutConnections(before),
            after: withoutConnections(after),
            recipients: chunk.recipients.filter((r) => retry.has(r.u)),
            attempt,
          },
        ],
        attempt - 1,
      );
    } else {
      log.error('pushes given up', { userId: after.userId, version: after.version, recipients: retry.size, attempts: chunk.attempt ?? 1 });
    }
  }
  return result;
}

async function post(d: Delivery): Promise<'posted' | 'gone' | 'failed'> {
  for (let attempt = 0; ; attempt++) {
    try {
      await connections().send(new PostToConnectionCommand({ ConnectionId: d.connectionId, Data: d.payload }));
      return 'posted';
    } catch (err) {
      if (err instanceof GoneException || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 410) {
        await disconnect(d.userId, d.connectionId).catch((e) => log.warn('stale connection cleanup failed', { error: e }));
        return 'gone';
      }
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // throttled, a server error, or no answer at all: worth another try
      if ((status === undefined || status === 429 || status >= 500) && attempt < 3) {
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt * (0.5 + Math.random())));
        continue;
      }
      log.warn('push failed', { connectionId: d.connectionId, error: err });
      return 'failed';
    }
  }
}

/** Closes a connection from the server side (e.g. tests, admin). */
export async function closeConnection(connectionId: string): Promise<void> {
  await connections().send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
}
