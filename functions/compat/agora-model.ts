/**
 * The Agora Chat presence REST API (docs/compat.md, "Agora Chat REST") in
 * terms of the contract: pure translations, no I/O, each unit-tested
 * (test/unit/compat-agora.test.ts). The handler (agora-rest.ts) reads the
 * request, calls functions/commons/operations.ts and answers with these.
 */
import type { TokenFault } from '../commons/facade.ts';
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
 * Agora Chat's REST error body, `{"error", "exception", "timestamp",
 * "duration", "error_description"}`. The presence page gives no error and
 * points to Agora's "HTTP status codes" page
 * (https://docs.agora.io/en/agora-chat/reference/http-status-codes), whose
 * tables give, per status, the `error` code and the message of each
 * situation; the five fields, and the `exception` of some codes, are those
 * of the REST examples of the platform underneath (Hyphenate / Easemob, e.g.
 * https://hyphenateinc.github.io/server_send_message.html). docs/compat.md
 * lists which code, exception and message is documented and which is ours.
 */
export interface AgoraError {
  error: string;
  exception: string;
  timestamp: number;
  duration: number;
  error_description: string;
}

/** The `error` code by status where one situation has no code of its own (Agora's page; 500 and 503 are ours: its 5xx codes name other failures). */
const ERROR_NAMES: Record<number, string> = {
  400: 'illegal_argument',
  401: 'unauthorized',
  403: 'forbidden_op',
  404: 'service_resource_not_found',
  413: 'Request Entity Too Large',
  429: 'reach_limit',
  500: 'internal_server_error',
  503: 'service_unavailable',
};

/** The `exception` of each `error` code: the platform's examples show the first three; the others are ours, in its style. */
const EXCEPTIONS: Record<string, string> = {
  illegal_argument: 'java.lang.IllegalArgumentException',
  json_parse: 'org.codehaus.jackson.JsonParseException',
  auth_bad_access_token: 'org.apache.usergrid.rest.exceptions.SecurityException',
  unauthorized: 'EasemobSecurityException',
  forbidden_op: 'EasemobForbiddenOpException',
  service_resource_not_found: 'EasemobResourceNotFoundException',
  'Request Entity Too Large': 'EasemobRequestEntityTooLargeException',
  reach_limit: 'EasemobRateLimitException',
  service_unavailable: 'EasemobServiceUnavailableException',
};

/** The error body for `status`; `code` when the situation has its own `error` code (e.g. `json_parse`, `auth_bad_access_token`). */
export function agoraError(status: number, description: string, now: number, code?: string): AgoraError {
  const error = code ?? ERROR_NAMES[status] ?? (status >= 500 ? 'internal_server_error' : 'illegal_argument');
  return { error, exception: EXCEPTIONS[error] ?? 'EasemobServerException', timestamp: now, duration: 0, error_description: description };
}

/** The `error` code of a body that is not JSON (Agora's page). */
export const JSON_PARSE = 'json_parse';

export const AGORA_MESSAGES = {
  forbidden: 'This token may act only on its own user (an app token, scope presence:app, may act on any)',
  /** Agora's json_parse message */
  badJson: 'Unexpected character.',
  /** Agora's 413 message */
  bodyTooLarge: 'Request Entity Too Large.',
  badUid: 'uid must be 1-64 characters of [A-Za-z0-9_.@:-]',
  internal: 'Internal server error',
  unavailable: 'Service temporarily unavailable, retry shortly',
  /** Agora's reach_limit message */
  rateLimited: 'This request has reached api limit.',
  /** Agora's presence rows (error code N/A on its page): more usernames than a call takes, a custom status past its size */
  tooManyGet: 'too many get presences',
  tooManySub: 'too many sub presence',
  tooManyUnsub: 'too many unsub presences',
  extTooBig: 'ext is too big',
} as const;

/** Agora's 401s (its page): each reason a token is refused has its code and message. */
export function agoraTokenRefusal(fault: TokenFault): { code: string; message: string } {
  switch (fault) {
    case 'missing':
    case 'expired':
      return { code: 'unauthorized', message: 'Unable to authenticate due to expired access token.' };
    case 'malformed':
      return { code: 'auth_bad_access_token', message: 'Unable to authenticate due to corrupt access token.' };
    case 'refused':
      return { code: 'auth_bad_access_token', message: 'Unable to authenticate.' };
  }
}

type Problem = { error: string };
const problem = (error: string): Problem => ({ error });
export const isProblem = (v: unknown): v is Problem => typeof v === 'object' && v !== null && !Array.isArray(v) && 'error' in v;

// ---------- requests → the contract ----------

/**
 * The user ids a call names: `{"usernames": [...]}` (subscribe, status,
 * unsubscribe), and for unsubscribe also `{"users": [...]}` (the page's
 * parameter table) and a bare JSON array (the page's example). 1–100 entries,
 * each one of our user ids; duplicates are sent once. More than 100 is the
 * call's own message on Agora's status-codes page ("too many get presences", …).
 */
export function parseUsernames(body: unknown, isUserId: (id: string) => boolean, call: 'status' | 'subscribe' | 'unsubscribe' = 'status'): string[] | Problem {
  const unsubscribe = call === 'unsubscribe';
  let list: unknown;
  if (unsubscribe && Array.isArray(body)) list = body;
  else if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const o = body as Record<string, unknown>;
    list = o.usernames ?? (unsubscribe ? o.users : undefined);
  }
  const field = unsubscribe ? 'usernames (or users, or a bare JSON array)' : 'usernames';
  if (!Array.isArray(list)) return problem(`${field} is required: a JSON array of user IDs`);
  if (list.length === 0) return problem(`${field} must name at least one user`);
  if (list.length > AGORA_LIMITS.usernamesPerCall) return problem(TOO_MANY[call]);
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

const TOO_MANY = { status: AGORA_MESSAGES.tooManyGet, subscribe: AGORA_MESSAGES.tooManySub, unsubscribe: AGORA_MESSAGES.tooManyUnsub } as const;

/** The body of set status: `{"ext": "<= 64 bytes"}`; it becomes the user's customStatus ('' clears it). */
export function parseExt(body: unknown): PresencePatch | Problem {
  const ext = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>).ext : undefined;
  if (typeof ext !== 'string') return problem('ext is required: a string of at most 64 bytes');
  // past 64 bytes, or past the contract's 256 bytes as JSON (control characters count as escapes): Agora's "ext is too big"
  if (
    Buffer.byteLength(ext, 'utf8') > AGORA_LIMITS.extBytes ||
    ext.length > LIMITS.customStatusChars ||
    Buffer.byteLength(JSON.stringify(ext), 'utf8') > LIMITS.customStatusBytes
  )
    return problem(AGORA_MESSAGES.extTooBig);
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
