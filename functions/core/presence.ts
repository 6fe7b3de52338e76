/**
 * The presence core: pure functions over a user's stored state.
 * No I/O here; every function takes `now` (epoch ms) explicitly.
 */

export const DEVICE_STATUSES = ['online', 'away', 'busy', 'dnd'] as const;
export const STATUSES = [...DEVICE_STATUSES, 'offline'] as const;
export const AVAILABILITIES = ['auto', 'away', 'busy', 'dnd'] as const;
export const VISIBILITIES = ['everyone', 'friends', 'nobody'] as const;

export type DeviceStatus = (typeof DEVICE_STATUSES)[number];
export type Status = (typeof STATUSES)[number];
export type Availability = (typeof AVAILABILITIES)[number];
export type Visibility = (typeof VISIBILITIES)[number];
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
}

/** What is stored for a user: one item, written with optimistic concurrency on `rev`. */
export interface UserState {
  userId: string;
  devices: Record<string, DeviceState>;
  availability: Availability;
  availabilityUntil: number | null;
  customStatus: string | null;
  activity: Record<string, unknown> | null;
  visibility: Visibility;
  lastSeen: number | null;
  /** Increases on every change of what subscribers see. */
  version: number;
  /** Write counter: increases on every write (optimistic concurrency). */
  rev: number;
  /** What hidden viewers see (frozen when the user stopped being visible to everyone). */
  hidden: { lastSeen: number | null; version: number } | null;
  /**
   * Open WebSocket connections (id → device, opened at): where pushes go.
   * Independent of liveness: an idle but open socket still receives pushes.
   * Removed at $disconnect, on 410 Gone, or by the sweep after API Gateway's
   * 2-hour connection limit.
   */
  conns: Record<string, ConnectionState>;
}

/** An open WebSocket connection of a user. */
export interface ConnectionState {
  /** device it carries */
  d: string;
  /** opened at (epoch ms) */
  t: number;
  /** listens to the user's friends */
  f?: true;
}

/** API Gateway closes every WebSocket connection after 2 hours; entries older than this are stale. */
export const MAX_CONNECTION_MS = (2 * 60 + 5) * 60 * 1000;

export interface DeviceView {
  device: string;
  status: DeviceStatus;
  ext: string | null;
  lastSeen: string;
}

/** The Presence object of the contract. */
export interface Presence {
  userId: string;
  status: Status;
  customStatus: string | null;
  activity: Record<string, unknown> | null;
  availabilityUntil: string | null;
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

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function emptyState(userId: string): UserState {
  return {
    userId,
    devices: {},
    availability: 'auto',
    availabilityUntil: null,
    customStatus: null,
    activity: null,
    visibility: 'everyone',
    lastSeen: null,
    version: 0,
    rev: 0,
    hidden: null,
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

/** The contract's aggregation rule. */
export function aggregateStatus(state: UserState, now: number): Status {
  const live = liveDevices(state, now);
  if (live.length === 0) return 'offline';
  const manual = effectiveAvailability(state, now);
  if (manual !== 'auto') return manual;
  let best: DeviceStatus = 'away';
  for (const [, d] of live) if (PRECEDENCE[d.s] > PRECEDENCE[best]) best = d.s;
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
    availabilityUntil: manual === 'auto' ? null : iso(state.availabilityUntil),
    devices: liveDevices(state, now).map(([device, d]) => ({
      device,
      status: d.s,
      ext: d.x,
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

/** What a viewer who may not see the user gets: exactly an offline user. */
export function hiddenPresence(state: UserState): Presence {
  return {
    userId: state.userId,
    status: 'offline',
    customStatus: null,
    activity: null,
    availabilityUntil: null,
    devices: [],
    lastSeen: iso(state.hidden?.lastSeen ?? null),
    version: state.hidden?.version ?? 0,
  };
}

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
  return maySee(state, rel) ? toPresence(state, now) : hiddenPresence(state);
}

/** The version a viewer holds of this state: a push is due when it grows. */
export function projectedVersion(state: UserState, rel: ViewerRelation): number {
  return maySee(state, rel) ? state.version : (state.hidden?.version ?? 0);
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
    state.availability === 'auto' ? null : state.availabilityUntil,
    // a visibility change changes what some viewers see (hidden ↔ real), so it versions too
    state.visibility,
    liveDevices(state, stored).map(([name, d]) => [name, d.s, d.x]),
  ]);
}

/**
 * Completes a transition prev → next made by a write path: bumps the version
 * when what subscribers see changed, freezes what hidden viewers see when the
 * user stops being visible to everyone, and counts the write.
 * Returns the state to store and whether subscribers must be told.
 */
export function finalize(prev: UserState, next: UserState, opts: { bump?: boolean } = {}): { state: UserState; visibleChange: boolean } {
  const visibleChange = opts.bump === true || visibleKey(prev) !== visibleKey(next);
  const version = visibleChange ? prev.version + 1 : prev.version;
  let hidden = next.hidden;
  if (next.visibility === 'everyone') {
    hidden = null;
  } else if (prev.visibility === 'everyone') {
    hidden = { lastSeen: prev.lastSeen, version };
  } else if (prev.visibility !== next.visibility || opts.bump) {
    // the set of hidden viewers changed (friends ↔ nobody, a friendship, a force push): they
    // get a newer version; what they see stays frozen at the moment strangers lost sight
    hidden = { lastSeen: prev.hidden?.lastSeen ?? prev.lastSeen, version };
  }
  return { state: { ...next, version, rev: prev.rev + 1, hidden }, visibleChange };
}

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

/** Removes expired devices and a lapsed availability. */
export function sweepState(state: UserState, now: number): SweepResult {
  const devices: Record<string, DeviceState> = {};
  let devicesExpired = 0;
  let lastGone: number | null = null;
  for (const [name, d] of Object.entries(state.devices)) {
    if (d.e > now) devices[name] = d;
    else {
      devicesExpired++;
      lastGone = Math.max(lastGone ?? 0, d.e);
    }
  }
  const conns = Object.fromEntries(Object.entries(state.conns).filter(([, c]) => c.t + MAX_CONNECTION_MS > now));
  const lapsed = state.availability !== 'auto' && state.availabilityUntil !== null && state.availabilityUntil <= now;
  const wentOffline = lastGone !== null && Object.keys(devices).length === 0;
  return {
    state: {
      ...state,
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

/** Adds or refreshes a device (connect, heartbeat of an unknown device, device PUT). */
export function upsertDevice(
  state: UserState,
  device: string,
  patch: { kind: DeviceKind; expiresAt: number; status?: DeviceStatus; ext?: string | null; conn?: string },
  now: number,
): UserState {
  const old = state.devices[device];
  const d: DeviceState = {
    s: patch.status ?? old?.s ?? 'online',
    x: patch.ext !== undefined ? patch.ext : (old?.x ?? null),
    k: patch.kind,
    e: patch.expiresAt,
    l: now,
  };
  const conn = patch.conn ?? (patch.kind === 'ws' ? old?.c : undefined);
  let conns = state.conns;
  if (conn !== undefined) {
    d.c = conn;
    if (conns[conn]?.d !== device) conns = { ...conns, [conn]: { d: device, t: conns[conn]?.t ?? now } };
  }
  return { ...state, devices: { ...state.devices, [device]: d }, conns, lastSeen: now };
}

/** Marks a connection as listening (or not) to the user's friends. */
export function setFriendsListener(state: UserState, conn: string, device: string, on: boolean, now: number): UserState {
  const entry: ConnectionState = { ...(state.conns[conn] ?? { d: device, t: now }) };
  if (on) entry.f = true;
  else delete entry.f;
  return { ...state, conns: { ...state.conns, [conn]: entry } };
}

/** A WebSocket connection is gone ($disconnect or 410): forget it and the device it holds. */
export function dropConnection(state: UserState, conn: string, now: number): UserState {
  const entry = state.conns[conn];
  const owned = Object.entries(state.devices).find(([, d]) => d.c === conn)?.[0];
  if (!entry && owned === undefined) return state;
  const conns = { ...state.conns };
  delete conns[conn];
  const next = { ...state, conns };
  return owned === undefined ? next : removeDevice(next, owned, now);
}

/** Removes a device; the user's lastSeen moves to now if it was live. */
export function removeDevice(state: UserState, device: string, now: number): UserState {
  const old = state.devices[device];
  if (!old) return state;
  const devices = { ...state.devices };
  delete devices[device];
  return { ...state, devices, lastSeen: old.e > now ? now : state.lastSeen };
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
