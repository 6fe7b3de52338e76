/**
 * The presence operations shared by HTTP routes, WebSocket actions and
 * workers: they take plain values (already authenticated and validated),
 * call the store and the core, and return plain values.
 */

import type { PushFormat } from '../compat/push-formats.ts';
import { ApiError, badRequest, notFound } from '../core/errors.ts';
import {
  type Availability,
  applyPatch,
  type CallState,
  type ChangeBudget,
  countMessage,
  type DeviceChange,
  type DeviceKind,
  type DeviceStatus,
  effectiveAvailability,
  fitPresences,
  MAX_CONNECTION_MS,
  type OwnPresence,
  offlineDevicesFor,
  type Presence,
  type PresencePatch,
  type Profile,
  projectFor,
  removeDevice,
  setFriendsListener,
  setPushFormat,
  toOwnPresence,
  toPresence,
  type UserState,
  upsertDevice,
  type ViewerRelation,
  type Visibility,
  withProfile,
} from '../core/presence.ts';
import { encodeCursor, LIMITS, type ShardCursor } from '../core/schemas.ts';
import type { SubscriptionPlan } from '../core/subscriptions.ts';
import { config } from './config.ts';
import { forgetConnection } from './forget-connection.ts';
import { noLivenessCounts, sweepLiveness, watchConnection, wsDeviceExpiry } from './liveness.ts';
import { logger } from './logger.ts';
import { mapLimit } from './map-limit.ts';
import * as store from './store.ts';

const timeoutMs = config.presenceTimeoutSeconds * 1000;
/**
 * Every change a user makes that starts a fan-out (connect, a heartbeat that
 * brings a device back, PATCH, setPresence, device PUT/DELETE, force push)
 * spends one unit of this per-user budget; none left → 429 `rate_limited`.
 */
const changeBudget: ChangeBudget = { limit: config.userChangeLimit, windowMs: config.userChangeWindowSeconds * 1000 };
const userChange = { budget: changeBudget };

export async function ownPresence(userId: string): Promise<OwnPresence> {
  return toOwnPresence(await store.getUserState(userId), Date.now());
}

/** The owner's presence with the times of the state item behind it (the compatibility facades' "status record"). */
export interface OwnRecord {
  presence: OwnPresence;
  /** when the item was first written (epoch ms); null on items written before this was kept */
  createdAt: number | null;
  /** when the item was last written in full (epoch ms; heartbeats move `presence.lastSeen` instead) */
  writtenAt: number | null;
}

/** The user's own record, or null for a user the service has never stored. */
export async function ownRecord(userId: string): Promise<OwnRecord | null> {
  const { state, writtenAt } = await store.getUserRecord(userId);
  if (writtenAt === null && state.rev === 0) return null;
  return { presence: toOwnPresence(state, Date.now()), createdAt: state.createdAt ?? null, writtenAt };
}

/** A change of online state and availability made in one write (one version, one push). */
export interface StatusChange {
  /** false: every device of the user goes offline; true: `device` is live, as after an HTTP heartbeat */
  online?: boolean;
  /** the device `online: true` keeps live (default `http`, the HTTP heartbeat's) */
  device?: string;
  /** the presence patch to apply, given the user's effective availability and visibility at the moment of the write */
  patch?: (availability: Availability, visibility: Visibility) => PresencePatch;
}

/**
 * Online/offline and availability in one read-modify-write (the compatibility
 * facades' status updates): pushed like any change, spending one unit of the
 * change budget when subscribers see a difference. Going offline removes every
 * device; an open WebSocket brings its own back with its next message, as any
 * sign of life does.
 */
export async function updateStatus(userId: string, change: StatusChange): Promise<OwnRecord> {
  let rejection: ApiError | undefined;
  const result = await store.mutateUser(
    userId,
    (s, now) => {
      let next = s;
      if (change.online === false) for (const name of Object.keys(s.devices)) next = removeDevice(next, name, now);
      if (change.online === true) {
        const device = change.device ?? 'http';
        next = upsertDevice(next, device, { kind: next.devices[device]?.k ?? 'http', expiresAt: now + timeoutMs }, now);
      }
      const patch = change.patch?.(effectiveAvailability(next, now), next.visibility) ?? {};
      if (Object.keys(patch).length === 0) return next;
      try {
        checkPatch(patch, next, now);
      } catch (err) {
        rejection = err as ApiError;
        return null;
      }
      return applyPatch(next, patch, now);
    },
    userChange,
  );
  if (rejection) throw rejection;
  return { presence: toOwnPresence(result.state, Date.now()), createdAt: result.state.createdAt ?? null, writtenAt: result.writtenAt };
}

/** Open WebSocket connections a user may hold (each brings its own message rate; a new one past this is refused). */
export const MAX_CONNECTIONS_PER_USER = 32;

/**
 * A WebSocket connection opened: its device is live from now. A connection
 * that asked for a compatibility facade's push format (`format`) has it
 * recorded with the connection, and listens to the user's friends from the
 * start (the API it imitates pushes without being asked: the users it
 * follows are its friends and subscriptions).
 */
export async function connectDevice(userId: string, device: string, conn: string, format?: PushFormat): Promise<void> {
  await watchConnection({ userId, device, conn }, Date.now());
  await store.mutateUser(
    userId,
    (s, now) => {
      if (!s.conns[conn] && Object.keys(s.conns).length >= MAX_CONNECTIONS_PER_USER)
        throw new ApiError('rate_limited', `A user may hold at most ${MAX_CONNECTIONS_PER_USER} open connections; close one first`);
      const live = upsertDevice(s, device, { kind: 'ws', conn, expiresAt: wsDeviceExpiry(now) }, now);
      return format ? setPushFormat(setFriendsListener(live, conn, device, true, now), conn, device, format, now) : live;
    },
    userChange,
  );
  if (format === 'generic' && config.genericBroadcastMax > 0) await joinBroadcast(userId, conn, format);
}

/**
 * The generic facade's everyone-broadcast (docs/compat.md, opt-in): the
 * connection hears every change while fewer than `genericBroadcastMax`
 * connections do; past that it hears what it follows, as without the
 * broadcast. The count is not taken under a lease: connects racing at the
 * cap may pass it by a few, and the fan-out never delivers to more than the cap.
 */
async function joinBroadcast(userId: string, conn: string, format: PushFormat): Promise<void> {
  if ((await store.countBroadcastListeners(format)) >= config.genericBroadcastMax) {
    logger.info('broadcast audience full: the connection hears what it follows', { conn, max: config.genericBroadcastMax });
    return;
  }
  await store.addBroadcastListener(userId, conn, format, Date.now() + MAX_CONNECTION_MS);
}

/**
 * A WebSocket connection closed (or answered 410): forget it, its listeners,
 * and its device unless another connection took it over.
 */
export async function disconnect(userId: string, conn: string): Promise<void> {
  await forgetConnection(userId, conn);
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
    await store.mutateUser(userId, (s, t) => upsertDevice(s, device, { kind, expiresAt: t + timeoutMs }, t), userChange);
  }
  return { device, expiresAt: new Date(expiresAt).toISOString() };
}

export interface Touch {
  device: string;
  expiresAt: string;
  /** messages of this connection in the current rate window (0 when not counted) */
  messagesInWindow: number;
  /** the user's state item as the touch left it (asked for with `withState`; absent when the full path ran) */
  current?: { item: Record<string, unknown> | undefined };
}

/**
 * Every WebSocket message is a sign of life of its connection's device, and
 * counts against the connection's message rate, in the same single write.
 * When that write cannot apply (the device expired or is gone, or the
 * connection is not recorded), the full path re-adds the device and counts
 * the message too: no message goes uncounted. A device still held live by
 * another connection (two sockets sharing one `device`) stays that
 * connection's.
 */
export async function touchConnection(who: { userId: string; device: string; connectionId: string }, withState = false): Promise<Touch> {
  const now = Date.now();
  const expiresAt = now + timeoutMs;
  const window = Math.floor(now / (config.wsRateWindowSeconds * 1000));
  // in the `gateway` heartbeat mode the sweeper's liveness check owns a live WebSocket device's expiry (liveness.ts)
  const extend = config.heartbeatMode === 'gateway' ? null : expiresAt;
  const touched = await store.touchDevice(who.userId, who.device, extend, now, { id: who.connectionId, window }, withState);
  let messagesInWindow = touched?.messagesInWindow ?? 0;
  if (!touched) {
    // the device may come back on this connection: watched first (`gateway` mode)
    await watchConnection({ userId: who.userId, device: who.device, conn: who.connectionId }, now);
    const count = (readd: boolean) => (s: UserState, t: number) => {
      const held = s.devices[who.device];
      const owner = held?.c !== undefined && held.c !== who.connectionId && s.conns[held.c] ? held.c : who.connectionId;
      let live = s;
      try {
        if (readd) live = upsertDevice(s, who.device, { kind: 'ws', conn: owner, expiresAt: wsDeviceExpiry(t) }, t);
      } catch (err) {
        // past the device cap the device stays away, but the message still counts
        if (!(err instanceof ApiError)) throw err;
      }
      const counted = countMessage(live, who.connectionId, who.device, window, t);
      messagesInWindow = counted.count;
      return counted.state;
    };
    try {
      await store.mutateUser(who.userId, count(true), userChange);
    } catch (err) {
      // the change budget is spent: the device stays away until it refills, but the message is counted and answered
      if (!(err instanceof ApiError && err.code === 'rate_limited')) throw err;
      await store.mutateUser(who.userId, count(false));
    }
  }
  return {
    device: who.device,
    expiresAt: new Date(expiresAt).toISOString(),
    messagesInWindow,
    ...(touched?.item ? { current: { item: touched.item } } : {}),
  };
}

function checkPatch(patch: PresencePatch, state: UserState, now: number): void {
  if (patch.availabilityUntil) {
    const until = Date.parse(patch.availabilityUntil);
    if (until <= now) throw badRequest('availabilityUntil must be in the future');
    const availability = patch.availability ?? state.availability;
    if (availability === 'auto') throw badRequest('availabilityUntil needs availability away, busy or dnd');
  }
}

const changesDevice = (c: DeviceChange | undefined): c is DeviceChange =>
  c !== undefined && (c.status !== undefined || c.ext !== undefined || c.call !== undefined);

/**
 * The patches the one-write fast path takes (store.quickPatch): customStatus
 * and activity, nothing else (availability and visibility decide the
 * aggregate status and the frozen hidden views, which only the full path
 * computes), and no change of the device.
 */
function quickPatchOf(patch: PresencePatch, deviceChange?: DeviceChange): store.QuickPatch | null {
  if (changesDevice(deviceChange)) return null;
  const fields = Object.entries(patch).filter(([, v]) => v !== undefined);
  if (fields.length === 0 || fields.some(([k]) => k !== 'customStatus' && k !== 'activity')) return null;
  return { customStatus: patch.customStatus, activity: patch.activity };
}

/**
 * PATCH /v1/me/presence and the presence part of WS setPresence (plus this
 * device's status/ext). Given the state item as it is (`current`, e.g. what
 * the WebSocket message's touch returned), one conditional write. Otherwise a
 * customStatus/activity change of a live user is one conditional write
 * (store.quickPatch); otherwise, or when that write's condition fails, the
 * read-modify-write (starting from the item the failed write returned: no
 * extra read).
 */
export async function updatePresence(
  userId: string,
  patch: PresencePatch,
  deviceChange?: DeviceChange & { device: string; kind: DeviceKind; conn?: string },
  known?: { item: Record<string, unknown> | undefined },
): Promise<OwnPresence> {
  const quick = known ? null : quickPatchOf(patch, deviceChange);
  let current = known;
  if (quick) {
    const out = await store.quickPatch(userId, quick, changeBudget, Date.now());
    if ('state' in out) return toOwnPresence(out.state, Date.now());
    current = out.miss;
  }
  let rejection: ApiError | undefined;
  const result = await store.mutateUser(
    userId,
    (s, now) => {
      try {
        checkPatch(patch, s, now);
      } catch (err) {
        rejection = err as ApiError;
        return null;
      }
      let next = applyPatch(s, patch, now);
      if (changesDevice(deviceChange)) {
        next = upsertDevice(next, deviceChange.device, { ...deviceChange, expiresAt: now + timeoutMs }, now);
      }
      return next;
    },
    { ...userChange, current },
  );
  if (rejection) throw rejection;
  return toOwnPresence(result.state, Date.now());
}

/** PUT /v1/me/devices/{device}: sets status/ext/call and counts as a heartbeat; `offline` removes it. */
export async function setDevice(
  userId: string,
  device: string,
  status: DeviceStatus | 'offline',
  ext: string | null | undefined,
  call?: CallState,
): Promise<OwnPresence> {
  const result = await store.mutateUser(
    userId,
    (s, now) => {
      if (status === 'offline') return removeDevice(s, device, now);
      const old = s.devices[device];
      return upsertDevice(s, device, { kind: old?.k ?? 'http', status, ext, call, expiresAt: now + timeoutMs }, now);
    },
    userChange,
  );
  return toOwnPresence(result.state, Date.now());
}

export async function deleteDevice(userId: string, device: string): Promise<OwnPresence> {
  const result = await store.mutateUser(userId, (s, now) => removeDevice(s, device, now), userChange);
  return toOwnPresence(result.state, Date.now());
}

/** The states of users and how `viewer` relates to each (privacy's inputs), in the order asked. */
async function viewedStates(viewer: string, userIds: readonly string[], viewerFriends?: Set<string>): Promise<{ state: UserState; rel: ViewerRelation }[]> {
  if (userIds.length === 0) return [];
  const states = await store.getUserStates(userIds);
  // friendship decides what a `friends` user shows, and which frozen view a `nobody` user shows
  const needFriends = userIds.some((u) => u !== viewer && states.get(u)?.visibility !== 'everyone');
  const friends = viewerFriends ?? (needFriends ? await store.friendsOf(viewer) : new Set<string>());
  return userIds.map((u) => ({ state: states.get(u) as UserState, rel: { self: u === viewer, friend: friends.has(u) } }));
}

/** Presence of users as `viewer` may see them, in the order asked. */
export async function presenceFor(viewer: string, userIds: readonly string[], viewerFriends?: Set<string>): Promise<Presence[]> {
  const viewed = await viewedStates(viewer, userIds, viewerFriends);
  const now = Date.now();
  return viewed.map(({ state, rel }) => projectFor(state, rel, now));
}

/** A user as the Agora facade shows them: the presence, and the devices it lists as offline ("0"). */
export interface PresenceWithOffline {
  presence: Presence;
  /** devices that went offline lately (core offlineDevices); none for a user hidden from the viewer */
  offlineDevices: string[];
}

/** presenceFor with each user's recently offline devices, as `viewer` may see them (the same reads). */
export async function presenceWithOfflineFor(viewer: string, userIds: readonly string[]): Promise<PresenceWithOffline[]> {
  const viewed = await viewedStates(viewer, userIds);
  const now = Date.now();
  return viewed.map(({ state, rel }) => ({ presence: projectFor(state, rel, now), offlineDevices: offlineDevicesFor(state, rel, now) }));
}

/**
 * GET /v1/presence and WS getPresence: presenceFor, and with includeOffline
 * false without the users who show as offline to this viewer (hidden ones too).
 */
export async function lookupPresence(viewer: string, userIds: readonly string[], includeOffline = true): Promise<Presence[]> {
  const presence = await presenceFor(viewer, userIds);
  return includeOffline ? presence : presence.filter(online);
}

export interface SubscribeResult<P = Presence> {
  subscribed: { userId: string; expiresAt: string }[];
  rejected: string[];
  evicted: string[];
  presence: P[];
}

/** How a caller's answer shows the users it names (presenceFor, or a facade's view of the same reads). */
type View<P> = (viewer: string, userIds: readonly string[]) => Promise<P[]>;

export function subscribe(subscriber: string, userIds: readonly string[], expiresIn?: number): Promise<SubscribeResult> {
  return subscribeAs(presenceFor, subscriber, userIds, expiresIn);
}

/** subscribe, answering with the Agora facade's view of the subscribed users (their recently offline devices too). */
export function subscribeWithOffline(subscriber: string, userIds: readonly string[], expiresIn?: number): Promise<SubscribeResult<PresenceWithOffline>> {
  return subscribeAs(presenceWithOfflineFor, subscriber, userIds, expiresIn);
}

async function subscribeAs<P>(
  view: View<P>,
  subscriber: string,
  userIds: readonly string[],
  expiresIn: number = LIMITS.subscriptionDefaultSeconds,
): Promise<SubscribeResult<P>> {
  const now = Date.now();
  // the cap holds under concurrent subscribes: the read of what is held and the writes happen under the user's lease
  const plan: SubscriptionPlan = await store.withLease(store.leases.subscriptionsOf(subscriber), () =>
    store.subscribe(subscriber, userIds, now + expiresIn * 1000, now),
  );
  const subscribed = plan.subscribed.map((s) => ({ userId: s.userId, expiresAt: new Date(s.expiresAt).toISOString() }));
  const presence = subscribed.length
    ? await view(
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

/** The liveness wheel's round; its failure leaves the rest of the sweep to run (it is read again next round). */
const livenessOf = (now: number) =>
  sweepLiveness(now).catch((error) => {
    logger.error('liveness round failed; read again next round', { error });
    return noLivenessCounts();
  });

/**
 * One sweep: every user whose sweep is due is rewritten with expired devices
 * and lapsed availability removed (a conditional write; the stream consumer
 * then tells subscribers), and the next due time is recorded. In the
 * `gateway` heartbeat mode, the connections whose liveness check is due are
 * asked about too (functions/commons/liveness.ts).
 */
export async function sweep(now = Date.now()): Promise<SweepCounts> {
  const counts: SweepCounts = { usersMarkedOffline: 0, devicesExpired: 0, availabilityCleared: 0, subscriptionsExpired: 0 };
  const [due, subscriptionsExpired, liveness] = await Promise.all([store.dueForSweep(now), store.deleteExpiredSubscriptions(now), livenessOf(now)]);
  counts.subscriptionsExpired = subscriptionsExpired;
  counts.devicesExpired += liveness.devicesExpired;
  counts.usersMarkedOffline += liveness.usersMarkedOffline;
  if (liveness.connectionsChecked) logger.info('liveness', { ...liveness });
  await mapLimit(due, 16, async (userId) => {
    const result = await store.mutateUser(userId, (s) => s, { force: true });
    counts.devicesExpired += result.devicesExpired;
    if (result.availabilityCleared) counts.availabilityCleared++;
    const hadDevices = Object.keys(result.before.devices).length > 0;
    if (result.written && hadDevices && Object.keys(result.state.devices).length === 0) counts.usersMarkedOffline++;
  });
  return counts;
}

// ---------- friends and groups (read by users, written by sys) ----------
export async function friends(userId: string): Promise<{ friends: string[] }> {
  return { friends: [...(await store.friendsOf(userId))].sort() };
}

const online = (p: Presence) => p.status !== 'offline';

/**
 * The presence of a user's friends, in userId order: all of them, or a page
 * (`limit` after the friend `after`) with the cursor of the next page.
 */
export async function friendsPresence(
  userId: string,
  includeOffline: boolean,
  page?: { limit: number; after: string | null },
): Promise<{ presence: Presence[]; nextCursor?: string | null }> {
  const set = await store.friendsOf(userId);
  let ids = [...set].sort();
  let nextCursor: string | null = null;
  if (page) {
    ids = ids.filter((id) => page.after === null || id > page.after);
    if (ids.length > page.limit) {
      ids = ids.slice(0, page.limit);
      nextCursor = ids[ids.length - 1] ?? null;
    }
  }
  const presence = await presenceFor(userId, ids, set);
  const shown = includeOffline ? presence : presence.filter(online);
  return page ? { presence: shown, nextCursor } : { presence: shown };
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

/** What a caller who is no user of the app (an app back end, an operator) is to every user: a stranger. */
const STRANGER = { self: false, friend: false };

/**
 * A page of the account-wide online list (GET /v1/admin/presence): users
 * online and visible to everyone, as a stranger sees them, shard after shard
 * (store.onlineUsers). The index is read eventually consistently and the
 * states strongly: a user who went offline or hid since is left out, so a
 * page can hold fewer than `limit`; follow nextCursor until it is null.
 */
export async function onlinePresence(limit: number, from: ShardCursor | null): Promise<{ presence: Presence[]; nextCursor: ShardCursor | null }> {
  const start = from ?? { shard: 0, after: null };
  if (start.shard >= store.ONLINE_SHARDS) throw badRequest('cursor is not valid');
  const page = await store.onlineUsers(limit, start);
  const states = await store.getUserStates(page.userIds);
  const now = Date.now();
  const presence = page.userIds.map((u) => projectFor(states.get(u) as UserState, STRANGER, now)).filter(online);
  return { presence, nextCursor: page.next };
}

/**
 * Friendship decides what `friends`-visibility users show: when it changes,
 * such a user gets a new version recording whose friendship changed (in the
 * same transaction as the friendship), so the fan-out pushes what the other
 * one may now see, and only to them.
 */
const showsFriends = (s: UserState) => s.visibility === 'friends';

export async function addFriends(a: string, b: string): Promise<{ ok: true }> {
  if (a === b) throw badRequest('A user cannot befriend themselves');
  await store.changeFriendship(a, b, true, showsFriends);
  return { ok: true };
}

export async function removeFriends(a: string, b: string): Promise<{ ok: true }> {
  if (a === b) throw badRequest('A user cannot befriend themselves');
  await store.changeFriendship(a, b, false, showsFriends);
  return { ok: true };
}

export async function addMember(groupId: string, userId: string): Promise<{ ok: true }> {
  await store.addGroupMember(groupId, userId, Date.now());
  return { ok: true };
}

/** Removes a member; their listeners on the group end with the membership (the fan-out re-checks it too). */
export async function removeMember(groupId: string, userId: string): Promise<{ ok: true }> {
  await store.removeGroupMember(groupId, userId);
  await store.removeGroupListenersOf(groupId, userId);
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

export interface ListenResult {
  presence: Presence[];
  /** group or friends snapshot cut short (at LISTEN_SNAPSHOT_MAX, or at the message size): continue over HTTP with this cursor */
  nextCursor?: string;
  /** userIds snapshot cut short at the message size: ask getPresence for these */
  remaining?: string[];
}

/**
 * Adds a listener to this connection and replies with the current presence
 * of its targets, as much of it as fits in one WebSocket message (API
 * Gateway's 128 KB); the rest is named by `remaining` or `nextCursor`. The
 * cap on targets holds under concurrent listens on one connection: the
 * count and the write happen under the connection's lease.
 * `bidirectional` (brainCloud's RegisterListenersFor*): the targets also hear
 * the caller, pushed to their open connections, for as long as this
 * connection lives or until stopListening (each as the caller's visibility
 * lets them see it). Written with the listener itself, in the same request;
 * it adds no target to the cap (the targets are the same).
 */
export async function listen(who: Connection, target: ListenTarget, bidirectional = false): Promise<ListenResult> {
  const exp = Date.now() + MAX_CONNECTION_MS;
  if ('userIds' in target) {
    await addListenersCapped(who, target.userIds.length, () => store.addUserListeners(who.userId, who.connectionId, target.userIds, exp, bidirectional));
    const { fitted, rest } = fitPresences(await presenceFor(who.userId, target.userIds));
    return { presence: fitted, ...(rest.length ? { remaining: rest.map((p) => p.userId) } : {}) };
  }
  if ('groupId' in target) {
    await requireMember(target.groupId, who.userId);
    await addListenersCapped(who, 1, () => store.addGroupListener(who.userId, who.connectionId, target.groupId, exp, bidirectional));
    const members: string[] = [];
    let after: string | null = null;
    do {
      const page = await store.groupMembers(target.groupId, LIMITS.listPageMax, after);
      members.push(...page.members);
      after = page.next;
    } while (after && members.length < LISTEN_SNAPSHOT_MAX);
    const snapshot = members.slice(0, LISTEN_SNAPSHOT_MAX);
    return snapshotPage(await presenceFor(who.userId, snapshot), after !== null || members.length > LISTEN_SNAPSHOT_MAX);
  }
  await Promise.all([
    store.mutateUser(who.userId, (s, now) => setFriendsListener(s, who.connectionId, who.device, true, now)),
    bidirectional ? store.addFriendsHearing(who.userId, who.connectionId, exp) : undefined,
  ]);
  const { presence } = await friendsPresence(who.userId, true);
  return snapshotPage(presence.slice(0, LISTEN_SNAPSHOT_MAX), presence.length > LISTEN_SNAPSHOT_MAX);
}

/** A sorted snapshot as much as fits, and the cursor after the last presence given when more follow. */
function snapshotPage(presence: Presence[], more: boolean): ListenResult {
  const { fitted, rest } = fitPresences(presence);
  const last = fitted[fitted.length - 1];
  return { presence: fitted, ...((more || rest.length > 0) && last ? { nextCursor: encodeCursor(last.userId) } : {}) };
}

/** Adds `adding` listener targets to a connection, refusing past the cap even when listens race. */
async function addListenersCapped(who: Connection, adding: number, write: () => Promise<void>): Promise<void> {
  await store.withLease(store.leases.listenersOf(who.connectionId), async () => {
    if ((await store.countListeners(who.connectionId)) + adding > LIMITS.listenersPerConnection)
      throw badRequest(`A connection may listen to at most ${LIMITS.listenersPerConnection} users and groups; stopListening first`);
    await write();
  });
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
  const result = await store.mutateUser(userId, (s) => s, { bump: true, ...userChange });
  return toPresence(result.state, Date.now());
}

// ---------- sys presence (IoT, cloud functions) ----------
export interface SysPresenceInput {
  expiresIn: number;
  status?: DeviceStatus;
  activity?: Record<string, unknown> | null;
  device?: string;
  call?: CallState;
  /** true: visibility `everyone`, false: `nobody` (brainCloud's visible flag); undefined: unchanged */
  visible?: boolean;
}

/** SysInitializePresence: a device live until now + expiresIn, whatever the heartbeat timeout. */
export async function sysInitialize(userId: string, input: SysPresenceInput): Promise<Presence> {
  const device = input.device ?? 'sys';
  const result = await store.mutateUser(userId, (s, now) => {
    let next = upsertDevice(s, device, { kind: 'sys', status: input.status ?? 'online', call: input.call, expiresAt: now + input.expiresIn * 1000 }, now);
    if (input.visible !== undefined) next = { ...next, visibility: input.visible ? 'everyone' : 'nobody' };
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

/**
 * SysTerminatePresence: removes the user's sys device(s) (all of them unless
 * one is named); with `all`, devices of every kind (WebSocket, HTTP, sys), in
 * one write, so watchers are told once. An open WebSocket connection stays
 * open (it still receives pushes); its next message brings its device back.
 */
export async function sysTerminate(userId: string, device?: string, all = false): Promise<Presence> {
  const result = await store.mutateUser(userId, (s, now) => {
    let next = s;
    for (const [name, d] of Object.entries(s.devices))
      if ((all || d.k === 'sys') && (device === undefined || device === name)) next = removeDevice(next, name, now);
    return next;
  });
  return toPresence(result.state, Date.now());
}

/**
 * Sets (replaces) a user's profile, from the customer's back end: a field
 * left out or null is not set. A change is a new version, pushed.
 */
export async function sysSetProfile(userId: string, profile: Partial<Profile>): Promise<Presence> {
  const result = await store.mutateUser(userId, (s) => withProfile(s, profile));
  return toPresence(result.state, Date.now());
}
