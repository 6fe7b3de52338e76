/**
 * RingCentral's presence API (docs/compat.md, "RingCentral presence") in terms
 * of the contract: pure translations, no I/O, each unit-tested
 * (test/unit/compat-ringcentral.test.ts). The handler (ringcentral.ts) reads
 * the request, calls functions/commons/operations.ts and answers with these.
 *
 * Where things come from: the response fields and the example are the seed
 * document's ("Detecting User Presence"); the paths, the PUT body, paging
 * (`page`/`perPage`, `records`/`paging`/`navigation`), the `~` shorthand and
 * the error body are RingCentral's public API reference.
 */
import type { TokenFault } from '../commons/facade.ts';
import type { Availability, CallState, OwnPresence, Presence, PresencePatch, Visibility } from '../core/presence.ts';
import { compatUserId } from './generic-model.ts';
import { type RC_DND_STATUSES, RC_MAX_RECORDS, RC_PER_PAGE_DEFAULT, RC_PER_PAGE_MAX, type RC_USER_STATUSES } from './ringcentral-schemas.ts';

export type RcUserStatus = (typeof RC_USER_STATUSES)[number];
export type RcDndStatus = (typeof RC_DND_STATUSES)[number];

/** `~`: the caller's own account or extension (RingCentral's shorthand). */
export const ME = '~';
/** the path prefix of every RingCentral REST route */
export const RC_PREFIX = '/restapi/v1.0';

/**
 * RingCentral's error codes by HTTP status, for an error with no code of its
 * own: those of RingCentral's error guide
 * (https://developers.ringcentral.com/guide/basics/errors) for the same
 * situation; 413 has none there (ours: CMN-101). docs/compat.md tells which
 * code is used where.
 */
export const RC_ERROR_CODES: Record<number, string> = {
  400: 'CMN-101',
  401: 'OAU-134',
  403: 'CMN-401',
  404: 'CMN-102',
  413: 'CMN-101',
  429: 'CMN-301',
  500: 'CMN-203',
  503: 'CMN-201',
};

/** The codes of situations that share a status with another (the error guide's). */
export const RC_CODES = {
  /** 400: the body is not JSON */
  badJson: 'CMN-103',
  /** 400: JSON, but not a PresenceInfoRequest object */
  badRequest: 'CMN-104',
  /** 403: acting on another extension */
  otherExtension: 'CMN-404',
  /** 403: an administrator's call */
  adminOnly: 'CMN-402',
} as const;

/** The error guide's messages, and ours where it has none (the body past our limit). */
export const RC_MESSAGES = {
  invalid: (param: string) => `Parameter [${param}] value is invalid.`,
  notFound: (param: string) => `Resource for parameter [${param}] is not found`,
  badJson: "JSON can't be parsed.",
  badRequest: 'Cannot parse request',
  bodyTooLarge: 'Request body too large',
  forbiddenOther: 'Attempt to access another extension',
  forbiddenList: 'Administrator permission required',
  rateExceeded: 'Request rate exceeded',
  internal: 'Internal Server Error',
  unavailable: 'Service Temporary Unavailable',
} as const;

/** The error guide's 401s: each reason a token is refused has its code and message. */
export function rcTokenRefusal(fault: TokenFault): { code: string; message: string } {
  switch (fault) {
    case 'missing':
      return { code: 'OAU-134', message: 'Invalid Authorization header.' };
    case 'malformed':
      return { code: 'OAU-149', message: 'Unparsable access token' };
    case 'expired':
      return { code: 'OAU-128', message: 'Access token expired.' };
    case 'refused':
      return { code: 'OAU-129', message: 'Access token corrupted.' };
  }
}

/** A 400 CMN-101 (or 404 CMN-102) names its parameter: RingCentral's `parameterName`. */
export const parameter = (name: string) => ({ fields: { parameterName: name } });

/**
 * The parameter a failed validation of a flat object (the PUT body, the query)
 * is about: the first field of its JSON pointer, none for the object itself.
 */
export const parameterOf = (errors: readonly { instancePath: string }[] | null | undefined): string | undefined =>
  errors?.[0]?.instancePath.split('/')[1]?.replace(/~1/g, '/').replace(/~0/g, '~') || undefined;

/**
 * RingCentral's error body: `errorCode` and `message`, the `errors` list
 * (here always the one error) and the error's fields (e.g. `parameterName`)
 * in the error and at the top, as RingCentral's own answers show them (the
 * guide's body; the CMN-101 example of its developer forum).
 */
export function rcErrorBody(status: number, message: string, detail: { code?: string; fields?: Record<string, string> } = {}) {
  const errorCode = detail.code ?? RC_ERROR_CODES[status] ?? (status >= 500 ? 'CMN-203' : 'CMN-101');
  const fields = detail.fields ?? {};
  return { errorCode, message, errors: [{ errorCode, message, ...fields }], ...fields };
}

/** A request RingCentral would refuse: the message and the parameter it is about. */
export type RcProblem = { error: string; parameter: string };

// ---------- addresses ----------

/**
 * The origin absolute URIs are built on (RingCentral answers absolute URIs):
 * the request's host (Host header, else API Gateway's domainName) and scheme
 * (X-Forwarded-Proto, which API Gateway sets; https when absent).
 */
export function originOf(headers: Record<string, string | undefined>, domainName: string | undefined): string {
  const host = headers.host ?? domainName ?? 'localhost';
  const proto = (headers['x-forwarded-proto'] ?? 'https').split(',')[0]?.trim() || 'https';
  return `${proto}://${host}`;
}

const seg = encodeURIComponent;
export const extensionUri = (origin: string, userId: string) => `${origin}${RC_PREFIX}/account/${ME}/extension/${seg(userId)}`;
export const presenceUri = (origin: string, userId: string) => `${extensionUri(origin, userId)}/presence`;
export const accountPresenceUri = (origin: string, page: number, perPage: number) =>
  `${origin}${RC_PREFIX}/account/${ME}/presence?page=${page}&perPage=${perPage}`;

/** The user an `{extensionId}` names: `~` the caller, else our user id as given. */
export const targetOf = (extensionId: string, caller: string): string => (extensionId === ME ? caller : extensionId);

// ---------- presence → RingCentral's PresenceInfoResponse ----------

const isOwn = (p: Presence): p is OwnPresence => 'availability' in p;

/** presenceStatus, the aggregate: Offline; Busy for a busy/dnd status or any call; else Available (away too). */
export function presenceStatusOf(p: Presence): RcUserStatus {
  if (p.status === 'offline') return 'Offline';
  if (p.status === 'busy' || p.status === 'dnd' || p.call !== 'NoCall') return 'Busy';
  return 'Available';
}

/**
 * userStatus, what the user set: Offline while no device is live (RingCentral's
 * "Offline" user status); Busy for a busy or dnd availability (the owner's
 * view); in another user's view, which holds no availability, Busy for a dnd
 * status or a busy one without a call (a call alone makes the aggregate busy:
 * a user who also set busy while in a call reads Available there); else Available.
 */
export function userStatusOf(p: Presence): RcUserStatus {
  if (p.status === 'offline') return 'Offline';
  if (isOwn(p)) return p.availability === 'busy' || p.availability === 'dnd' ? 'Busy' : 'Available';
  return p.status === 'dnd' || (p.status === 'busy' && p.call === 'NoCall') ? 'Busy' : 'Available';
}

/** dndStatus: DoNotAcceptAnyCalls for our dnd (availability, or status of another user), else TakeAllCalls. */
export const dndStatusOf = (p: Presence): RcDndStatus => ((isOwn(p) ? p.availability === 'dnd' : p.status === 'dnd') ? 'DoNotAcceptAnyCalls' : 'TakeAllCalls');

export const telephonyStatusOf = (p: Presence): CallState => p.call;

/**
 * One user's PresenceInfoResponse. `allowSeeMyPresence` is the owner's
 * visibility (everyone → true) in the owner's view; in the account-wide list
 * (`everyoneSees`) it is true (the list holds only users visible to
 * everyone); another user's single view leaves it out (their setting is not
 * theirs to show).
 */
export function toRcPresence(p: Presence, origin: string, opts: { everyoneSees?: boolean } = {}): Record<string, unknown> {
  const allow = isOwn(p) ? p.visibility === 'everyone' : opts.everyoneSees ? true : undefined;
  return {
    uri: presenceUri(origin, p.userId),
    extension: { uri: extensionUri(origin, p.userId), id: compatUserId(p.userId), extensionNumber: p.userId },
    presenceStatus: presenceStatusOf(p),
    telephonyStatus: telephonyStatusOf(p),
    userStatus: userStatusOf(p),
    dndStatus: dndStatusOf(p),
    ...(p.customStatus !== null ? { message: p.customStatus } : {}),
    ...(allow !== undefined ? { allowSeeMyPresence: allow } : {}),
    ringOnMonitoredCall: false,
    pickUpCallsOnHold: false,
  };
}

// ---------- PUT body → the contract ----------

/** The fields of `PUT …/presence` (validated by rcPresenceBody). */
export interface RcPresenceUpdate {
  userStatus?: RcUserStatus;
  dndStatus?: RcDndStatus;
  message?: string;
  allowSeeMyPresence?: boolean;
  ringOnMonitoredCall?: boolean;
  pickUpCallsOnHold?: boolean;
}

/** What a PUT asks of the contract (operations.updateStatus). */
export interface RcPlan {
  /** userStatus Offline: every device offline */
  online?: false;
  patch: (availability: Availability, visibility: Visibility) => PresencePatch;
}

/**
 * `PUT …/presence` in the contract's terms, or the error message:
 * - userStatus Busy → availability busy; Available → auto (an `away` stays when
 *   neither userStatus nor dndStatus is given); Offline → every device offline
 *   (the availability is left as it is);
 * - dndStatus DoNotAcceptAnyCalls → availability dnd (wins over Busy);
 *   TakeAllCalls → a dnd availability ends (busy when userStatus is Busy,
 *   else auto); the department values have no counterpart → 400;
 * - message → customStatus ('' clears it);
 * - allowSeeMyPresence true → visibility everyone; false → friends when it was
 *   everyone (a friends/nobody visibility stays);
 * - ringOnMonitoredCall, pickUpCallsOnHold: accepted, not stored (always false).
 */
export function planRcUpdate(body: RcPresenceUpdate): RcPlan | RcProblem {
  if (body.dndStatus === 'DoNotAcceptDepartmentCalls' || body.dndStatus === 'TakeDepartmentCallsOnly')
    return { error: RC_MESSAGES.invalid('dndStatus'), parameter: 'dndStatus' };
  const patch = (current: Availability, visibility: Visibility): PresencePatch => {
    const out: PresencePatch = {};
    const next = nextAvailability(current, body.userStatus, body.dndStatus);
    if (next !== current) out.availability = next;
    if (body.message !== undefined) out.customStatus = body.message === '' ? null : body.message;
    if (body.allowSeeMyPresence === true && visibility !== 'everyone') out.visibility = 'everyone';
    if (body.allowSeeMyPresence === false && visibility === 'everyone') out.visibility = 'friends';
    return out;
  };
  return { ...(body.userStatus === 'Offline' ? { online: false as const } : {}), patch };
}

function nextAvailability(current: Availability, userStatus: RcUserStatus | undefined, dnd: RcDndStatus | undefined): Availability {
  const wantsDnd = dnd === undefined ? current === 'dnd' : dnd === 'DoNotAcceptAnyCalls';
  if (wantsDnd) return 'dnd';
  const busy = userStatus === undefined || userStatus === 'Offline' ? current === 'busy' : userStatus === 'Busy';
  if (busy) return 'busy';
  if (userStatus === undefined && dnd === undefined) return current;
  if (userStatus === undefined && current === 'away') return 'away';
  return 'auto';
}

// ---------- the account-wide list: RingCentral's pages over our cursors ----------

/** `?page=&perPage=` (validated as digit strings) as numbers, or the error message and the parameter it is about. */
export function parsePaging(query: Record<string, string>): { page: number; perPage: number } | RcProblem {
  const page = query.page === undefined ? 1 : Number(query.page);
  const perPage = query.perPage === undefined ? RC_PER_PAGE_DEFAULT : Number(query.perPage);
  // perPage at most RC_PER_PAGE_MAX; page × perPage at most RC_MAX_RECORDS (docs/compat.md)
  if (perPage > RC_PER_PAGE_MAX) return { error: RC_MESSAGES.invalid('perPage'), parameter: 'perPage' };
  if (page * perPage > RC_MAX_RECORDS) return { error: RC_MESSAGES.invalid('page'), parameter: 'page' };
  return { page, perPage };
}

/** our online list's page reader: operations.onlinePresence with a cursor */
export type PageReader<C> = (limit: number, cursor: C | null) => Promise<{ presence: Presence[]; nextCursor: C | null }>;

/** our list's largest page (LIMITS.listPageMax) */
const READ_MAX = 500;

/**
 * RingCentral's page `page` of `perPage` records over our cursor-paged list:
 * walks our cursors from the start until `page × perPage` records are read
 * (pages of ours may hold fewer than asked: users gone offline since are left
 * out), then keeps the last `perPage`. `more`: our list has a cursor left (the
 * next page may still come out empty).
 */
export async function readPage<C>(read: PageReader<C>, page: number, perPage: number): Promise<{ records: Presence[]; more: boolean }> {
  const need = page * perPage;
  const seen: Presence[] = [];
  let cursor: C | null = null;
  do {
    const out = await read(Math.min(READ_MAX, need - seen.length), cursor);
    seen.push(...out.presence);
    cursor = out.nextCursor;
  } while (cursor !== null && seen.length < need);
  return { records: seen.slice((page - 1) * perPage, need), more: cursor !== null };
}

/** AccountPresenceInfo around a page's records. */
export function toAccountPresence(origin: string, page: number, perPage: number, records: Presence[], more: boolean) {
  const start = (page - 1) * perPage;
  return {
    uri: accountPresenceUri(origin, page, perPage),
    records: records.map((p) => toRcPresence(p, origin, { everyoneSees: true })),
    paging: { page, perPage, ...(records.length > 0 ? { pageStart: start, pageEnd: start + records.length - 1 } : {}) },
    navigation: {
      firstPage: { uri: accountPresenceUri(origin, 1, perPage) },
      ...(more ? { nextPage: { uri: accountPresenceUri(origin, page + 1, perPage) } } : {}),
      ...(page > 1 ? { previousPage: { uri: accountPresenceUri(origin, page - 1, perPage) } } : {}),
    },
  };
}
