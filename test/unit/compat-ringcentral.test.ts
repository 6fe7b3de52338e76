/**
 * The RingCentral presence facade's translations (functions/compat/ringcentral-model.ts)
 * and its entry in the facade table (lib/routes.ts), as pure functions.
 */
import { describe, expect, it } from 'vitest';
import {
  dndStatusOf,
  originOf,
  type PageReader,
  parameter,
  parameterOf,
  parsePaging,
  planRcUpdate,
  presenceStatusOf,
  RC_MESSAGES,
  rcErrorBody,
  rcTokenRefusal,
  readPage,
  targetOf,
  toAccountPresence,
  toRcPresence,
  userStatusOf,
} from '../../functions/compat/ringcentral-model.ts';
import { rcAccountPresence, rcError, rcPresence } from '../../functions/compat/ringcentral-schemas.ts';
import type { Availability, OwnPresence, Presence, PresencePatch, Visibility } from '../../functions/core/presence.ts';
import { facadeAccess, facadeRoutes, facades, throttleFor } from '../../lib/routes.ts';
import { problemWith } from '../support/schema-check.ts';

const presence = (over: Partial<Presence> = {}): Presence => ({
  userId: '101',
  status: 'online',
  customStatus: null,
  activity: null,
  availabilityUntil: null,
  call: 'NoCall',
  profile: null,
  devices: [],
  lastSeen: '2026-11-22T10:00:00.000Z',
  version: 3,
  ...over,
});
const own = (over: Partial<OwnPresence> = {}): OwnPresence => ({ ...presence(), visibility: 'everyone', availability: 'auto', ...over });
const ORIGIN = 'https://api.example.com';

describe('presence → PresenceInfoResponse', () => {
  it('the owner, available: the seed sample, field for field (addresses on our origin, account ~)', () => {
    const out = toRcPresence(own(), ORIGIN);
    expect(out).toEqual({
      uri: 'https://api.example.com/restapi/v1.0/account/~/extension/101/presence',
      extension: { uri: 'https://api.example.com/restapi/v1.0/account/~/extension/101', id: 101, extensionNumber: '101' },
      presenceStatus: 'Available',
      telephonyStatus: 'NoCall',
      userStatus: 'Available',
      dndStatus: 'TakeAllCalls',
      allowSeeMyPresence: true,
      ringOnMonitoredCall: false,
      pickUpCallsOnHold: false,
    });
    expect(problemWith(rcPresence, out)).toBeNull();
  });

  it('ids that are no integer stay strings, escaped in the URIs; message is the custom status', () => {
    const out = toRcPresence(own({ userId: 'a b', customStatus: 'lunch' }), ORIGIN);
    expect(out.extension).toMatchObject({ id: 'a b', extensionNumber: 'a b' });
    expect(out.uri).toBe('https://api.example.com/restapi/v1.0/account/~/extension/a%20b/presence');
    expect(out.message).toBe('lunch');
  });

  it.each<[Partial<OwnPresence>, string, string, string]>([
    [{ status: 'offline' }, 'Offline', 'Offline', 'TakeAllCalls'],
    [{ status: 'away', availability: 'away' }, 'Available', 'Available', 'TakeAllCalls'],
    [{ status: 'busy', availability: 'busy' }, 'Busy', 'Busy', 'TakeAllCalls'],
    [{ status: 'dnd', availability: 'dnd' }, 'Busy', 'Busy', 'DoNotAcceptAnyCalls'],
    [{ status: 'busy', call: 'CallConnected' }, 'Busy', 'Available', 'TakeAllCalls'],
    [{ status: 'offline', availability: 'dnd' }, 'Offline', 'Offline', 'DoNotAcceptAnyCalls'],
  ])('own %j: presenceStatus %s, userStatus %s, dndStatus %s', (over, ps, us, dnd) => {
    const p = own(over);
    expect([presenceStatusOf(p), userStatusOf(p), dndStatusOf(p)]).toEqual([ps, us, dnd]);
  });

  it("another user's view: from the status (no availability there); a call alone reads Available; no allowSeeMyPresence", () => {
    expect(userStatusOf(presence({ status: 'busy' }))).toBe('Busy');
    expect(userStatusOf(presence({ status: 'busy', call: 'Ringing' }))).toBe('Available');
    expect(dndStatusOf(presence({ status: 'dnd' }))).toBe('DoNotAcceptAnyCalls');
    expect(presenceStatusOf(presence({ status: 'busy', call: 'OnHold' }))).toBe('Busy');
    expect(toRcPresence(presence({ call: 'ParkedCall' }), ORIGIN)).toMatchObject({ telephonyStatus: 'ParkedCall', presenceStatus: 'Busy' });
    expect(toRcPresence(presence(), ORIGIN).allowSeeMyPresence).toBeUndefined();
    expect(toRcPresence(presence(), ORIGIN, { everyoneSees: true }).allowSeeMyPresence).toBe(true);
    expect(toRcPresence(own({ visibility: 'friends' }), ORIGIN).allowSeeMyPresence).toBe(false);
  });
});

describe('PUT body → the contract', () => {
  const apply = (body: Parameters<typeof planRcUpdate>[0], availability: Availability = 'auto', visibility: Visibility = 'everyone'): PresencePatch => {
    const plan = planRcUpdate(body);
    if ('error' in plan) throw new Error(plan.error);
    return plan.patch(availability, visibility);
  };

  it('userStatus and dndStatus onto one availability (dnd wins; TakeAllCalls ends a dnd)', () => {
    expect(apply({ userStatus: 'Busy' })).toEqual({ availability: 'busy' });
    expect(apply({ userStatus: 'Available' }, 'busy')).toEqual({ availability: 'auto' });
    expect(apply({ userStatus: 'Available' }, 'away')).toEqual({ availability: 'auto' });
    expect(apply({ dndStatus: 'DoNotAcceptAnyCalls' })).toEqual({ availability: 'dnd' });
    expect(apply({ userStatus: 'Busy', dndStatus: 'DoNotAcceptAnyCalls' })).toEqual({ availability: 'dnd' });
    expect(apply({ userStatus: 'Available' }, 'dnd')).toEqual({});
    expect(apply({ dndStatus: 'TakeAllCalls' }, 'dnd')).toEqual({ availability: 'auto' });
    expect(apply({ dndStatus: 'TakeAllCalls', userStatus: 'Busy' }, 'dnd')).toEqual({ availability: 'busy' });
    expect(apply({ dndStatus: 'TakeAllCalls' }, 'away')).toEqual({});
    expect(apply({ dndStatus: 'TakeAllCalls' }, 'busy')).toEqual({});
    expect(apply({}, 'away')).toEqual({});
  });

  it('userStatus Offline: every device offline, the availability left as it is', () => {
    const plan = planRcUpdate({ userStatus: 'Offline' });
    expect(plan).toMatchObject({ online: false });
    expect(apply({ userStatus: 'Offline' }, 'busy')).toEqual({});
    expect('online' in (planRcUpdate({ userStatus: 'Busy' }) as object)).toBe(false);
  });

  it("message is the custom status ('' clears); allowSeeMyPresence is the visibility (false: friends, from everyone only)", () => {
    expect(apply({ message: 'out' })).toEqual({ customStatus: 'out' });
    expect(apply({ message: '' })).toEqual({ customStatus: null });
    expect(apply({ allowSeeMyPresence: false })).toEqual({ visibility: 'friends' });
    expect(apply({ allowSeeMyPresence: false }, 'auto', 'nobody')).toEqual({});
    expect(apply({ allowSeeMyPresence: true }, 'auto', 'nobody')).toEqual({ visibility: 'everyone' });
    expect(apply({ allowSeeMyPresence: true })).toEqual({});
    expect(apply({ ringOnMonitoredCall: true, pickUpCallsOnHold: true })).toEqual({});
  });

  it('the department dndStatus values have no counterpart: an error', () => {
    const invalid = { error: 'Parameter [dndStatus] value is invalid.', parameter: 'dndStatus' };
    expect(planRcUpdate({ dndStatus: 'DoNotAcceptDepartmentCalls' })).toEqual(invalid);
    expect(planRcUpdate({ dndStatus: 'TakeDepartmentCallsOnly' })).toEqual(invalid);
  });
});

describe('addresses and errors', () => {
  it('the origin: Host (else domainName) and X-Forwarded-Proto (else https)', () => {
    expect(originOf({ host: 'a.example' }, 'b.example')).toBe('https://a.example');
    expect(originOf({}, 'b.example')).toBe('https://b.example');
    expect(originOf({ host: '127.0.0.1:3000', 'x-forwarded-proto': 'http' }, undefined)).toBe('http://127.0.0.1:3000');
  });

  it('~ is the caller', () => {
    expect(targetOf('~', 'me')).toBe('me');
    expect(targetOf('42', 'me')).toBe('42');
  });

  it("RingCentral's error body: the code by status (or the situation's own), parameterName in the error and at the top", () => {
    expect(rcErrorBody(404, RC_MESSAGES.notFound('extensionId'), parameter('extensionId'))).toEqual({
      errorCode: 'CMN-102',
      message: 'Resource for parameter [extensionId] is not found',
      errors: [{ errorCode: 'CMN-102', message: 'Resource for parameter [extensionId] is not found', parameterName: 'extensionId' }],
      parameterName: 'extensionId',
    });
    expect(rcErrorBody(400, RC_MESSAGES.badJson, { code: 'CMN-103' })).toEqual({
      errorCode: 'CMN-103',
      message: "JSON can't be parsed.",
      errors: [{ errorCode: 'CMN-103', message: "JSON can't be parsed." }],
    });
    const codeOf = (status: number) => rcErrorBody(status, 'x').errorCode;
    expect([400, 401, 403, 404, 413, 429, 500, 503, 418, 502].map(codeOf)).toEqual([
      'CMN-101',
      'OAU-134',
      'CMN-401',
      'CMN-102',
      'CMN-101',
      'CMN-301',
      'CMN-203',
      'CMN-201',
      'CMN-101',
      'CMN-203',
    ]);
    for (const s of [400, 401, 403, 404, 413, 429, 500, 503, 418]) expect(problemWith(rcError, rcErrorBody(s, 'x'))).toBeNull();
    expect(problemWith(rcError, rcErrorBody(400, RC_MESSAGES.invalid('page'), parameter('page')))).toBeNull();
  });

  it("401: the error guide's code and message for each reason a token is refused", () => {
    expect(rcTokenRefusal('missing')).toEqual({ code: 'OAU-134', message: 'Invalid Authorization header.' });
    expect(rcTokenRefusal('malformed')).toEqual({ code: 'OAU-149', message: 'Unparsable access token' });
    expect(rcTokenRefusal('expired')).toEqual({ code: 'OAU-128', message: 'Access token expired.' });
    expect(rcTokenRefusal('refused')).toEqual({ code: 'OAU-129', message: 'Access token corrupted.' });
  });

  it('the parameter a failed validation is about: the first field of its JSON pointer', () => {
    expect(parameterOf([{ instancePath: '/userStatus' }])).toBe('userStatus');
    expect(parameterOf([{ instancePath: '/a~1b/0' }])).toBe('a/b');
    expect(parameterOf([{ instancePath: '' }])).toBeUndefined();
    expect(parameterOf([])).toBeUndefined();
    expect(parameterOf(null)).toBeUndefined();
  });
});

describe('the account-wide list: pages over our cursors', () => {
  it('page and perPage: defaults 1 and 100, perPage at most 1000, page × perPage at most 5000', () => {
    expect(parsePaging({})).toEqual({ page: 1, perPage: 100 });
    expect(parsePaging({ page: '3', perPage: '20' })).toEqual({ page: 3, perPage: 20 });
    expect(parsePaging({ perPage: '1001' })).toEqual({ error: 'Parameter [perPage] value is invalid.', parameter: 'perPage' });
    expect(parsePaging({ page: '51', perPage: '100' })).toEqual({ error: 'Parameter [page] value is invalid.', parameter: 'page' });
    expect(parsePaging({ page: '50', perPage: '100' })).toEqual({ page: 50, perPage: 100 });
  });

  /** our list: `ids` in pages of at most `size`, some users dropped (gone offline since the index was read) */
  const reader = (ids: string[], size: number, dropped = new Set<string>()) => {
    const calls: [number, number | null][] = [];
    const read: PageReader<number> = async (limit, cursor) => {
      calls.push([limit, cursor]);
      const from = cursor ?? 0;
      const to = Math.min(from + Math.min(limit, size), ids.length);
      const slice = ids.slice(from, to).filter((u) => !dropped.has(u));
      return { presence: slice.map((userId) => presence({ userId })), nextCursor: to < ids.length ? to : null };
    };
    return { read, calls };
  };
  const ids = Array.from({ length: 12 }, (_, i) => `u${i}`);
  const names = (out: { records: Presence[] }) => out.records.map((p) => p.userId);

  it('page n holds records (n-1)·perPage … n·perPage-1, walking our cursors; more while a cursor is left', async () => {
    expect(names(await readPage(reader(ids, 500).read, 1, 5))).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
    expect(await readPage(reader(ids, 500).read, 2, 5)).toMatchObject({ more: true });
    expect(names(await readPage(reader(ids, 500).read, 3, 5))).toEqual(['u10', 'u11']);
    expect((await readPage(reader(ids, 500).read, 3, 5)).more).toBe(false);
    expect(names(await readPage(reader(ids, 500).read, 4, 5))).toEqual([]);
  });

  it('short pages of ours (users dropped, small pages) are walked past: every record once over all pages', async () => {
    const dropped = new Set(['u1', 'u4', 'u5']);
    const { read, calls } = reader(ids, 3, dropped);
    const all: string[] = [];
    for (let page = 1; page <= 5; page++) all.push(...names(await readPage(read, page, 2)));
    expect(all).toEqual(ids.filter((u) => !dropped.has(u)));
    expect(calls.every(([limit]) => limit >= 1 && limit <= 500)).toBe(true);
  });

  it('AccountPresenceInfo: records, paging with pageStart/pageEnd, navigation first/next/previous', () => {
    const out = toAccountPresence(ORIGIN, 2, 2, [presence({ userId: '7' }), presence({ userId: '8' })], true);
    expect(out.paging).toEqual({ page: 2, perPage: 2, pageStart: 2, pageEnd: 3 });
    expect(out.navigation).toEqual({
      firstPage: { uri: `${ORIGIN}/restapi/v1.0/account/~/presence?page=1&perPage=2` },
      nextPage: { uri: `${ORIGIN}/restapi/v1.0/account/~/presence?page=3&perPage=2` },
      previousPage: { uri: `${ORIGIN}/restapi/v1.0/account/~/presence?page=1&perPage=2` },
    });
    expect(problemWith(rcAccountPresence, out)).toBeNull();
    const empty = toAccountPresence(ORIGIN, 1, 100, [], false);
    expect(empty.paging).toEqual({ page: 1, perPage: 100 });
    expect(Object.keys(empty.navigation)).toEqual(['firstPage']);
  });
});

describe('the facade table entry', () => {
  const rc = facades.find((f) => f.name === 'ringcentral') as (typeof facades)[number];

  it('serves the three operations of the reference under /restapi/v1.0; the list is throttled as an app route', () => {
    expect(rc.id).toBe('CompatRingCentral');
    expect(rc.routes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      [
        'GET /restapi/v1.0/account/{accountId}/extension/{extensionId}/presence',
        'PUT /restapi/v1.0/account/{accountId}/extension/{extensionId}/presence',
        'GET /restapi/v1.0/account/{accountId}/presence',
      ].sort(),
    );
    expect(throttleFor(facadeRoutes([rc]).find((r) => r.name === 'GetUsersPresenceStatuses') as never)).toEqual({ rateLimit: 50, burstLimit: 100 });
  });

  it('access: exactly what ownPresence, presenceFor, updateStatus and onlinePresence touch', () => {
    expect(facadeAccess(rc)).toEqual({ presence: ['GetItem', 'BatchGetItem', 'PutItem', 'QueryIndex'], graph: ['Query'] });
  });
});
