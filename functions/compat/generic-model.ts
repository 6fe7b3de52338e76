/**
 * The generic REST presence API (docs/compat.md, "Generic REST presence API")
 * in terms of the contract: pure translations, no I/O, each unit-tested
 * (test/unit/compat-generic.test.ts). The handler (generic-rest.ts) reads the
 * request, calls functions/commons/operations.ts and answers with these.
 */
import type { OwnRecord, SweepCounts } from '../commons/operations.ts';
import type { Availability, OwnPresence, Presence, PresencePatch, Status } from '../core/presence.ts';
import { GENERIC_MAX_USER_IDS } from './generic-schemas.ts';

/** The API's error messages, where its document gives one, and ours in its style where it gives none. */
export const GENERIC_MESSAGES = {
  unauthorized: 'Invalid or expired token',
  noStatusFields: 'No status fields to update',
  statusNotFound: 'User status not found',
  tooManyUserIds: 'Too many user IDs requested',
  forbidden: 'Not enough permissions',
  noUserIds: 'user_ids is required: a comma-separated list of user IDs',
  badJson: 'Request body must be a JSON object',
  bodyTooLarge: 'Request body too large',
  busyUntilFormat: 'busy_until must be an ISO 8601 date-time',
  busyUntilPast: 'busy_until must be in the future',
  internal: 'Internal server error',
  unavailable: 'Service temporarily unavailable, retry shortly',
} as const;

export const HEARTBEAT_RECEIVED = { message: 'Heartbeat received' } as const;

// ---------- identities ----------

/** A user id as the API's JSON carries it: a number when ours is a canonical non-negative safe integer ("123"), else our string. */
export function compatUserId(userId: string): number | string {
  if (!/^(0|[1-9]\d*)$/.test(userId)) return userId;
  const n = Number(userId);
  return Number.isSafeInteger(n) ? n : userId;
}

/**
 * The `username` of a user: the profile's display name your back end set
 * (`PUT /v1/sys/users/{userId}/profile`), else the user id (the service knows
 * no other name). A user hidden from the viewer has no profile in its view, so
 * only the id shows.
 */
export function usernameOf(p: Pick<Presence, 'userId' | 'profile'>): string {
  return p.profile?.name ?? p.userId;
}

// ---------- presence → the API's objects ----------

const BUSY: ReadonlySet<Status | Availability> = new Set(['busy', 'dnd']);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const parsedOrNull = (s: string | null): number | null => (s === null ? null : Date.parse(s));

/** is_busy of a presence another user sees: busy or dnd, while online (an offline user shows no availability). */
export const isBusy = (p: Presence): boolean => BUSY.has(p.status);

/** busy_until: the expiry of a busy or dnd availability, null without one (or when not busy). */
const busyUntilOf = (busy: boolean, p: Presence): string | null => (busy ? p.availabilityUntil : null);

/**
 * UserStatus: the caller's own record. is_busy is the availability the user
 * set (busy or dnd), online or not, or a busy/dnd aggregate (a device's
 * status). created_at: when the record was first written (records older than
 * that field: the earliest time the record shows); updated_at: its last write
 * or sign of life, whichever is later; last_seen: the last sign of life, or
 * the record's creation for a user never live.
 */
export function toUserStatus(userId: string, record: OwnRecord): Record<string, unknown> {
  const p: OwnPresence = record.presence;
  const busy = BUSY.has(p.availability) || BUSY.has(p.status);
  const lastSeen = parsedOrNull(p.lastSeen);
  const known = [record.writtenAt, lastSeen].filter((t): t is number => t !== null);
  const updatedAt = known.length > 0 ? Math.max(...known) : null;
  const createdAt = record.createdAt ?? (known.length > 0 ? Math.min(...known) : null);
  return {
    user_id: compatUserId(userId),
    is_online: p.status !== 'offline',
    is_busy: busy,
    busy_until: busy ? p.availabilityUntil : null,
    last_seen: iso(lastSeen ?? createdAt ?? updatedAt),
    created_at: iso(createdAt ?? updatedAt),
    updated_at: iso(updatedAt ?? createdAt),
  };
}

/** UserPresence: another user (or the caller) as the contract's visibility rules let the caller see them. */
export function toUserPresence(p: Presence): Record<string, unknown> {
  const busy = isBusy(p);
  return {
    user_id: compatUserId(p.userId),
    username: usernameOf(p),
    is_online: p.status !== 'offline',
    is_busy: busy,
    busy_until: busyUntilOf(busy, p),
    last_seen: p.lastSeen,
  };
}

/**
 * Whether a presence shows a status record at all: never live and never
 * changed reads as "no record" (404, or left out of a batch, as the API's
 * example leaves out a user without one). A user hidden from the caller shows
 * what they showed when they hid: a hidden user who never showed anything is
 * exactly as absent as one who does not exist.
 */
export const hasRecord = (p: Presence): boolean => p.version > 0 || p.lastSeen !== null;

/**
 * The API's WebSocket `presence_update` for a change, from the presence the
 * recipient may see (visibility applied by the fan-out, as for every push).
 */
export function toPresenceUpdate(p: Presence, timestamp: string | null) {
  return {
    type: 'presence_update',
    data: { user_id: compatUserId(p.userId), is_online: p.status !== 'offline', is_busy: isBusy(p), last_seen: p.lastSeen },
    timestamp,
  };
}

/** The admin cleanup's answer, from one sweep's counts. */
export const cleanupSummary = (counts: SweepCounts) => ({
  message: 'Presence cleanup completed',
  users_marked_offline: counts.usersMarkedOffline,
  busy_status_cleared: counts.availabilityCleared,
});

// ---------- requests → the contract ----------

/** `?user_ids=123,456`: the ids in order (repeats once), or the API's error message. */
export function parseUserIds(raw: string | undefined, isUserId: (id: string) => boolean): string[] | { error: string; notFound?: true } {
  if (raw === undefined || raw.trim() === '') return { error: GENERIC_MESSAGES.noUserIds };
  const ids = raw.split(',').map((s) => s.trim());
  if (ids.length > GENERIC_MAX_USER_IDS) return { error: GENERIC_MESSAGES.tooManyUserIds };
  const bad = ids.find((id) => !isUserId(id));
  if (bad !== undefined) return { error: `Invalid user ID: ${JSON.stringify(bad.slice(0, 80))}` };
  return [...new Set(ids)];
}

/** ISO 8601 date-times the API's clients send: `Z`, an offset, or none (read as UTC); up to microseconds. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** busy_until as epoch ms, null for `null`, or undefined when not a date-time. */
export function parseBusyUntil(value: string | null): number | null | undefined {
  if (value === null) return null;
  const m = DATE_TIME.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec = '00', frac = '', zone = 'Z'] = m;
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${sec}${frac ? `.${frac.slice(0, 3).padEnd(3, '0')}` : ''}${offset}`);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2024-02-31 over to March: the fields must be the ones read back (in the given offset)
  const check = new Date(ms + offsetMinutes(offset) * 60_000);
  if (check.getUTCDate() !== Number(d) || check.getUTCMonth() + 1 !== Number(mo)) return undefined;
  return ms;
}

const offsetMinutes = (offset: string): number => {
  if (offset === 'Z') return 0;
  const sign = offset.startsWith('-') ? -1 : 1;
  return sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
};

/** The fields of `PUT /users/me/status` (validated by genericStatusBody). */
export interface StatusUpdate {
  is_online?: boolean | null;
  is_busy?: boolean | null;
  busy_until?: string | null;
}

/** What a status update asks of the contract. */
export interface StatusPlan {
  online?: boolean;
  /** the availability patch, given the availability at the moment of the write */
  patch: (availability: Availability) => PresencePatch;
}

/**
 * `PUT /users/me/status` in the contract's terms, or the API's error message:
 * - is_online false: every device offline; true: the HTTP device live (a heartbeat);
 * - is_busy true: availability busy (a dnd user stays dnd), until busy_until when given
 *   (a user becoming busy without one: no expiry); false: a busy or dnd availability ends;
 * - busy_until alone: the expiry of a busy or dnd availability (null: none); it sets
 *   nothing on a user who is not busy (the contract keeps no expiry without an availability);
 * - no field at all (null counts as absent for is_online and is_busy): the API's 400.
 */
export function planStatusUpdate(body: StatusUpdate, now: number): StatusPlan | { error: string } {
  const online = body.is_online ?? undefined;
  const busy = body.is_busy ?? undefined;
  const untilGiven = body.busy_until !== undefined;
  if (online === undefined && busy === undefined && !untilGiven) return { error: GENERIC_MESSAGES.noStatusFields };
  let until: number | null | undefined;
  if (untilGiven && busy !== false) {
    until = parseBusyUntil(body.busy_until ?? null);
    if (until === undefined) return { error: GENERIC_MESSAGES.busyUntilFormat };
    if (until !== null && until <= now) return { error: GENERIC_MESSAGES.busyUntilPast };
  }
  const untilPatch = until === undefined ? {} : { availabilityUntil: until === null ? null : new Date(until).toISOString() };
  const patch = (current: Availability): PresencePatch => {
    const isBusyNow = BUSY.has(current);
    if (busy === true) return isBusyNow ? untilPatch : { availability: 'busy', availabilityUntil: null, ...untilPatch };
    if (busy === false) return isBusyNow ? { availability: 'auto' } : {};
    return isBusyNow ? untilPatch : {};
  };
  return { ...(online !== undefined ? { online } : {}), patch };
}
