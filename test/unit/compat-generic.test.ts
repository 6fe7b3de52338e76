/**
 * The generic REST presence API facade's translations (functions/compat/generic-model.ts),
 * the facade table (lib/routes.ts: one function per facade, its switch, its access) and the
 * local gateway's route precedence (local/gateway.ts selectRoute), as pure functions.
 */
import { describe, expect, it } from 'vitest';
import type { OwnRecord } from '../../functions/commons/operations.ts';
import {
  cleanupSummary,
  compatUserId,
  GENERIC_MESSAGES,
  hasRecord,
  parseBusyUntil,
  parseUserIds,
  planStatusUpdate,
  toPresenceUpdate,
  toUserPresence,
  toUserStatus,
  usernameOf,
} from '../../functions/compat/generic-model.ts';
import { encodePush, isPushFormat } from '../../functions/compat/push-formats.ts';
import type { Availability, OwnPresence, Presence } from '../../functions/core/presence.ts';
import { COMPAT_NONE, compatSetting, facadeAccess, facadeRoutes, facades, httpRoutes, mergeAccess, parseCompat, throttleFor } from '../../lib/routes.ts';
import { moreSpecific, selectRoute } from '../../local/gateway.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

const presence = (over: Partial<Presence> = {}): Presence => ({
  userId: '456',
  status: 'online',
  customStatus: null,
  activity: null,
  availabilityUntil: null,
  call: 'NoCall',
  profile: null,
  devices: [],
  lastSeen: iso(T0),
  version: 3,
  ...over,
});
const own = (over: Partial<OwnPresence> = {}): OwnPresence => ({ ...presence(), visibility: 'everyone', availability: 'auto', ...over });
const record = (p: Partial<OwnPresence> = {}, times: Partial<Omit<OwnRecord, 'presence'>> = {}): OwnRecord => ({
  presence: own(p),
  createdAt: T0 - 60_000,
  writtenAt: T0 - 1000,
  ...times,
});

describe('user ids', () => {
  it.each([
    ['123', 123],
    ['0', 0],
    ['9007199254740991', 9007199254740991],
    ['9007199254740992', '9007199254740992'],
    ['0123', '0123'],
    ['-1', '-1'],
    ['1e3', '1e3'],
    ['alice', 'alice'],
    ['12a', '12a'],
  ])('%s is %j in the JSON', (id, expected) => {
    expect(compatUserId(id)).toBe(expected);
  });

  it('usernameOf is the profile name, else the user id', () => {
    expect(usernameOf({ userId: '456', profile: { name: 'jane_smith', pic: null } })).toBe('jane_smith');
    expect(usernameOf({ userId: 'jane_smith', profile: null })).toBe('jane_smith');
  });
});

describe('UserStatus (own record)', () => {
  it('maps the documented fields with their JSON types', () => {
    const out = toUserStatus('123', record({ userId: '123', availability: 'busy', status: 'busy', availabilityUntil: iso(T0 + 3600_000) }));
    expect(out).toEqual({
      user_id: 123,
      is_online: true,
      is_busy: true,
      busy_until: iso(T0 + 3600_000),
      last_seen: iso(T0),
      created_at: iso(T0 - 60_000),
      updated_at: iso(T0),
    });
  });

  it('an offline user keeps the busy availability they set (is_busy true, is_online false)', () => {
    const out = toUserStatus('u', record({ status: 'offline', availability: 'dnd' }));
    expect(out).toMatchObject({ is_online: false, is_busy: true, busy_until: null });
  });

  it('a busy device status is busy too; away is not', () => {
    expect(toUserStatus('u', record({ status: 'busy' })).is_busy).toBe(true);
    expect(toUserStatus('u', record({ status: 'away', availability: 'away', availabilityUntil: iso(T0 + 1) })).is_busy).toBe(false);
    expect(toUserStatus('u', record({ status: 'away', availability: 'away', availabilityUntil: iso(T0 + 1) })).busy_until).toBeNull();
  });

  it('updated_at is the later of the last write and the last sign of life', () => {
    expect(toUserStatus('u', record({ lastSeen: iso(T0) }, { writtenAt: T0 + 5 })).updated_at).toBe(iso(T0 + 5));
    expect(toUserStatus('u', record({ lastSeen: iso(T0 + 9) }, { writtenAt: T0 })).updated_at).toBe(iso(T0 + 9));
  });

  it('a record older than created_at shows the earliest time it knows; a user never live shows last_seen = created_at', () => {
    expect(toUserStatus('u', record({ lastSeen: iso(T0) }, { createdAt: null, writtenAt: T0 + 5 })).created_at).toBe(iso(T0));
    const never = toUserStatus('u', record({ lastSeen: null, status: 'offline' }, { createdAt: T0, writtenAt: T0 + 5 }));
    expect(never).toMatchObject({ last_seen: iso(T0), created_at: iso(T0), updated_at: iso(T0 + 5) });
  });
});

describe('UserPresence (another user, as the caller may see them)', () => {
  it('maps the documented fields', () => {
    expect(toUserPresence(presence({ status: 'dnd', availabilityUntil: iso(T0 + 1) }))).toEqual({
      user_id: 456,
      username: '456',
      is_online: true,
      is_busy: true,
      busy_until: iso(T0 + 1),
      last_seen: iso(T0),
    });
  });

  it('an offline (or hidden) user is offline and not busy', () => {
    expect(toUserPresence(presence({ userId: 'bob', status: 'offline', lastSeen: null }))).toEqual({
      user_id: 'bob',
      username: 'bob',
      is_online: false,
      is_busy: false,
      busy_until: null,
      last_seen: null,
    });
  });

  it('a presence never live and never changed has no status record', () => {
    expect(hasRecord(presence({ version: 0, lastSeen: null, status: 'offline' }))).toBe(false);
    expect(hasRecord(presence({ version: 0, lastSeen: iso(T0), status: 'offline' }))).toBe(true);
    expect(hasRecord(presence({ version: 2, lastSeen: null, status: 'offline' }))).toBe(true);
  });
});

describe('the WebSocket presence_update', () => {
  it('carries user_id, is_online, is_busy, last_seen of the presence the recipient may see, and the fan-out time', () => {
    expect(toPresenceUpdate(presence({ userId: '123', status: 'busy' }), iso(T0 + 5))).toEqual({
      type: 'presence_update',
      data: { user_id: 123, is_online: true, is_busy: true, last_seen: iso(T0) },
      timestamp: iso(T0 + 5),
    });
    expect(JSON.parse(encodePush('generic', presence({ status: 'offline' }), iso(T0)))).toMatchObject({ data: { is_online: false, is_busy: false } });
  });

  it('every facade WebSocket names a push format; unknown names are none', () => {
    for (const f of facades) if (f.ws) expect(isPushFormat(f.ws.format), f.name).toBe(true);
    for (const v of ['nope', '', 'toString', '__proto__', undefined, 1]) expect(isPushFormat(v)).toBe(false);
  });
});

describe('GET /users/presence?user_ids=', () => {
  const valid = (id: string) => /^[A-Za-z0-9_.@:-]{1,64}$/.test(id);

  it('reads a comma list in order, repeats once', () => {
    expect(parseUserIds('123,456,789', valid)).toEqual(['123', '456', '789']);
    expect(parseUserIds(' 1 , 2,1', valid)).toEqual(['1', '2']);
  });

  it('refuses more than 50 ids with the documented message, whatever they are', () => {
    const ids = Array.from({ length: 51 }, (_, i) => String(i));
    expect(parseUserIds(ids.slice(0, 50).join(','), valid)).toHaveLength(50);
    expect(parseUserIds(ids.join(','), valid)).toEqual({ error: GENERIC_MESSAGES.tooManyUserIds });
  });

  it('refuses a missing list, an empty entry and an id outside the pattern', () => {
    expect(parseUserIds(undefined, valid)).toEqual({ error: GENERIC_MESSAGES.noUserIds });
    expect(parseUserIds('', valid)).toEqual({ error: GENERIC_MESSAGES.noUserIds });
    expect(parseUserIds('1,,2', valid)).toEqual({ error: 'Invalid user ID: ""' });
    expect(parseUserIds('a#b', valid)).toEqual({ error: 'Invalid user ID: "a#b"' });
  });
});

describe('busy_until', () => {
  it.each([
    ['2024-01-15T11:00:00Z', Date.parse('2024-01-15T11:00:00Z')],
    ['2024-01-15T11:00:00.5Z', Date.parse('2024-01-15T11:00:00.500Z')],
    ['2024-01-15T11:00:00.123456+00:00', Date.parse('2024-01-15T11:00:00.123Z')],
    ['2024-01-15T12:00:00+01:00', Date.parse('2024-01-15T11:00:00Z')],
    ['2024-01-15T06:00:00-0500', Date.parse('2024-01-15T11:00:00Z')],
    ['2024-01-15T11:00:00', Date.parse('2024-01-15T11:00:00Z')],
    ['2024-01-15 11:00', Date.parse('2024-01-15T11:00:00Z')],
  ])('reads %s', (text, ms) => {
    expect(parseBusyUntil(text)).toBe(ms);
  });

  it.each(['tomorrow', '2024-02-31T10:00:00Z', '2024-13-01T00:00:00Z', '2024-01-15T25:00:00Z', '2024-01-15', '', '1705316400'])('refuses %j', (text) => {
    expect(parseBusyUntil(text)).toBeUndefined();
  });
});

describe('PUT /users/me/status', () => {
  const plan = (body: Record<string, unknown>) => planStatusUpdate(body, T0);
  const patchFor = (body: Record<string, unknown>, current: Availability) => {
    const p = plan(body);
    if ('error' in p) throw new Error(p.error);
    return p.patch(current);
  };

  it('needs a status field: empty, unknown-only and null-only bodies are the documented 400', () => {
    for (const body of [{}, { user_id: 1, last_seen: 'x' }, { is_online: null, is_busy: null }])
      expect(plan(body)).toEqual({ error: GENERIC_MESSAGES.noStatusFields });
  });

  it('is_online maps to online / offline', () => {
    expect(plan({ is_online: true })).toMatchObject({ online: true });
    expect(plan({ is_online: false })).toMatchObject({ online: false });
    expect(patchFor({ is_online: false }, 'busy')).toEqual({});
  });

  it('is_busy true: busy without expiry unless busy_until; a dnd or busy user keeps their availability', () => {
    expect(patchFor({ is_busy: true }, 'auto')).toEqual({ availability: 'busy', availabilityUntil: null });
    expect(patchFor({ is_busy: true }, 'away')).toEqual({ availability: 'busy', availabilityUntil: null });
    expect(patchFor({ is_busy: true, busy_until: iso(T0 + 60_000) }, 'auto')).toEqual({ availability: 'busy', availabilityUntil: iso(T0 + 60_000) });
    expect(patchFor({ is_busy: true }, 'dnd')).toEqual({});
    expect(patchFor({ is_busy: true, busy_until: null }, 'busy')).toEqual({ availabilityUntil: null });
  });

  it('is_busy false ends a busy or dnd availability only; busy_until then is ignored (the documented example sends a past one)', () => {
    expect(patchFor({ is_busy: false }, 'busy')).toEqual({ availability: 'auto' });
    expect(patchFor({ is_busy: false }, 'dnd')).toEqual({ availability: 'auto' });
    expect(patchFor({ is_busy: false }, 'away')).toEqual({});
    expect(patchFor({ is_online: true, is_busy: false, busy_until: '2024-01-15T11:00:00Z' }, 'auto')).toEqual({});
  });

  it('busy_until alone moves the expiry of a busy user and sets nothing on one who is not busy', () => {
    expect(patchFor({ busy_until: iso(T0 + 1000) }, 'busy')).toEqual({ availabilityUntil: iso(T0 + 1000) });
    expect(patchFor({ busy_until: iso(T0 + 1000) }, 'auto')).toEqual({});
  });

  it('refuses a busy_until in the past or not a date-time (unless is_busy is false)', () => {
    expect(plan({ is_busy: true, busy_until: iso(T0) })).toEqual({ error: GENERIC_MESSAGES.busyUntilPast });
    expect(plan({ busy_until: 'soon' })).toEqual({ error: GENERIC_MESSAGES.busyUntilFormat });
    expect(plan({ is_busy: false, busy_until: 'soon' })).not.toHaveProperty('error');
  });
});

describe('admin cleanup', () => {
  it("answers with the sweep's counts under the documented names", () => {
    expect(cleanupSummary({ usersMarkedOffline: 15, availabilityCleared: 3, devicesExpired: 20, subscriptionsExpired: 1 })).toEqual({
      message: 'Presence cleanup completed',
      users_marked_offline: 15,
      busy_status_cleared: 3,
    });
  });
});

describe('the facade table', () => {
  it('each facade is one function id, one module under functions/compat/, routes unique by method and path', () => {
    const ids = facades.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const f of facades) {
      expect(f.entry).toMatch(/^functions\/compat\/[a-z-]+\.ts$/);
      expect(new Set(f.routes.map((r) => r.name)).size).toBe(f.routes.length);
    }
    const keys = [...httpRoutes.map((r) => `${r.method} ${r.path}`), ...facadeRoutes().map((r) => r.routeKey)];
    expect(new Set(keys).size).toBe(keys.length);
    expect(facadeRoutes().every((r) => ids.includes(r.facade.id) && r.id === `${r.facade.id}.${r.name}`)).toBe(true);
  });

  it('the generic facade serves the six documented operations', () => {
    const generic = facades.find((f) => f.name === 'generic');
    expect(generic?.routes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      [
        'GET /users/me/status',
        'PUT /users/me/status',
        'POST /users/me/heartbeat',
        'GET /users/{user_id}/presence',
        'GET /users/presence',
        'POST /admin/cleanup-presence',
      ].sort(),
    );
    expect(throttleFor(facadeRoutes().find((r) => r.name === 'CleanupPresence') as never)).toEqual({ rateLimit: 1, burstLimit: 5 });
  });

  it('the switch: unset, empty and all turn every facade on, none none, names exactly those; unknown names fail', () => {
    expect(parseCompat(undefined)).toEqual(facades);
    expect(parseCompat('')).toEqual(facades);
    expect(parseCompat('all')).toEqual(facades);
    expect(parseCompat(COMPAT_NONE)).toEqual([]);
    expect(parseCompat('generic').map((f) => f.name)).toEqual(['generic']);
    expect(() => parseCompat('generic,nope')).toThrow(/nope|expected/);
    expect(() => parseCompat('generic,')).toThrow();
    expect(compatSetting([])).toBe('none');
    expect(parseCompat(compatSetting(facades))).toEqual(facades);
  });

  it("access merges the operations' actions once each; a sweep takes the sweeper's access of the heartbeat mode", () => {
    expect(mergeAccess([{ presence: ['GetItem'] }, { presence: ['GetItem', 'PutItem'], graph: ['Query'] }, {}])).toEqual({
      presence: ['GetItem', 'PutItem'],
      graph: ['Query'],
    });
    const generic = facades.find((f) => f.name === 'generic') as (typeof facades)[number];
    expect(facadeAccess(generic, 'lambda')).toEqual({
      presence: ['GetItem', 'PutItem', 'UpdateItem', 'BatchGetItem', 'QueryIndex'],
      graph: ['Query', 'QueryIndex', 'DeleteItem'],
    });
    expect(facadeAccess(generic, 'gateway').connections).toEqual(['GET']);
  });
});

describe("the local gateway's route precedence (API Gateway: the most specific match)", () => {
  const compile = (method: string, path: string) => ({ method, path, regex: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`) });
  const routes = [
    compile('GET', '/{org}/{app}/users/{uid}/presence'),
    compile('PUT', '/{org}/{app}/users/{uid}/presence'),
    compile('PUT', '/v1/sys/users/{userId}/presence'),
    compile('GET', '/users/{user_id}/presence'),
    compile('GET', '/users/me/presence'),
    compile('GET', '/pets/{id}/x'),
    compile('GET', '/{kind}/dog/x'),
  ];

  it('a literal segment beats a path variable, whatever the order of the table', () => {
    for (const table of [routes, [...routes].reverse()]) {
      expect(selectRoute(table, 'PUT', '/v1/sys/users/alice/presence')?.path).toBe('/v1/sys/users/{userId}/presence');
      expect(selectRoute(table, 'PUT', '/acme/chat/users/alice/presence')?.path).toBe('/{org}/{app}/users/{uid}/presence');
      expect(selectRoute(table, 'GET', '/users/me/presence')?.path).toBe('/users/me/presence');
      expect(selectRoute(table, 'GET', '/users/bob/presence')?.path).toBe('/users/{user_id}/presence');
      // as many literals: the first differing segment decides
      expect(selectRoute(table, 'GET', '/pets/dog/x')?.path).toBe('/pets/{id}/x');
    }
  });

  it('the method must match: another method of a matching path is no route (404)', () => {
    expect(selectRoute(routes, 'DELETE', '/users/me/presence')).toBeNull();
    expect(selectRoute(routes, 'GET', '/v1/sys/users/alice/presence')?.path).toBe('/{org}/{app}/users/{uid}/presence');
  });

  it('moreSpecific is a strict order', () => {
    const a = { method: 'GET', path: '/a/{b}' };
    expect(moreSpecific(a, a)).toBe(false);
    expect(moreSpecific({ method: 'GET', path: '/a/b' }, a)).toBe(true);
    expect(moreSpecific(a, { method: 'GET', path: '/a/b' })).toBe(false);
  });
});
