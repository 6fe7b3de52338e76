/**
 * The Agora Chat presence REST facade's translations (functions/compat/agora-model.ts)
 * and its table entry (lib/routes.ts: the org/app segments fixed per deployment, its access).
 */
import { describe, expect, it } from 'vitest';
import {
  AGORA_LIMITS,
  agoraError,
  agoraTokenRefusal,
  deviceOfResource,
  deviceStatusString,
  parseExpiry,
  parseExt,
  parsePage,
  parseUsernames,
  planStatus,
  toAgoraPresence,
  toSubList,
  toSubscribed,
  unixSeconds,
} from '../../functions/compat/agora-model.ts';
import type { Presence } from '../../functions/core/presence.ts';
import { facadeAccess, facadeRoutes, facades, httpRoutes, segmentEnv } from '../../lib/routes.ts';
import { selectRoute } from '../../local/gateway.ts';

const isUserId = (id: string) => /^[A-Za-z0-9_.@:-]{1,64}$/.test(id);
const presence = (over: Partial<Presence> = {}): Presence => ({
  userId: 'c2',
  status: 'online',
  customStatus: null,
  activity: null,
  profile: null,
  availabilityUntil: null,
  call: 'NoCall',
  devices: [],
  lastSeen: '2022-02-10T04:07:43.000Z',
  version: 3,
  ...over,
});
const device = (name: string, status: 'online' | 'away' | 'busy' | 'dnd', ext: string | null = null) => ({
  device: name,
  status,
  ext,
  call: 'NoCall' as const,
  lastSeen: '2022-02-10T04:07:43.000Z',
});

describe('requests', () => {
  it("usernames: 1-100 user ids, duplicates once; unsubscribe also takes users and a bare array; more than 100 is each call's message on Agora's page", () => {
    expect(parseUsernames({ usernames: ['c2', 'c3', 'c2'] }, isUserId)).toEqual(['c2', 'c3']);
    expect(parseUsernames(['c1'], isUserId)).toHaveProperty('error');
    expect(parseUsernames(['c1'], isUserId, 'subscribe')).toHaveProperty('error');
    expect(parseUsernames(['c1'], isUserId, 'unsubscribe')).toEqual(['c1']);
    expect(parseUsernames({ users: ['c1'] }, isUserId, 'unsubscribe')).toEqual(['c1']);
    expect(parseUsernames({ users: ['c1'] }, isUserId)).toHaveProperty('error');
    expect(parseUsernames({ usernames: [] }, isUserId)).toHaveProperty('error');
    expect(parseUsernames({ usernames: ['a b'] }, isUserId)).toHaveProperty('error');
    expect(parseUsernames({ usernames: [1] }, isUserId)).toHaveProperty('error');
    expect(parseUsernames(undefined, isUserId)).toHaveProperty('error');
    const many = Array.from({ length: 101 }, (_, i) => `u${i}`);
    expect(parseUsernames({ usernames: many }, isUserId)).toEqual({ error: 'too many get presences' });
    expect(parseUsernames({ usernames: many }, isUserId, 'subscribe')).toEqual({ error: 'too many sub presence' });
    expect(parseUsernames({ usernames: many }, isUserId, 'unsubscribe')).toEqual({ error: 'too many unsub presences' });
    expect(parseUsernames(many, isUserId, 'unsubscribe')).toEqual({ error: 'too many unsub presences' });
    expect(parseUsernames({ usernames: many.slice(0, 100) }, isUserId)).toHaveLength(100);
  });

  it('expiry: whole seconds 1 to 30 days', () => {
    expect(parseExpiry('1000')).toBe(1000);
    expect(parseExpiry('2592000')).toBe(AGORA_LIMITS.expiryMaxSeconds);
    for (const bad of ['0', '2592001', '-1', '1.5', 'abc', '', '999999999']) expect(parseExpiry(bad), bad).toHaveProperty('error');
  });

  it('resource: a device name within our pattern', () => {
    expect(deviceOfResource('android_123423453246')).toBe('android_123423453246');
    expect(deviceOfResource('android_6b5610ac-4e11-4661-82b3-dee17bc7b2cc')).toBe('android_6b5610ac-4e11-4661-82b3-dee17bc7b2cc');
    for (const bad of ['', 'a b', 'x'.repeat(65), '__proto__', 'a/b']) expect(deviceOfResource(bad), bad).toHaveProperty('error');
  });

  it('status: 0 offline, 1 online, away/busy/dnd that status, another string a custom status (the device ext)', () => {
    expect(planStatus('0')).toEqual({ offline: true });
    expect(planStatus('1')).toEqual({ offline: false, status: 'online', ext: null });
    expect(planStatus('busy')).toEqual({ offline: false, status: 'busy', ext: null });
    expect(planStatus('in a meeting')).toEqual({ offline: false, status: 'online', ext: 'in a meeting' });
    expect(planStatus('x'.repeat(65))).toHaveProperty('error');
    expect(planStatus('')).toHaveProperty('error');
  });

  it('ext: required, at most 64 bytes, the customStatus ("" clears it)', () => {
    expect(parseExt({ ext: '123' })).toEqual({ customStatus: '123' });
    expect(parseExt({ ext: '' })).toEqual({ customStatus: null });
    expect(parseExt({ ext: 'é'.repeat(32) })).toEqual({ customStatus: 'é'.repeat(32) });
    // past 64 bytes, or past 256 bytes as JSON: Agora's "ext is too big"
    expect(parseExt({ ext: 'é'.repeat(33) })).toEqual({ error: 'ext is too big' });
    expect(parseExt({ ext: '\u0001'.repeat(60) })).toEqual({ error: 'ext is too big' });
    for (const bad of [undefined, {}, { ext: 1 }, ['x'], 'x']) expect(parseExt(bad)).toHaveProperty('error');
  });

  it('page: pageNum (0 or 1 first) and pageSize 1-500, both required', () => {
    expect(parsePage({ pageNum: '1', pageSize: '100' })).toEqual({ offset: 0, size: 100 });
    expect(parsePage({ pageNum: '0', pageSize: '100' })).toEqual({ offset: 0, size: 100 });
    expect(parsePage({ pageNum: '3', pageSize: '2' })).toEqual({ offset: 4, size: 2 });
    for (const bad of [
      {},
      { pageNum: '1' },
      { pageSize: '1' },
      { pageNum: '1', pageSize: '0' },
      { pageNum: '1', pageSize: '501' },
      { pageNum: 'x', pageSize: '1' },
    ])
      expect(parsePage(bad), JSON.stringify(bad)).toHaveProperty('error');
  });
});

describe('responses', () => {
  it('numbers are strings of unix seconds; never seen is "0"', () => {
    expect(unixSeconds('2022-02-10T04:07:43.999Z')).toBe('1644466063');
    expect(unixSeconds(null)).toBe('0');
  });

  it('a presence: uid, last_time, ext (customStatus), status per live device', () => {
    const p = presence({
      customStatus: '123',
      devices: [device('android', 'online'), device('ios_1', 'busy'), device('web_1', 'online', 'in a meeting')],
    });
    expect(toAgoraPresence(p)).toEqual({
      uid: 'c2',
      last_time: '1644466063',
      ext: '123',
      status: { android: '1', ios_1: 'busy', web_1: 'in a meeting' },
    });
    expect(Object.keys(toAgoraPresence(p, '2022-02-22T03:26:11.000Z'))).toEqual(['uid', 'last_time', 'expiry', 'ext', 'status']);
    expect(toAgoraPresence(presence({ status: 'offline', lastSeen: null }))).toEqual({ uid: 'c2', last_time: '0', ext: '', status: {} });
    expect(deviceStatusString(device('d', 'dnd'))).toBe('dnd');
  });

  it('devices that went offline lately read "0", after the live ones (as the page\'s subscribe example lists them)', () => {
    const p = presence({ devices: [device('android', 'online')] });
    const out = toAgoraPresence(p, undefined, ['android_6b5610ac-4e11-4661-82b3-dee17bc7b2cc']);
    expect(out.status).toEqual({ android: '1', 'android_6b5610ac-4e11-4661-82b3-dee17bc7b2cc': '0' });
    expect(Object.keys(out.status)).toEqual(['android', 'android_6b5610ac-4e11-4661-82b3-dee17bc7b2cc']);
    expect(toAgoraPresence(presence({ status: 'offline' }), undefined, ['android']).status).toEqual({ android: '0' });
  });

  it('subscribe: subscribed users in order with their expiry; sublist: totalnum and the page as strings', () => {
    const out = toSubscribed(
      [
        { userId: 'c3', expiresAt: '2022-02-22T03:26:11.000Z' },
        { userId: 'c2', expiresAt: '2022-02-22T03:26:11.000Z' },
      ],
      [
        { presence: presence(), offlineDevices: [] },
        { presence: presence({ userId: 'c3', status: 'offline' }), offlineDevices: ['android'] },
      ],
    );
    expect(out.result.map((r) => [r.uid, r.expiry, r.status])).toEqual([
      ['c3', '1645500371', { android: '0' }],
      ['c2', '1645500371', {}],
    ]);
    expect(toSubList(2, [{ userId: 'lxml2', expiresAt: '2022-02-25T20:52:02.000Z' }])).toEqual({
      result: { totalnum: '2', sublist: [{ uid: 'lxml2', expiry: '1645822322' }] },
    });
  });

  it("errors: Agora's REST error body, the error code by status (or the situation's own), its exception", () => {
    expect(agoraError(401, 'Unable to authenticate due to expired access token.', 5)).toEqual({
      error: 'unauthorized',
      exception: 'EasemobSecurityException',
      timestamp: 5,
      duration: 0,
      error_description: 'Unable to authenticate due to expired access token.',
    });
    const codes = (status: number, code?: string) => {
      const { error, exception } = agoraError(status, 'x', 5, code);
      return [error, exception];
    };
    expect(codes(400)).toEqual(['illegal_argument', 'java.lang.IllegalArgumentException']);
    expect(codes(400, 'json_parse')).toEqual(['json_parse', 'org.codehaus.jackson.JsonParseException']);
    expect(codes(401, 'auth_bad_access_token')).toEqual(['auth_bad_access_token', 'org.apache.usergrid.rest.exceptions.SecurityException']);
    expect(codes(403)).toEqual(['forbidden_op', 'EasemobForbiddenOpException']);
    expect(codes(404)).toEqual(['service_resource_not_found', 'EasemobResourceNotFoundException']);
    expect(codes(413)).toEqual(['Request Entity Too Large', 'EasemobRequestEntityTooLargeException']);
    expect(codes(429)).toEqual(['reach_limit', 'EasemobRateLimitException']);
    expect(codes(500)).toEqual(['internal_server_error', 'EasemobServerException']);
    expect(codes(503)).toEqual(['service_unavailable', 'EasemobServiceUnavailableException']);
    expect(codes(418)).toEqual(['illegal_argument', 'java.lang.IllegalArgumentException']);
  });

  it("401: Agora's code and message for each reason a token is refused", () => {
    const expired = { code: 'unauthorized', message: 'Unable to authenticate due to expired access token.' };
    expect(agoraTokenRefusal('missing')).toEqual(expired);
    expect(agoraTokenRefusal('expired')).toEqual(expired);
    expect(agoraTokenRefusal('malformed')).toEqual({ code: 'auth_bad_access_token', message: 'Unable to authenticate due to corrupt access token.' });
    expect(agoraTokenRefusal('refused')).toEqual({ code: 'auth_bad_access_token', message: 'Unable to authenticate.' });
  });
});

describe('the table entry', () => {
  const agora = facades.find((f) => f.name === 'agora');
  if (!agora) throw new Error('no agora facade');

  it('org and app are literal segments, from the deployment (fallback local/presence); a bad value is refused', () => {
    expect(facadeRoutes([agora], {}).map((r) => r.routeKey)).toEqual([
      'POST /local/presence/users/{uid}/presence/{resource}/{status}',
      'POST /local/presence/users/{uid}/presence/{expiry}',
      'POST /local/presence/users/{uid}/presence',
      'DELETE /local/presence/users/{uid}/presence',
      'GET /local/presence/users/{uid}/presence/sublist',
    ]);
    const values = { AGORA_ORG: '5101220107132865', AGORA_APP: 'test' };
    expect(facadeRoutes([agora], values)[0]?.path).toBe('/5101220107132865/test/users/{uid}/presence/{resource}/{status}');
    expect(segmentEnv(agora, values)).toEqual(values);
    expect(segmentEnv(agora, {})).toEqual({ AGORA_ORG: 'local', AGORA_APP: 'presence' });
    expect(() => facadeRoutes([agora], { AGORA_ORG: 'a/b' })).toThrow(/AGORA_ORG/);
    expect(() => facadeRoutes([agora], { AGORA_APP: '{x}' })).toThrow(/AGORA_APP/);
  });

  it('sublist is more specific than {expiry}; another org/app pair matches no route', () => {
    const routes = [...facadeRoutes([agora], {}), ...httpRoutes].map((r) => ({
      method: r.method,
      path: r.path,
      regex: new RegExp(`^${r.path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    }));
    for (const table of [routes, [...routes].reverse()]) {
      expect(selectRoute(table, 'GET', '/local/presence/users/c1/presence/sublist')?.path).toBe('/local/presence/users/{uid}/presence/sublist');
      expect(selectRoute(table, 'POST', '/local/presence/users/c1/presence/1000')?.path).toBe('/local/presence/users/{uid}/presence/{expiry}');
      expect(selectRoute(table, 'POST', '/local/presence/users/c1/presence/android_1/0')?.path).toBe(
        '/local/presence/users/{uid}/presence/{resource}/{status}',
      );
      expect(selectRoute(table, 'DELETE', '/v1/sys/users/c1/presence')?.path).toBe('/v1/sys/users/{userId}/presence');
      expect(selectRoute(table, 'POST', '/other/presence/users/c1/presence/1000')).toBeNull();
    }
  });

  it('access: exactly what its operations touch', () => {
    expect(facadeAccess(agora)).toEqual({
      presence: ['UpdateItem', 'GetItem', 'PutItem', 'BatchGetItem'],
      graph: ['Query', 'PutItem', 'DeleteItem', 'BatchWriteItem'],
    });
  });
});
