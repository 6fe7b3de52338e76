/**
 * The Presence table's user-state item (USER#<userId> / STATE): how a
 * UserState is stored (toItem: with the sparse index keys its state calls
 * for) and read back (stateFromItem).
 */

import { emptyState, listedOnline, sweepDueAt, type UserState } from '../../core/presence.ts';
import { keys, ONLINE_SHARDS, shardOf, sweepShard } from './keys.ts';

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

export function toItem(state: UserState, writtenAt: number): StateItem {
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
