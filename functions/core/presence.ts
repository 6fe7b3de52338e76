/**
 * The presence core: pure functions over a user's stored state.
 * No I/O here; every function takes `now` (epoch ms) explicitly.
 */
import { badRequest } from './errors.ts';

export const DEVICE_STATUSES = ['online', 'away', 'busy', 'dnd'] as const;
export const STATUSES = [...DEVICE_STATUSES, 'offline'] as const;
export const AVAILABILITIES = ['auto', 'away', 'busy', 'dnd'] as const;
export const VISIBILITIES = ['everyone', 'friends', 'nobody'] as const;
/** A device's call (telephony) state, RingCentral's `telephonyStatus` values. */
export const CALL_STATES = ['NoCall', 'Ringing', 'CallConnected', 'OnHold', 'ParkedCall'] as const;

export type DeviceStatus = (typeof DEVICE_STATUSES)[number];
export type Status = (typeof STATUSES)[number];
export type Availability = (typeof AVAILABILITIES)[number];
export type Visibility = (typeof VISIBILITIES)[number];
export type CallState = (typeof CALL_STATES)[number];
export type DeviceKind = 'ws' | 'http' | 'sys';

/** One device (resource) of a user, as stored inside the user's state item. */
export interface DeviceState {
  /** status */
  s: DeviceStatus;
  /** ext (free-form, ≤ 64 bytes) */
  x: string | null;
  /** how it stays live */
  k: DeviceKind;
  /** WebSocket connection id, for ws devices */
  c?: string;
  /** expires at (epoch ms) */
  e: number;
  /** last seen (epoch ms) */
  l: number;
  /** call state, absent when NoCall */
  t?: Exclude<CallState, 'NoCall'>;
}

/** What is stored for a user: one item, written with optimistic concurrency on `rev`. */
export interface UserState {
  userId: string;
  devices: Record<string, DeviceState>;
  availability: Availability;
  availabilityUntil: number | null;
  customStatus: string | null;
  activity: Record<string, unknown> | null;
  /** display name and picture, set by the customer's back end (sys) */
  profile: Profile | null;
  visibility: Visibility;
  lastSeen: number | null;
  /** Increases on every change of what subscribers see. */
  version: number;
  /** Write counter: increases on every write (optimistic concurrency). */
  rev: number;
  /** What strangers see while hidden (frozen when the user stopped being visible to everyone). */
  hidden: HiddenView | null;
  /** What friends see while the visibility is `nobody` (frozen when it became `nobody`). */
  hiddenToFriends: HiddenView | null;
  /** fan-out-triggering changes in the current budget window (the per-user change budget) */
  budget?: { w: number; n: number };
  /** when the state item was first written (epoch ms; absent on items written before this was kept) */
  createdAt?: number;
  /**
   * Open WebSocket connections (id → device, opened at): where pushes go.
   * Independent of liveness: an idle but open socket still receives pushes.
   * Removed at $disconnect, on 410 Gone, or by the sweep after API Gateway's
   * 2-hour connection limit.
   */
  conns: Record<string, ConnectionState>;
  /**
   * Devices that went offline lately (device → when, epoch ms), sorted by
   * name; absent when none. Only the Agora facade reads them (its status
   * maps list them as "0"): never part of the contract's Presence, replies
   * or pushes, and not part of what subscribers see (no version of its own).
   * Written by the write that takes the device away, dropped by the one that
   * brings it back; bounded by MAX_GONE and GONE_RETENTION_MS (rememberGone,
   * pruneGone).
   */
  gone?: Record<string, number>;
}

/** A user's display name and picture URL (brainCloud's user {name, pic}); null fields are not set. */
export interface Profile {
  name: string | null;
  pic: string | null;
}

/** What a viewer who may not see the user sees: an offline user, last seen then, at that version. */
export interface HiddenView {
  lastSeen: number | null;
  version: number;
}

/** An open WebSocket connection of a user. */
export interface ConnectionState {
  /** device it carries */
  d: string;
  /** opened at (epoch ms) */
  t: number;
  /** listens to the user's friends */
  f?: true;
  /** push format: a compatibility facade's (functions/compat/push-formats.ts), chosen at connect; absent: the contract's */
  p?: string;
  /** messages counted in rate window <n> (only the current window is kept) */
  [window: `m${number}`]: number;
}

/** API Gateway closes every WebSocket connection after 2 hours; entries older than this are stale. */
export const MAX_CONNECTION_MS = (2 * 60 + 5) * 60 * 1000;

export interface DeviceView {
  device: string;
  status: DeviceStatus;
  ext: string | null;
  call: CallState;
  lastSeen: string;
}

/** The Presence object of the contract. */
export interface Presence {
  userId: string;
  status: Status;
  customStatus: string | null;
  activity: Record<string, unknown> | null;
  profile: Profile | null;
  availabilityUntil: string | null;
  /** the most active call state of the live devices */
  call: CallState;
  devices: DeviceView[];
  lastSeen: string | null;
  version: number;
}

/** The owner's view adds the settings only they can see. */
export interface OwnPresence extends Presence {
  visibility: Visibility;
  availability: Availability;
}

const PRECEDENCE: Record<DeviceStatus, number> = { away: 0, online: 1, busy: 2, dnd: 3 };
/** How active a call state is: the user's `call` is the most active of their live devices'. */
const CALL_ACTIVITY: Record<CallState, number> = { NoCall: 0, ParkedCall: 1, Ringing: 2, OnHold: 3, CallConnected: 4 };

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function emptyState(userId: string): UserState {
  return {
    userId,
    devices: {},
    availability: 'auto',
    availabilityUntil: null,
    customStatus: null,
    activity: null,
    profile: null,
    visibility: 'everyone',
    lastSeen: null,
    version: 0,
    rev: 0,
    hidden: null,
    hiddenToFriends: null,
    conns: {},
  };
}

/** Devices whose expiry has not passed, sorted by name for a stable order. */
export function liveDevices(state: UserState, now: number): [string, DeviceState][] {
  return Object.entries(state.devices)
    .filter(([, d]) => d.e > now)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The manual availability if set and not lapsed, else 'auto'. */
export function effectiveAvailability(state: UserState, now: number): Availability {
  if (state.availability === 'auto') return 'auto';
  if (state.availabilityUntil !== null && state.availabilityUntil <= now) return 'auto';
  return state.availability;
}

/**
 * The contract's aggregation rule: offline without a live device; else the
 * manual availability, or the highest device status; a device in a call
 * (any call state but NoCall) makes that `busy`, unless it is `dnd`.
 */
export function aggregateStatus(state: UserState, now: number): Status {
  const live = liveDevices(state, now);
  if (live.length === 0) return 'offline';
  const manual = effectiveAvailability(state, now);
  let best: DeviceStatus = 'away';
  if (manual !== 'auto') best = manual;
  else for (const [, d] of live) if (PRECEDENCE[d.s] > PRECEDENCE[best]) best = d.s;
  return best !== 'dnd' && live.some(([, d]) => d.t !== undefined) ? 'busy' : best;
}

/** The most active call state of the live devices: CallConnected > OnHold > Ringing > ParkedCall > NoCall. */
export function aggregateCall(state: UserState, now: number): CallState {
  let best: CallState = 'NoCall';
  for (const [, d] of liveDevices(state, now)) if (d.t !== undefined && CALL_ACTIVITY[d.t] > CALL_ACTIVITY[best]) best = d.t;
  return best;
}

/** The user's real presence, as they and permitted viewers see it. */
export function toPresence(state: UserState, now: number): Presence {
  const manual = effectiveAvailability(state, now);
  return {
    userId: state.userId,
    status: aggregateStatus(state, now),
    customStatus: state.customStatus,
    activity: state.activity,
    profile: state.profile,
    availabilityUntil: manual === 'auto' ? null : iso(state.availabilityUntil),
    call: aggregateCall(state, now),
    devices: liveDevices(state, now).map(([device, d]) => ({
      device,
      status: d.s,
      ext: d.x,
      call: d.t ?? 'NoCall',
      lastSeen: iso(d.l) as string,
    })),
    lastSeen: iso(state.lastSeen),
    version: state.version,
  };
}

export function toOwnPresence(state: UserState, now: number): OwnPresence {
  return {
    ...toPresence(state, now),
    visibility: state.visibility,
    availability: effectiveAvailability(state, now),
  };
}

/** What a viewer who may not see the user gets: exactly an offline user, as frozen for their class of viewer. */
export function hiddenPresence(state: UserState, rel: ViewerRelation = { self: false, friend: false }): Presence {
  const view = hiddenViewFor(state, rel);
  return {
    userId: state.userId,
    status: 'offline',
    customStatus: null,
    activity: null,
    profile: null,
    availabilityUntil: null,
    call: 'NoCall',
    devices: [],
    lastSeen: iso(view?.lastSeen ?? null),
    version: view?.version ?? 0,
  };
}

/** Friends lose sight only at `nobody` (their own frozen view); everyone else sees the strangers' one. */
const hiddenViewFor = (state: UserState, rel: ViewerRelation): HiddenView | null =>
  rel.friend && state.visibility === 'nobody' ? (state.hiddenToFriends ?? state.hidden) : state.hidden;

export interface ViewerRelation {
  /** the viewer is the user */
  self: boolean;
  /** viewer and user are mutual friends */
  friend: boolean;
}

export function maySee(state: UserState, rel: ViewerRelation): boolean {
  if (rel.self) return true;
  switch (state.visibility) {
    case 'everyone':
      return true;
    case 'friends':
      return rel.friend;
    case 'nobody':
      return false;
  }
}

/** Presence as a given viewer may see it (privacy applied). */
export function projectFor(state: UserState, rel: ViewerRelation, now: number): Presence {
  return maySee(state, rel) ? toPresence(state, now) : hiddenPresence(state, rel);
}

/** The version a viewer holds of this state. */
export function projectedVersion(state: UserState, rel: ViewerRelation): number {
  return maySee(state, rel) ? state.version : (hiddenViewFor(state, rel)?.version ?? 0);
}

/**
 * What a change before → after pushes to one viewer, or null for nothing.
 * `relBefore` differs from `relAfter` when this change is the viewer's
 * friendship with the user being added or removed. A viewer who may see the
 * user after the change gets the real presence when its version grew (or
 * when they just gained sight); one who just lost sight gets an offline
 * presence with the change's version (newer than anything real they saw);
 * one who could not see before and cannot see after gets nothing, whatever
 * happened (force pushes, friendship and visibility changes of others): what
 * they see cannot have changed, so a truly offline user is indistinguishable.
 */
export function pushFor(before: UserState, after: UserState, relBefore: ViewerRelation, relAfter: ViewerRelation, now: number): Presence | null {
  const sawBefore = maySee(before, relBefore);
  if (maySee(after, relAfter)) return !sawBefore || after.version > before.version ? toPresence(after, now) : null;
  if (!sawBefore || after.version <= before.version) return null;
  const hidden = hiddenPresence(after, relAfter);
  // they saw a user who was already offline, with nothing more to show: hiding changes nothing they can see
  if (sameView(toPresence(before, now), hidden)) return null;
  return { ...hidden, version: after.version };
}

/** Two presences show the same thing (whatever their versions). */
const sameView = (a: Presence, b: Presence): boolean => JSON.stringify({ ...a, version: 0 }) === JSON.stringify({ ...b, version: 0 });

/** What the user shows is exactly what a hidden viewer is shown: offline, nothing else, since `lastSeen`. */
function showsNothing(state: UserState): boolean {
  return (
    Object.keys(state.devices).length === 0 &&
    state.customStatus === null &&
    state.activity === null &&
    state.profile === null &&
    (state.availability === 'auto' || state.availabilityUntil === null)
  );
}

/**
 * Everything a subscriber can observe except the passage of time (lastSeen),
 * taken from the state as stored (expired-but-unswept devices still count:
 * they were visible until a write removes them, and that write must push).
 */
function visibleKey(state: UserState): string {
  const stored = Number.NEGATIVE_INFINITY;
  return JSON.stringify([
    aggregateStatus(state, stored),
    state.customStatus,
    state.activity,
    state.profile && [state.profile.name, state.profile.pic],
    state.availability === 'auto' ? null : state.availabilityUntil,
    // a visibility change changes what some viewers see (hidden ↔ real), so it versions too
    state.visibility,
    liveDevices(state, stored).map(([name, d]) => [name, d.s, d.x, d.t ?? null]),
  ]);
}

/**
 * Completes a transition prev → next made by a write path: bumps the version
 * when what subscribers see changed, freezes what hidden viewers see when
 * they lose sight (strangers when the user stops being visible to everyone,
 * friends when it becomes `nobody`), and counts the write. A force push or a
 * friendship change bumps the version but freezes nothing again: viewers who
 * were hidden stay exactly as they were.
 * Returns the state to store and whether subscribers must be told.
 */
export function finalize(prev: UserState, next: UserState, opts: { bump?: boolean } = {}): { state: UserState; visibleChange: boolean } {
  const visibleChange = opts.bump === true || visibleKey(prev) !== visibleKey(next);
  const version = visibleChange ? prev.version + 1 : prev.version;
  // viewers losing sight of a user who already showed nothing keep the version they hold: nothing they see changes
  const frozenVersion = showsNothing(prev) ? prev.version : version;
  const frozenAt = (was: HiddenView | null, hiddenBefore: boolean, hiddenAfter: boolean): HiddenView | null => {
    if (!hiddenAfter) return null;
    return hiddenBefore && was ? was : { lastSeen: prev.lastSeen, version: frozenVersion };
  };
  const hidden = frozenAt(next.hidden, prev.visibility !== 'everyone', next.visibility !== 'everyone');
  const hiddenToFriends = frozenAt(next.hiddenToFriends, prev.visibility === 'nobody', next.visibility === 'nobody');
  return { state: { ...next, version, rev: prev.rev + 1, hidden, hiddenToFriends }, visibleChange };
}

/**
 * Whether the account-wide list of online users (GET /v1/admin/presence)
 * holds the user: a device stored (swept ones gone; one expired since the
 * last write still counts until the sweep's write, and reads show the user
 * offline meanwhile) and visible to everyone, since the list shows what a
 * stranger sees. The state's item carries the list's index key exactly then.
 */
export const listedOnline = (state: UserState): boolean => state.visibility === 'everyone' && Object.keys(state.devices).length > 0;

/** The earliest moment the sweeper must look at this user again (null: never). */
export function sweepDueAt(state: UserState): number | null {
  let due: number | null = null;
  for (const d of Object.values(state.devices)) if (due === null || d.e < due) due = d.e;
  for (const c of Object.values(state.conns)) if (due === null || c.t + MAX_CONNECTION_MS < due) due = c.t + MAX_CONNECTION_MS;
  if (state.availability !== 'auto' && state.availabilityUntil !== null) {
    if (due === null || state.availabilityUntil < due) due = state.availabilityUntil;
  }
  return due;
}

export interface SweepResult {
  state: UserState;
  devicesExpired: number;
  availabilityCleared: boolean;
}

/**
 * A WebSocket device whose connection went stale or away (the `gateway`
 * heartbeat mode's check): it expired at `expiredAt` (its last sign of life +
 * timeout) and is swept as any expired device is, unless another open
 * connection shares the device: then that one holds it. Null when the device
 * is no longer that connection's (closed, replaced, removed): nothing to do.
 */
export function expireConnectionDevice(state: UserState, device: string, conn: string, expiredAt: number, now: number): UserState | null {
  const d = state.devices[device];
  if (!d || d.c !== conn) return null;
  const heir = heirOf(state, device);
  if (heir !== undefined) return handDevice(state, device, heir);
  return sweepState({ ...state, devices: { ...state.devices, [device]: { ...d, e: Math.min(d.e, expiredAt, now) } } }, now).state;
}

/** Removes expired devices (remembered as gone since their expiry) and a lapsed availability. */
export function sweepState(state: UserState, now: number): SweepResult {
  const devices: Record<string, DeviceState> = {};
  let devicesExpired = 0;
  let lastGone: number | null = null;
  let remembered = state;
  for (const [name, d] of Object.entries(state.devices)) {
    if (d.e > now) devices[name] = d;
    else {
      devicesExpired++;
      lastGone = Math.max(lastGone ?? 0, d.e);
      remembered = rememberGone(remembered, name, d.e);
    }
  }
  const conns = Object.fromEntries(Object.entries(state.conns).filter(([, c]) => c.t + MAX_CONNECTION_MS > now));
  const lapsed = state.availability !== 'auto' && state.availabilityUntil !== null && state.availabilityUntil <= now;
  const wentOffline = lastGone !== null && Object.keys(devices).length === 0;
  return {
    state: {
      ...remembered,
      devices,
      conns,
      availability: lapsed ? 'auto' : state.availability,
      availabilityUntil: lapsed ? null : state.availabilityUntil,
      lastSeen: wentOffline ? Math.max(state.lastSeen ?? 0, lastGone ?? 0) : state.lastSeen,
    },
    devicesExpired,
    availabilityCleared: lapsed,
  };
}

/**
 * The most live devices a user may have: every push and reply carries them
 * all, and API Gateway delivers at most 128 KB per WebSocket message (32
 * devices of the largest size take about 7 KB). A new device past this is
 * refused (400): the user's existing devices are never dropped for it.
 */
export const MAX_DEVICES = 32;

/**
 * Adds or refreshes a device (connect, heartbeat of an unknown device, device
 * PUT); a new one past MAX_DEVICES is refused. What the patch leaves out
 * (status, ext, call) stays as it was.
 */
export function upsertDevice(
  state: UserState,
  device: string,
  patch: { kind: DeviceKind; expiresAt: number; status?: DeviceStatus; ext?: string | null; call?: CallState; conn?: string },
  now: number,
): UserState {
  const old = state.devices[device];
  if (!old && liveDevices(state, now).length >= MAX_DEVICES)
    throw badRequest(`A user may have at most ${MAX_DEVICES} live devices; remove one (DELETE /v1/me/devices/{device}) or let it expire`);
  const conn = patch.conn ?? (patch.kind === 'ws' ? old?.c : undefined);
  const d: DeviceState = {
    s: patch.status ?? old?.s ?? 'online',
    x: patch.ext !== undefined ? patch.ext : (old?.x ?? null),
    k: patch.kind,
    // a change never shortens the expiry its connection holds (the `gateway` heartbeat mode holds it for the connection's life)
    e: conn !== undefined && old?.c === conn ? Math.max(patch.expiresAt, old.e) : patch.expiresAt,
    l: now,
  };
  const call = patch.call ?? old?.t ?? 'NoCall';
  if (call !== 'NoCall') d.t = call;
  let conns = state.conns;
  if (conn !== undefined) {
    d.c = conn;
    if (conns[conn]?.d !== device) conns = { ...conns, [conn]: { ...conns[conn], d: device, t: conns[conn]?.t ?? now } };
  }
  return forgetGone({ ...state, devices: { ...state.devices, [device]: d }, conns, lastSeen: now }, device);
}

/** Marks a connection as listening (or not) to the user's friends. */
export function setFriendsListener(state: UserState, conn: string, device: string, on: boolean, now: number): UserState {
  const entry: ConnectionState = { ...(state.conns[conn] ?? { d: device, t: now }) };
  if (on) entry.f = true;
  else delete entry.f;
  return { ...state, conns: { ...state.conns, [conn]: entry } };
}

/** Records a connection's push format (a compatibility facade's). */
export function setPushFormat(state: UserState, conn: string, device: string, format: string, now: number): UserState {
  return { ...state, conns: { ...state.conns, [conn]: { ...(state.conns[conn] ?? { d: device, t: now }), p: format } } };
}

/** A WebSocket connection is gone ($disconnect or 410): forget it and the device it holds. */
export function dropConnection(state: UserState, conn: string, now: number, handOver = false): UserState {
  const entry = state.conns[conn];
  const owned = Object.entries(state.devices).find(([, d]) => d.c === conn)?.[0];
  if (!entry && owned === undefined) return state;
  const conns = { ...state.conns };
  delete conns[conn];
  const next = { ...state, conns };
  if (owned === undefined) return next;
  const heir = handOver ? heirOf(next, owned) : undefined;
  return heir === undefined ? removeDevice(next, owned, now) : handDevice(next, owned, heir);
}

/** Another open connection on the same device (two tabs sharing one `device`), if any. */
function heirOf(state: UserState, device: string): string | undefined {
  return Object.entries(state.conns).find(([id, c]) => c.d === device && state.devices[device]?.c !== id)?.[0];
}

/** The device stays live, held by another of its connections (whose own liveness check now answers for it). */
function handDevice(state: UserState, device: string, conn: string): UserState {
  const d = state.devices[device] as DeviceState;
  return { ...state, devices: { ...state.devices, [device]: { ...d, c: conn } } };
}

/** Removes a device (remembered as gone since now, or since it expired); the user's lastSeen moves to now if it was live. */
export function removeDevice(state: UserState, device: string, now: number): UserState {
  const old = state.devices[device];
  if (!old) return state;
  const devices = { ...state.devices };
  delete devices[device];
  return rememberGone({ ...state, devices, lastSeen: old.e > now ? now : state.lastSeen }, device, Math.min(old.e, now));
}

// ---------- devices that went offline lately (the Agora facade's "0" resources) ----------

/**
 * How long a device that went offline is remembered: a day (a client that
 * looks again the next morning still sees yesterday's resources as "0"; a
 * resource unused for longer is forgotten). Older entries are never listed
 * (offlineDevices) and are dropped by the user's next write (pruneGone).
 */
export const GONE_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * The most devices remembered as gone per user, the oldest dropped first: 10
 * entries of a name (≤ 64 bytes) and a number take under 1 KB of the state
 * item (whose 32 live devices take about 7 KB at most; the item limit is 400 KB).
 */
export const MAX_GONE = 10;

const byName = ([a]: [string, number], [b]: [string, number]) => (a < b ? -1 : a > b ? 1 : 0);

/** The state with this map of gone devices (sorted by name; none: no `gone` field). */
function withGone(state: UserState, entries: [string, number][]): UserState {
  const next = { ...state };
  if (entries.length === 0) delete next.gone;
  else next.gone = Object.fromEntries(entries.sort(byName));
  return next;
}

/** `device` went offline at `at`: remembered, the oldest entries dropped past MAX_GONE. */
export function rememberGone(state: UserState, device: string, at: number): UserState {
  const entries = Object.entries({ ...state.gone, [device]: at });
  // newest first (ties by name, so the result does not depend on the map's order)
  entries.sort(([a, x], [b, y]) => y - x || byName([a, x], [b, y]));
  return withGone(state, entries.slice(0, MAX_GONE));
}

/** `device` is live again: no longer gone (the same state when it was not). */
export function forgetGone(state: UserState, device: string): UserState {
  if (state.gone?.[device] === undefined) return state;
  return withGone(
    state,
    Object.entries(state.gone).filter(([name]) => name !== device),
  );
}

/**
 * Drops gone entries older than GONE_RETENTION_MS (and any of a device that
 * is stored again): applied by a write that happens anyway, never a reason to
 * write. The same state when nothing is dropped.
 */
export function pruneGone(state: UserState, now: number): UserState {
  if (state.gone === undefined) return state;
  const all = Object.entries(state.gone);
  const kept = all.filter(([name, at]) => at > now - GONE_RETENTION_MS && state.devices[name] === undefined);
  return kept.length === all.length ? state : withGone(state, kept);
}

/**
 * The user's devices that are offline and listed as such by the Agora
 * facade ("0"), sorted by name: those gone within GONE_RETENTION_MS, and
 * stored ones that expired since the last write (the next write sweeps them
 * into `gone`). Never a live device.
 */
export function offlineDevices(state: UserState, now: number): string[] {
  const names = new Set(Object.entries(state.gone ?? {}).flatMap(([name, at]) => (at > now - GONE_RETENTION_MS ? [name] : [])));
  for (const [name, d] of Object.entries(state.devices)) {
    if (d.e <= now) names.add(name);
    else names.delete(name);
  }
  return [...names].sort();
}

/** offlineDevices as a viewer may see them: none of a user hidden from them (who shows no devices at all). */
export const offlineDevicesFor = (state: UserState, rel: ViewerRelation, now: number): string[] => (maySee(state, rel) ? offlineDevices(state, now) : []);

/** What a change of presence may set on one of the user's devices (device PUT, WS setPresence: the connection's). */
export interface DeviceChange {
  status?: DeviceStatus;
  ext?: string | null;
  call?: CallState;
}

export interface PresencePatch {
  availability?: Availability;
  availabilityUntil?: string | null;
  customStatus?: string | null;
  activity?: Record<string, unknown> | null;
  visibility?: Visibility;
}

/** Applies PATCH /v1/me/presence (already validated). A status change counts as activity. */
export function applyPatch(state: UserState, patch: PresencePatch, now: number): UserState {
  const next: UserState = { ...state };
  if (patch.availability !== undefined) {
    next.availability = patch.availability;
    if (patch.availability === 'auto') next.availabilityUntil = null;
  }
  if (patch.availabilityUntil !== undefined) {
    next.availabilityUntil = patch.availabilityUntil === null ? null : Date.parse(patch.availabilityUntil);
  }
  if (next.availability === 'auto') next.availabilityUntil = null;
  if (patch.customStatus !== undefined) next.customStatus = patch.customStatus;
  if (patch.activity !== undefined) next.activity = patch.activity;
  if (patch.visibility !== undefined) next.visibility = patch.visibility;
  if (liveDevices(state, now).length > 0) next.lastSeen = now;
  return next;
}

/** Sets (replaces) the profile: a field left out or null is not set; nothing set is no profile (null). */
export function withProfile(state: UserState, profile: Partial<Profile>): UserState {
  const name = profile.name ?? null;
  const pic = profile.pic ?? null;
  return { ...state, profile: name === null && pic === null ? null : { name, pic } };
}

/**
 * Counts one WebSocket message of `conn` in rate window `window` (earlier
 * windows' counts are dropped) and returns the new count. Every message of
 * every connection is counted, whoever holds the connection's device.
 */
export function countMessage(state: UserState, conn: string, device: string, window: number, now: number): { state: UserState; count: number } {
  const entry: ConnectionState = { ...(state.conns[conn] ?? { d: device, t: now }) };
  const key = `m${window}` as const;
  const count = (entry[key] ?? 0) + 1;
  for (const k of Object.keys(entry)) if (/^m\d+$/.test(k)) delete entry[k as `m${number}`];
  entry[key] = count;
  return { state: { ...state, conns: { ...state.conns, [conn]: entry } }, count };
}

/** A per-user budget: `limit` changes per `windowMs`. */
export interface ChangeBudget {
  limit: number;
  windowMs: number;
}

/**
 * Spends one unit of the user's change budget for a change that triggers a
 * fan-out. Returns the state with the spend recorded, or the milliseconds
 * until the budget's window ends when it is used up.
 */
export function spendBudget(state: UserState, budget: ChangeBudget, now: number): { state: UserState } | { retryAfterMs: number } {
  const w = Math.floor(now / budget.windowMs);
  const n = state.budget?.w === w ? state.budget.n : 0;
  if (n >= budget.limit) return { retryAfterMs: (w + 1) * budget.windowMs - now };
  return { state: { ...state, budget: { w, n: n + 1 } } };
}

/**
 * API Gateway delivers a WebSocket message of at most 128 KB: a reply's
 * presences take at most this many bytes of it (the rest of a reply is a few
 * KB at most: ids, expiries, requestId).
 */
export const REPLY_PRESENCE_BYTES = 96 * 1024;

const utf8 = new TextEncoder();

/** The leading presences whose JSON fits in `budget` bytes, and the rest. */
export function fitPresences<P extends { userId: string }>(list: readonly P[], budget = REPLY_PRESENCE_BYTES): { fitted: P[]; rest: P[] } {
  let size = 0;
  let i = 0;
  for (; i < list.length; i++) {
    size += utf8.encode(JSON.stringify(list[i])).length + 1;
    if (size > budget) break;
  }
  return { fitted: list.slice(0, i), rest: list.slice(i) };
}
