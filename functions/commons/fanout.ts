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
  failed: number;
}

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

export async function fanOut(before: UserState, after: UserState, now = Date.now()): Promise<FanoutResult> {
  const result: FanoutResult = { recipients: 0, posted: 0, gone: 0, failed: 0 };
  const { direct, friendsOnly, friends } = await audience(after.userId, now);
  if (direct.size === 0 && friendsOnly.length === 0) return result;
  const states = await store.getUserStates([...direct, ...friendsOnly], ['conns']);
  const timestamp = iso(now);
  const deliveries: Delivery[] = [];
  for (const [userId, state] of states) {
    const conns = Object.entries(state.conns);
    // a friend hears only while one of their connections listens to friends
    if (!direct.has(userId) && !conns.some(([, c]) => c.f)) continue;
    const rel = { self: userId === after.userId, friend: friends.has(userId) };
    if (projectedVersion(after, rel) <= projectedVersion(before, rel)) continue;
    result.recipients++;
    const payload = JSON.stringify({ type: 'presence', data: projectFor(after, rel, now), timestamp });
    for (const [connectionId] of conns) deliveries.push({ userId, connectionId, payload });
  }
  await mapLimit(deliveries, config.fanoutConcurrency, async (d) => {
    const outcome = await post(d);
    result[outcome]++;
  });
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
      if ((status === 429 || (status !== undefined && status >= 500)) && attempt < 3) {
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
