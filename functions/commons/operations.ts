/**
 * The presence operations shared by HTTP routes, WebSocket actions and
 * workers: they take plain values (already authenticated and validated),
 * call the store and the core, and return plain values.
 */
import { type ApiError, badRequest } from '../core/errors.ts';
import {
  applyPatch,
  type DeviceKind,
  type DeviceStatus,
  dropConnection,
  type OwnPresence,
  type Presence,
  type PresencePatch,
  projectFor,
  removeDevice,
  toOwnPresence,
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

/** A WebSocket connection closed (or answered 410): forget it, and its device unless another connection took it over. */
export async function disconnect(userId: string, conn: string): Promise<void> {
  await store.mutateUser(userId, (s, now) => dropConnection(s, conn, now));
}

/**
 * Keeps a device live. The common case is one conditional write; a device that
 * is unknown or already expired is (re)added through the full path, since that
 * is a visible change.
 */
export async function heartbeat(userId: string, device: string, kind: DeviceKind, conn?: string): Promise<{ device: string; expiresAt: string }> {
  const now = Date.now();
  const expiresAt = now + timeoutMs;
  if (!(await store.touchDevice(userId, device, expiresAt, now, conn))) {
    await store.mutateUser(userId, (s, t) => upsertDevice(s, device, { kind, conn, expiresAt: t + timeoutMs }, t));
  }
  return { device, expiresAt: new Date(expiresAt).toISOString() };
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
export async function presenceFor(viewer: string, userIds: readonly string[]): Promise<Presence[]> {
  const states = await store.getUserStates(userIds);
  const needFriends = userIds.some((u) => u !== viewer && states.get(u)?.visibility === 'friends');
  const friends = needFriends ? await store.friendsOf(viewer) : new Set<string>();
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
  const due = await store.dueForSweep(now);
  await mapLimit(due, 16, async (candidate) => {
    const result = await store.mutateUser(candidate.userId, (s) => s, { force: true });
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
