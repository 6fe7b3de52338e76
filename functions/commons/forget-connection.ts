/**
 * A WebSocket connection that is gone ($disconnect, a push answered 410, or
 * the liveness check's GoneException) is forgotten the same way on every
 * path: its record, its listeners (its bidirectional listens' registrations
 * shortly after), and its device unless another connection took the device
 * over. One module so that operations.ts and liveness.ts
 * (which operations.ts imports) share it.
 */
import { dropConnection } from '../core/presence.ts';
import { config } from './config.ts';
import * as store from './store.ts';

/** A write that took the user's last device away (counted as SweeperUsersOffline by the sweeps). */
export const wentOffline = (out: store.MutationResult) =>
  out.written && Object.keys(out.before.devices).length > 0 && Object.keys(out.state.devices).length === 0;

/**
 * How long the users a bidirectional listen of a gone connection registered
 * still hear its user: long enough for the change that takes the
 * connection's device away (written here, fanned out from the stream a
 * moment later, or after the stream's retries) to reach them too.
 */
export const HEARD_AFTER_CLOSE_MS = 60_000;

/**
 * Forgets `conn`: how many devices went offline with it, and whether that was
 * the user's last. Never refused by the change budget: a gone connection is a
 * fact, not a request.
 */
export async function forgetConnection(userId: string, conn: string): Promise<{ devicesOffline: number; userOffline: boolean }> {
  // `gateway` mode: a device two connections share stays with the other one (its heartbeats reach no function to bring it back)
  const handOver = config.heartbeatMode === 'gateway';
  const [out] = await Promise.all([
    store.mutateUser(userId, (s, now) => dropConnection(s, conn, now, handOver)),
    store.removeListeners(conn, Date.now() + HEARD_AFTER_CLOSE_MS),
  ]);
  return {
    devicesOffline: out.written ? Object.keys(out.before.devices).length - Object.keys(out.state.devices).length : 0,
    userOffline: wentOffline(out),
  };
}
