/**
 * The Agora Chat presence REST API (docs/compat.md, "Agora Chat REST") in
 * terms of the contract: pure translations, no I/O, each unit-tested
 * (test/unit/compat-agora.test.ts). The handler (agora-rest.ts) reads the
 * request, calls functions/commons/operations.ts and answers with these.
 */
import type { PresenceWithOffline } from '../commons/operations.ts';
import type { DeviceStatus, Presence, PresencePatch } from '../core/presence.ts';
import { DEVICE_PATTERN, LIMITS } from '../core/schemas.ts';

/** Agora's documented limits (the presence page), each within the contract's own. */
export const AGORA_LIMITS = {
  /** usernames per subscribe / status / unsubscribe call */
  usernamesPerCall: LIMITS.userIdsPerCall,
  /** subscription duration in seconds (30 days) */
  expiryMaxSeconds: LIMITS.subscriptionMaxSeconds,
  /** sublist pageSize range [1, 500] */
  pageSizeMax: LIMITS.listPageMax,
  /** the `ext` of a status: 64 bytes */
  extBytes: 64,
} as const;

// ---------- errors ----------

/**
 * Agora Chat's REST error body. The presence page gives none (it points to
 * Agora's "HTTP Status Codes" page, agora_chat_status_code), whose shape is
 * `{"error", "exception", "timestamp", "duration", "error_description"}`;
 * the `error` / `exception` names below are that page's for each status,
 * ours in its style where it names none (413, 500, 503).
 */
export interface AgoraError {
  error: string;
  exception: string;
  timestamp: number;
  duration: number;
  error_description: string;
}

const ERROR_NAMES: Record<number, [string, string]> = {
  400: ['illegal_argument', 'java.lang.IllegalArgumentException'],
  401: ['unauthorized', 'EasemobSecurityException'],
  403: ['forbidden_op', 'EasemobForbiddenOpException'],
  404: ['service_resource_not_found', 'EasemobResourceNotFoundException'],
  413: ['request_entity_too_large', 'EasemobRequestEntityTooLargeException'],
  429: ['reach_limit', 'EasemobRateLimitException'],
  503: ['service_unavailable', 'EasemobServiceUnavailableException'],
};

export function agoraError(status: number, description: string, now: number): AgoraError {
  const [error, exception] = ERROR_NAMES[status] ?? (status >= 500 ? ['internal_server_error', 'EasemobServerException'] : ['bad_request', 'EasemobException']);
  return { error, exception, timestamp: now, duration: 0, error_description: description };
}

export const AGORA_MESSAGES = {
  unauthorized: 'Unable to authenticate due to a missing, invalid or expired token',
  forbidden: 'This token may act only on its own user (an app token, scope presence:app, may act on any)',
  badJson: 'Request body must be JSON',
  bodyTooLarge: 'Request body too large',
  badUid: 'uid must be 1-64 characters of [A-Za-z0-9_.@:-]',
  internal: 'Internal server error',
  unavailable: 'Service temporarily unavailable, retry shortly',
  rateLimited: 'This request has reached api limit',
} as const;

type Problem = { error: string };
const problem = (error: string): Problem => ({ error });
export const isProblem = (v: unknown): v is Problem => typeof v === 'object' && v !== null && !Array.isArray(v) && 'error' in v;

// ---------- requests → the contract ----------

/**
 * The user ids a call names: `{"usernames": [...]}` (subscribe, status,
 * unsubscribe), and for unsubscribe also `{"users": [...]}` (the page's
 * parameter table) and a bare JSON array (the page's example). 1–100 entries,
 * each one of our user ids; duplicates are sent once.
 */
export function parseUsernames(body: unknown, isUserId: (id: string) => boolean, unsubscribe = false): string[] | Problem {
  let list: unknown;
  if (unsubscribe && Array.isArray(body)) list = body;
  else if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const o = body as Record<string, unknown>;
    list = o.usernames ?? (unsubscribe ? o.users : undefined);
  }
  const field = unsubscribe ? 'usernames (or users, or a bare JSON array)' : 'usernames';
  if (!Array.isArray(list)) return problem(`${field} is required: a JSON array of user IDs`);
  if (list.length === 0) return problem(`${field} must name at least one user`);
  if (list.length > AGORA_LIMITS.usernamesPerCall) return problem(`${field} may name at most ${AGORA_LIMITS.usernamesPerCall} users, got ${list.length}`);
  const bad = list.find((u) => typeof u !== 'string' || !isUserId(u));
  if (bad !== undefined) return problem(`${field}: ${JSON.stringify(bad)} is not a user ID (1-64 characters of [A-Za-z0-9_.@:-])`);
  return [...new Set(list as string[])];
}

/** `{expiry}`: whole seconds, 1 to 2 592 000 (30 days). */
export function parseExpiry(text: string): number | Problem {
  if (!/^[0-9]{1,8}$/.test(text)) return problem(`expiry must be a whole number of seconds, 1 to ${AGORA_LIMITS.expiryMaxSeconds}`);
  const n = Number(text);
  if (n < 1 || n > AGORA_LIMITS.expiryMaxSeconds) return problem(`expiry must be 1 to ${AGORA_LIMITS.expiryMaxSeconds} seconds (30 days), got ${n}`);
  return n;
}

const DEVICE_RE = new RegExp(DEVICE_PATTERN);

/** `{resource}` is the device's name (Agora's `{type}_{id}`, e.g. `android_123423453246`), within our device pattern. */
export function deviceOfResource(resource: string): string | Problem {
  return DEVICE_RE.test(resource) ? resource : problem('resource must be 1-64 characters of [A-Za-z0-9_.:-] (e.g. android_123423453246)');
}

/** custom status strings that are one of our device statuses set that status (and read back the same) */
const NAMED: ReadonlySet<string> = new Set<DeviceStatus>(['away', 'busy', 'dnd']);

/** What `{status}` does to the device: `0` removes it, `1` makes it online, `away`/`busy`/`dnd` that status, any other string online with that string as the device's ext. */
export type StatusPlan = { offline: true } | { offline: false; status: DeviceStatus; ext: string | null };

export function planStatus(status: string): StatusPlan | Problem {
  if (status === '0') return { offline: true };
  if (status === '1') return { offline: false, status: 'online', ext: null };
  if (NAMED.has(status)) return { offline: false, status: status as DeviceStatus, ext: null };
  if (status === '' || Buffer.byteLength(status, 'utf8') > LIMITS.extBytes)
    return problem(`status must be 0, 1 or a custom status of 1-${LIMITS.extBytes} bytes`);
  return { offline: false, status: 'online', ext: status };
}

/** The body of set status: `{"ext": "<= 64 bytes"}`; it becomes the user's customStatus ('' clears it). */
export function parseExt(body: unknown): PresencePatch | Problem {
  const ext = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>).ext : undefined;
  if (typeof ext !== 'string') return problem('ext is required: a string of at most 64 bytes');
  if (Buffer.byteLength(ext, 'utf8') > AGORA_LIMITS.extBytes) return problem(`ext may be at most ${AGORA_LIMITS.extBytes} bytes`);
  if (ext.length > LIMITS.customStatusChars || Buffer.byteLength(JSON.stringify(ext), 'utf8') > LIMITS.customStatusBytes)
    return problem(`ext may take at most ${LIMITS.customStatusBytes} bytes as JSON (control characters count as escapes)`);
  return { customStatus: ext === '' ? null : ext };
}

/** pageNum (1 is the first page; 0 is read as 1, as Agora's SDK page says 0) and pageSize (1–500), both required. */
export function parsePage(query: Record<string, string | undefined>): { offset: number; size: number } | Problem {
  const num = query.pageNum;
  const size = query.pageSize;
  if (num === undefined || !/^[0-9]{1,6}$/.test(num)) return problem('pageNum is required: a whole number, 1 for the first page');
  if (size === undefined || !/^[0-9]{1,3}$/.test(size) || Number(size) < 1 || Number(size) > AGORA_LIMITS.pageSizeMax)
    return problem(`pageSize is required: a whole number from 1 to ${AGORA_LIMITS.pageSizeMax}`);
  const page = Math.max(1, Number(num));
  return { offset: (page - 1) * Number(size), size: Number(size) };
}

// ---------- the contract → responses ----------

/** Unix seconds as Agora's REST answers carry them: a string ("0" for never). */
export const unixSeconds = (iso: string | null): string => (iso === null ? '0' : String(Math.floor(Date.parse(iso) / 1000)));

/** A device's status string: its ext when it has one (a custom status), `1` when online, else its status name. */
export const deviceStatusString = (d: Presence['devices'][number]): string => (d.ext ? d.ext : d.status === 'online' ? '1' : d.status);

/**
 * One user's presence: `uid`, `last_time`, (`expiry`), `ext`, `status`: one
 * entry per live device, then `"0"` for each device that went offline lately
 * (`offline`, as the viewer may see them: none of a hidden user).
 */
export function toAgoraPresence(p: Presence, expiresAt?: string, offline: readonly string[] = []) {
  return {
    uid: p.userId,
    last_time: unixSeconds(p.lastSeen),
    ...(expiresAt !== undefined ? { expiry: unixSeconds(expiresAt) } : {}),
    ext: p.customStatus ?? '',
    status: Object.fromEntries([...p.devices.map((d) => [d.device, deviceStatusString(d)]), ...offline.map((name) => [name, '0'])]),
  };
}

/** Subscribe's answer: the subscribed users in request order, each with its subscription's expiry. */
export function toSubscribed(subscribed: readonly { userId: string; expiresAt: string }[], viewed: readonly PresenceWithOffline[]) {
  const byId = new Map(viewed.map((v) => [v.presence.userId, v]));
  return {
    result: subscribed.flatMap((s) => {
      const v = byId.get(s.userId);
      return v ? [toAgoraPresence(v.presence, s.expiresAt, v.offlineDevices)] : [];
    }),
  };
}

export const OK = { result: 'ok' } as const;

/** Sublist's answer: `totalnum` and the page, numbers as strings. */
export const toSubList = (total: number, page: readonly { userId: string; expiresAt: string }[]) => ({
  result: { totalnum: String(total), sublist: page.map((s) => ({ uid: s.userId, expiry: unixSeconds(s.expiresAt) })) },
});
