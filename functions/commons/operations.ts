/**
 * The presence operations shared by HTTP routes, WebSocket actions and
 * workers: they take plain values (already authenticated and validated),
 * call the store and the core, and return plain values.
 */
import { ApiError, badRequest, notFound } from '../core/errors.ts';
import {
  applyPatch,
  type DeviceKind,
  type DeviceStatus,
  dropConnection,
  MAX_CONNECTION_MS,
  type OwnPresence,
  type Presence,
  type PresencePatch,
  projectFor,
  removeDevice,
  setFriendsListener,
  toOwnPresence,
  toPresence,
  type UserState,
  upsertDevice,
} from '../core/presence.ts';
import { LIMITS } from '../core/schemas.ts';
import type { SubscriptionPlan } from '../core/subscriptions.ts';
import { config } from './config.ts';
import * as store from './store.ts';

const timeoutMs = config.presenceTimeoutSeconds * 1000;

export async function ownPresence(userId: string): Promise<OwnPresence> {
  return toOwnPresence(await store.getUserState(userId), Date.now());
}

/** A WebSocket connection opened: its device is live from now. */
export async function connectDevice(userId: string, device: string, conn: string): Promise<void> {
  await store.mutateUser(userId, (s, now) => upsertDevice(s, device, { kind: 'ws', conn, expiresAt: now + timeoutMs }, now));
}

/**
 * A WebSocket connection closed (or answered 410): forget it, its listeners,
 * and its device unless another connection took it over.
 */
export async function disconnect(userId: string, conn: string): Promise<void> {
  await Promise.all([store.mutateUser(userId, (s, now) => dropConnection(s, conn, now)), store.removeListeners(conn)]);
}

/**
 * Keeps a device live. The common case is one conditional write; a device that
 * is unknown or already expired is (re)added through the full path, since that
 * is a visible change.
 */
export async function heartbeat(userId: string, device: string, kind: DeviceKind): Promise<{ device: string; expiresAt: string }> {
  const now = Date.now();
  const expiresAt = now + timeoutMs;
  if (!(await store.touchDevice(userId, device, expiresAt, now))) {
    await store.mutateUser(userId, (s, t) => upsertDevice(s, device, { kind, expiresAt: t + timeoutMs }, t));
  }
  return { device, expiresAt: new Date(expiresAt).toISOString() };
}

export interface Touch {
  device: string;
  expiresAt: string;
  /** messages of this connection in the current rate window (0 when not counted) */
  messagesInWindow: number;
}

/**
 * Every WebSocket message is a sign of life of its connection's device, and
 * counts against the connection's message rate, in the same single write.
 */
export async function touchConnection(who: { userId: string; device: string; connectionId: string }): Promise<Touch> {
  const now = Date.now();
  const expiresAt = now + timeoutMs;
  const window = Math.floor(now / (config.wsRateWindowSeconds * 1000));
  const touched = await store.touchDevice(who.userId, who.device, expiresAt, now, { id: who.connectionId, window });
  if (!touched) {
    await store.mutateUser(who.userId, (s, t) => upsertDevice(s, who.device, { kind: 'ws', conn: who.connectionId, expiresAt: t + timeoutMs }, t));
  }
  return { device: who.device, expiresAt: new Date(expiresAt).toISOString(), messagesInWindow: touched?.messagesInWindow ?? 0 };
}

function checkPatch(patch: PresencePatch, state: UserState, now: number): void {
  if (patch.availabilityUntil) {
    const until = Date.parse(patch.availabilityUntil);
    if (until <= now) throw badRequest('availabilityUntil must be in the future');
    const availability = patch.availability ?? state.availability;
    if (availability === 'auto') throw badRequest('availabilityUntil needs availability away, busy or dnd');
  }
}

/** PATCH /v1/me/presence and the presence part of WS setPresence (plus this device's status/ext). */
export async function updatePresence(
  userId: string,
  patch: PresencePatch,
  deviceChange?: { device: string; kind: DeviceKind; conn?: string; status?: DeviceStatus; ext?: string | null },
): Promise<OwnPresence> {
  let rejection: ApiError | undefined;
  const result = await store.mutateUser(userId, (s, now) => {
    try {
      checkPatch(patch, s, now);
    } catch (err) {
      rejection = err as ApiError;
      return null;
    }
    let next = applyPatch(s, patch, now);
    if (deviceChange && (deviceChange.status !== undefined || deviceChange.ext !== undefined)) {
      next = upsertDevice(next, deviceChange.device, { ...deviceChange, expiresAt: now + timeoutMs }, now);
    }
    return next;
  });
  if (rejection) throw rejection;
  return toOwnPresence(result.state, Date.now());
}

/** PUT /v1/me/devices/{device}: sets status/ext and counts as a heartbeat; `offline` removes it. */
export async function setDevice(userId: string, device: string, status: DeviceStatus | 'offline', ext: string | null | undefined): Promise<OwnPresence> {
  const result = await store.mutateUser(userId, (s, now) => {
    if (status === 'offline') return removeDevice(s, device, now);
    const old = s.devices[device];
    return upsertDevice(s, device, { kind: old?.k ?? 'http', status, ext, expiresAt: now + timeoutMs }, now);
  });
  return toOwnPresence(result.state, Date.now());
}

export async function deleteDevice(userId: string, device: string): Promise<OwnPresence> {
  const result = await store.mutateUser(userId, (s, now) => removeDevice(s, device, now));
  return toOwnPresence(result.state, Date.now());
}

/** Presence of users as `viewer` may see them, in the order asked. */
export async function presenceFor(viewer: string, userIds: readonly string[], viewerFriends?: Set<string>): Promise<Presence[]> {
  if (userIds.length === 0) return [];
  const states = await store.getUserStates(userIds);
  const needFriends = userIds.some((u) => u !== viewer && states.get(u)?.visibility === 'friends');
  const friends = viewerFriends ?? (needFriends ? await store.friendsOf(viewer) : new Set<string>());
  const now = Date.now();
  return userIds.map((u) => projectFor(states.get(u) as UserState, { self: u === viewer, friend: friends.has(u) }, now));
}

export interface SubscribeResult {
  subscribed: { userId: string; expiresAt: string }[];
  rejected: string[];
  evicted: string[];
  presence: Presence[];
}

export async function subscribe(
  subscriber: string,
  userIds: readonly string[],
  expiresIn: number = LIMITS.subscriptionDefaultSeconds,
): Promise<SubscribeResult> {
  const now = Date.now();
  const plan: SubscriptionPlan = await store.subscribe(subscriber, userIds, now + expiresIn * 1000, now);
  const subscribed = plan.subscribed.map((s) => ({ userId: s.userId, expiresAt: new Date(s.expiresAt).toISOString() }));
  const presence = subscribed.length
    ? await presenceFor(
        subscriber,
        subscribed.map((s) => s.userId),
      )
    : [];
  return { subscribed, rejected: plan.rejected, evicted: plan.evicted, presence };
}

export async function unsubscribe(subscriber: string, userIds: readonly string[]): Promise<{ unsubscribed: string[] }> {
  await store.unsubscribe(subscriber, userIds);
  return { unsubscribed: [...userIds] };
}

export async function listSubscriptions(subscriber: string, limit: number, cursor: string | null) {
  const page = await store.listSubscriptions(subscriber, limit, cursor, Date.now());
  return {
    total: page.total,
    subscriptions: page.subscriptions.map((s) => ({ userId: s.userId, expiresAt: new Date(s.expiresAt).toISOString() })),
    nextCursor: page.nextCursor,
  };
}

export interface SweepCounts {
  usersMarkedOffline: number;
  devicesExpired: number;
  availabilityCleared: number;
  subscriptionsExpired: number;
}

/**
 * One sweep: every user whose sweep is due is rewritten with expired devices
 * and lapsed availability removed (a conditional write; the stream consumer
 * then tells subscribers), and the next due time is recorded.
 */
export async function sweep(now = Date.now()): Promise<SweepCounts> {
  const counts: SweepCounts = { usersMarkedOffline: 0, devicesExpired: 0, availabilityCleared: 0, subscriptionsExpired: 0 };
  const [due, subscriptionsExpired] = await Promise.all([store.dueForSweep(now), store.deleteExpiredSubscriptions(now)]);
  counts.subscriptionsExpired = subscriptionsExpired;
  await mapLimit(due, 16, async (userId) => {
    const result = await store.mutateUser(userId, (s) => s, { force: true });
    counts.devicesExpired += result.devicesExpired;
    if (result.availabilityCleared) counts.availabilityCleared++;
    const hadDevices = Object.keys(result.before.devices).length > 0;
    if (result.written && hadDevices && Object.keys(result.state.devices).length === 0) counts.usersMarkedOffline++;
  });
  return counts;
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// ---------- friends and groups (read by users, written by sys) ----------
export async function friends(userId: string): Promise<{ friends: string[] }> {
  return { friends: [...(await store.friendsOf(userId))].sort() };
}

const online = (p: Presence) => p.status !== 'offline';

export async function friendsPresence(userId: string, includeOffline: boolean): Promise<{ presence: Presence[] }> {
  const set = await store.friendsOf(userId);
  const presence = await presenceFor(userId, [...set].sort(), set);
  return { presence: includeOffline ? presence : presence.filter(online) };
}

async function requireMember(groupId: string, userId: string): Promise<void> {
  if (!(await store.isGroupMember(groupId, userId))) throw new ApiError('forbidden', 'Only members of the group may see its presence');
}

/**
 * A page of a group's members' presence (members only). With includeOffline
 * false a page can hold fewer than `limit` entries; follow nextCursor.
 */
export async function groupPresence(userId: string, groupId: string, includeOffline: boolean, limit: number, after: string | null) {
  await requireMember(groupId, userId);
  const page = await store.groupMembers(groupId, limit, after);
  const presence = await presenceFor(userId, page.members);
  return { presence: includeOffline ? presence : presence.filter(online), nextCursor: page.next };
}

export async function addFriends(a: string, b: string): Promise<{ ok: true }> {
  if (a === b) throw badRequest('A user cannot befriend themselves');
  await store.addFriendship(a, b, Date.now());
  await permissionChanged([a, b]);
  return { ok: true };
}

export async function removeFriends(a: string, b: string): Promise<{ ok: true }> {
  if (a === b) throw badRequest('A user cannot befriend themselves');
  await store.removeFriendship(a, b);
  await permissionChanged([a, b]);
  return { ok: true };
}

/**
 * Friendship decides what `friends`-visibility users show: when it changes,
 * such users get a new version so the viewers whose permission changed are
 * pushed what they may now see.
 */
async function permissionChanged(userIds: string[]): Promise<void> {
  await Promise.all(userIds.map((u) => store.mutateUser(u, (s) => (s.visibility === 'friends' ? s : null), { bump: true })));
}

export async function addMember(groupId: string, userId: string): Promise<{ ok: true }> {
  await store.addGroupMember(groupId, userId, Date.now());
  return { ok: true };
}

export async function removeMember(groupId: string, userId: string): Promise<{ ok: true }> {
  await store.removeGroupMember(groupId, userId);
  return { ok: true };
}

// ---------- listeners (WebSocket) ----------
export type ListenTarget = { friends: true } | { groupId: string } | { userIds: string[] };
interface Connection {
  userId: string;
  device: string;
  connectionId: string;
}

/** The most presences a listen reply carries (a larger group is read page by page over HTTP). */
export const LISTEN_SNAPSHOT_MAX = 1000;

/** Adds a listener to this connection and replies with the current presence of its targets. */
export async function listen(who: Connection, target: ListenTarget): Promise<{ presence: Presence[] }> {
  const exp = Date.now() + MAX_CONNECTION_MS;
  if (!('friends' in target)) {
    const adding = 'userIds' in target ? target.userIds.length : 1;
    if ((await store.countListeners(who.connectionId)) + adding > LIMITS.listenersPerConnection)
      throw badRequest(`A connection may listen to at most ${LIMITS.listenersPerConnection} users and groups; stopListening first`);
  }
  if ('userIds' in target) {
    await store.addUserListeners(who.userId, who.connectionId, target.userIds, exp);
    return { presence: await presenceFor(who.userId, target.userIds) };
  }
  if ('groupId' in target) {
    await requireMember(target.groupId, who.userId);
    await store.addGroupListener(who.userId, who.connectionId, target.groupId, exp);
    const members: string[] = [];
    let after: string | null = null;
    do {
      const page = await store.groupMembers(target.groupId, LIMITS.listPageMax, after);
      members.push(...page.members);
      after = page.next;
    } while (after && members.length < LISTEN_SNAPSHOT_MAX);
    return { presence: await presenceFor(who.userId, members.slice(0, LISTEN_SNAPSHOT_MAX)) };
  }
  await store.mutateUser(who.userId, (s, now) => setFriendsListener(s, who.connectionId, who.device, true, now));
  return friendsPresence(who.userId, true);
}

export async function stopListening(who: Connection): Promise<{ stopped: number }> {
  const [removed, result] = await Promise.all([
    store.removeListeners(who.connectionId),
    store.mutateUser(who.userId, (s, now) => (s.conns[who.connectionId]?.f ? setFriendsListener(s, who.connectionId, who.device, false, now) : null)),
  ]);
  return { stopped: removed + (result.written ? 1 : 0) };
}

/** forcePush / POST /v1/me/presence/push: a new version, pushed to every watcher. */
export async function forcePush(userId: string): Promise<Presence> {
  const result = await store.mutateUser(userId, (s) => s, { bump: true });
  return toPresence(result.state, Date.now());
}

// ---------- sys presence (IoT, cloud functions) ----------
export interface SysPresenceInput {
  expiresIn: number;
  status?: DeviceStatus;
  activity?: Record<string, unknown> | null;
  device?: string;
}

/** SysInitializePresence: a device live until now + expiresIn, whatever the heartbeat timeout. */
export async function sysInitialize(userId: string, input: SysPresenceInput): Promise<Presence> {
  const device = input.device ?? 'sys';
  const result = await store.mutateUser(userId, (s, now) => {
    const next = upsertDevice(s, device, { kind: 'sys', status: input.status ?? 'online', expiresAt: now + input.expiresIn * 1000 }, now);
    return input.activity !== undefined ? { ...next, activity: input.activity } : next;
  });
  return toPresence(result.state, Date.now());
}

/** SysExtendPxExpiry: 404 when there is no live sys device. */
export async function sysExtend(userId: string, input: { expiresIn: number; device?: string }): Promise<Presence> {
  const device = input.device ?? 'sys';
  let missing = false;
  const result = await store.mutateUser(userId, (s, now) => {
    const d = s.devices[device];
    missing = d?.k !== 'sys';
    if (!d || missing) return null;
    return { ...s, devices: { ...s.devices, [device]: { ...d, e: now + input.expiresIn * 1000, l: now } }, lastSeen: now };
  });
  if (missing) throw notFound(`No live sys presence "${device}" for this user`);
  return toPresence(result.state, Date.now());
}

/** SysTerminatePresence: removes the user's sys device(s) (all of them unless one is named). */
export async function sysTerminate(userId: string, device?: string): Promise<Presence> {
  const result = await store.mutateUser(userId, (s, now) => {
    let next = s;
    for (const [name, d] of Object.entries(s.devices)) if (d.k === 'sys' && (device === undefined || device === name)) next = removeDevice(next, name, now);
    return next;
  });
  return toPresence(result.state, Date.now());
}
