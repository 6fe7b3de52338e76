/**
 * Liveness in the `gateway` heartbeat mode (lib/routes.ts HeartbeatMode):
 * WebSocket heartbeats go to a MOCK integration, so nothing extends a
 * WebSocket device when its client sends one. When the sweeper finds such a
 * device due, it asks API Gateway for the connection (GetConnection): active
 * within the timeout → the device is extended to LastActiveAt + timeout, all
 * of a user's devices in ONE conditional write; stale or gone → the normal
 * sweep takes the device offline and subscribers are told. A connection whose
 * state cannot be read (throttled, an error) is left due and looked at again
 * next round: not knowing is not a sign of death.
 */
import { GetConnectionCommand, GoneException } from '@aws-sdk/client-apigatewaymanagementapi';
import { sweepDueAt } from '../core/presence.ts';
import { connections } from './clients.ts';
import { config } from './config.ts';
import { log } from './log.ts';
import * as store from './store.ts';

const timeoutMs = config.presenceTimeoutSeconds * 1000;
const MAX_ATTEMPTS = 3;

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
    log.warn('GetConnection failed; the device stays due', { connectionId, error });
    return 'unknown';
  }
}

/**
 * What the sweeper still has to do for a due user after the live WebSocket
 * devices were extended: `done` (nothing else is due), `sweep` (a device is
 * stale or gone, or something else is due: take the normal sweep), `later`
 * (a connection could not be read: leave the user due).
 */
export type LivenessOutcome = 'done' | 'sweep' | 'later';

export async function extendLiveDevices(userId: string, now: number): Promise<LivenessOutcome> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const state = await store.getUserState(userId);
    const due = Object.entries(state.devices).filter(([, d]) => d.k === 'ws' && d.c !== undefined && d.e <= now);
    if (due.length === 0) return 'sweep';
    const seen = await Promise.all(due.map(async ([name, d]) => ({ name, d, activity: await connectionActivity(d.c as string) })));
    if (seen.some((s) => s.activity === 'unknown')) return 'later';
    const extended: Record<string, { e: number; l: number }> = {};
    for (const { name, d, activity } of seen)
      if (typeof activity === 'object' && activity.lastActiveAt + timeoutMs > now)
        extended[name] = { e: activity.lastActiveAt + timeoutMs, l: Math.max(d.l, activity.lastActiveAt) };
    const names = Object.keys(extended);
    if (names.length === 0) return 'sweep';
    const devices = { ...state.devices };
    for (const name of names) devices[name] = { ...(devices[name] as (typeof devices)[string]), ...extended[name] };
    const nextDue = sweepDueAt({ ...state, devices });
    if (await store.extendDevices(state, extended, nextDue)) return names.length < due.length || (nextDue !== null && nextDue <= now) ? 'sweep' : 'done';
  }
  // written by someone else each time: the next round looks again
  return 'later';
}
