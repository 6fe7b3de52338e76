/**
 * The RingCentral presence facade (docs/compat.md, "RingCentral presence")
 * against the local stack: the seed document's sample response
 * (test/fixtures/ringcentral-presence.json, copied from "Detecting User
 * Presence") checked field by field against a real GET, PUT round trips, `~`,
 * the account-wide list's paging, call state and dnd mapping, privacy, errors
 * in RingCentral's shape, and that a PUT through the facade is the contract's
 * change: read by our API and pushed to our WebSocket subscribers.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RC_MESSAGES } from '../../functions/compat/ringcentral-model.ts';
import { rcAccountPresence, rcError, rcPresence } from '../../functions/compat/ringcentral-schemas.ts';
import { signHs256 } from '../../functions/core/jwt.ts';
import { eventually, isPushOf, type RawReply, SECRET, sendRaw, token, useStack } from '../support/e2e.ts';
import { problemWith } from '../support/schema-check.ts';

const SAMPLE = JSON.parse(readFileSync(new URL('../fixtures/ringcentral-presence.json', import.meta.url), 'utf8')) as Record<string, unknown>;

const fx = useStack({ sweepIntervalSeconds: 3600 });

type Reply = RawReply;
const send = (method: string, path: string, opts: Parameters<typeof sendRaw>[3] = {}): Promise<Reply> => sendRaw(fx.stack.httpUrl, method, path, opts);

const P = (ext: string, account = '~') => `/restapi/v1.0/account/${account}/extension/${ext}/presence`;
const LIST = (q = '') => `/restapi/v1.0/account/~/presence${q}`;
const put = (user: string, body: unknown, ext = '~') => send('PUT', P(ext), { auth: token(user), body: JSON.stringify(body) });
const get = (viewer: string, ext = '~') => send('GET', P(ext), { auth: token(viewer) });
const APP = token('app-backend', 'presence:app');

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/**
 * RingCentral's error body, field by field: the status, `errorCode`, the
 * message (the error guide's for the code, where given), the one error of
 * `errors` and `parameterName` in it and at the top exactly when the error is
 * about a parameter.
 */
function expectRcError(r: Reply, status: number, errorCode: string, message?: string, parameterName?: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(problemWith(rcError, r.body)).toBeNull();
  expect(r.body.errorCode, JSON.stringify(r.body)).toBe(errorCode);
  if (message !== undefined) expect(r.body.message).toBe(message);
  const fields = parameterName === undefined ? {} : { parameterName };
  expect(r.body.errors).toEqual([{ errorCode, message: r.body.message, ...fields }]);
  expect(r.body.parameterName).toBe(parameterName);
}

describe("the seed document's sample response", () => {
  it('a real GET of an available user has every field of the sample, of the same JSON type, nested ones too, and the same values where they are determined', async () => {
    const user = '248111004';
    await fx.call('PUT', '/v1/me/devices/desk', token(user), { status: 'online' });
    const r = await get(user);
    expect(r.status).toBe(200);
    expect(problemWith(rcPresence, r.body)).toBeNull();
    expect(Object.keys(r.body).sort()).toEqual(Object.keys(SAMPLE).sort());
    for (const [k, v] of Object.entries(SAMPLE)) expect(typeOf(r.body[k]), k).toBe(typeOf(v));
    const ext = SAMPLE.extension as Record<string, unknown>;
    expect(Object.keys(r.body.extension).sort()).toEqual(Object.keys(ext).sort());
    for (const [k, v] of Object.entries(ext)) expect(typeOf(r.body.extension[k]), `extension.${k}`).toBe(typeOf(v));
    // the determined values: everything but the addresses and the extension's number
    for (const k of ['presenceStatus', 'telephonyStatus', 'userStatus', 'dndStatus', 'allowSeeMyPresence', 'ringOnMonitoredCall', 'pickUpCallsOnHold'])
      expect(r.body[k], k).toBe(SAMPLE[k]);
    expect(r.body.extension.id).toBe(248111004);
    // absolute URIs on the request's host
    const host = new URL(fx.stack.httpUrl).host;
    expect(r.body.uri).toBe(`https://${host}/restapi/v1.0/account/~/extension/${user}/presence`);
    expect(r.body.extension.uri).toBe(`https://${host}/restapi/v1.0/account/~/extension/${user}`);
    // `~` and the explicit id answer the same
    expect((await get(user, user)).body).toEqual(r.body);
  });
});

describe('PUT: round trips onto the contract', () => {
  it('userStatus Busy / Available, message, dndStatus: answered, read back by GET and by our own API', async () => {
    const user = 'rc-put';
    await fx.call('PUT', '/v1/me/devices/desk', token(user), { status: 'online' });
    const busy = await put(user, { userStatus: 'Busy', message: 'in a meeting' });
    expect(busy.status).toBe(200);
    expect(busy.body).toMatchObject({ userStatus: 'Busy', presenceStatus: 'Busy', dndStatus: 'TakeAllCalls', message: 'in a meeting' });
    expect((await get(user)).body).toEqual(busy.body);
    expect((await fx.call('GET', '/v1/me/presence', token(user))).body).toMatchObject({ availability: 'busy', customStatus: 'in a meeting' });

    const dnd = await put(user, { dndStatus: 'DoNotAcceptAnyCalls' });
    expect(dnd.body).toMatchObject({ dndStatus: 'DoNotAcceptAnyCalls', presenceStatus: 'Busy' });
    expect((await fx.call('GET', '/v1/me/presence', token(user))).body).toMatchObject({ availability: 'dnd' });
    // another user sees the dnd too
    expect((await get('rc-viewer', user)).body).toMatchObject({ dndStatus: 'DoNotAcceptAnyCalls', presenceStatus: 'Busy', userStatus: 'Busy' });

    const back = await put(user, { userStatus: 'Available', dndStatus: 'TakeAllCalls', message: '' });
    expect(back.body).toMatchObject({ userStatus: 'Available', dndStatus: 'TakeAllCalls', presenceStatus: 'Available' });
    expect(back.body.message).toBeUndefined();
    expect((await fx.call('GET', '/v1/me/presence', token(user))).body).toMatchObject({ availability: 'auto', customStatus: null });
  });

  it('userStatus Offline takes every device offline; a change made through our API is what the facade shows', async () => {
    const user = 'rc-off';
    await fx.call('PUT', '/v1/me/devices/desk', token(user), { status: 'online' });
    const off = await put(user, { userStatus: 'Offline' });
    expect(off.body).toMatchObject({ userStatus: 'Offline', presenceStatus: 'Offline' });
    expect((await fx.call('GET', '/v1/me/presence', token(user))).body).toMatchObject({ status: 'offline', devices: [] });
    await fx.call('PUT', '/v1/me/devices/desk', token(user), { status: 'online' });
    await fx.call('PATCH', '/v1/me/presence', token(user), { availability: 'dnd' });
    expect((await get(user)).body).toMatchObject({ presenceStatus: 'Busy', userStatus: 'Busy', dndStatus: 'DoNotAcceptAnyCalls' });
  });

  it('a user in a call (our device PUT with call) shows telephonyStatus and presenceStatus Busy', async () => {
    const user = 'rc-call';
    await fx.call('PUT', '/v1/me/devices/phone', token(user), { status: 'online', call: 'CallConnected' });
    expect((await get('rc-viewer', user)).body).toMatchObject({ telephonyStatus: 'CallConnected', presenceStatus: 'Busy', userStatus: 'Available' });
    await fx.call('PUT', '/v1/me/devices/phone', token(user), { status: 'online', call: 'OnHold' });
    expect((await get(user)).body).toMatchObject({ telephonyStatus: 'OnHold', presenceStatus: 'Busy' });
    await fx.call('PUT', '/v1/me/devices/phone', token(user), { status: 'online', call: 'NoCall' });
    expect((await get(user)).body).toMatchObject({ telephonyStatus: 'NoCall', presenceStatus: 'Available' });
  });

  it('a PUT through the facade is pushed to our WebSocket subscribers', async () => {
    const user = '3001';
    const watcher = 'rc-watcher';
    expect((await fx.call('POST', '/v1/me/subscriptions', token(watcher), { userIds: [user] })).status).toBe(200);
    const ws = await fx.client(watcher);
    const own = await fx.client(user, 'softphone');
    await eventually(async () => ws.pushes().find(isPushOf(user, (p) => p.status === 'online')));
    expect((await put(user, { dndStatus: 'DoNotAcceptAnyCalls', message: 'focus' })).status).toBe(200);
    const pushed = await eventually(async () => ws.pushes().find(isPushOf(user, (p) => p.status === 'dnd')));
    expect(pushed.data.customStatus).toBe('focus');
    await own.close();
    await ws.close();
  });

  it('allowSeeMyPresence false hides me from strangers (visibility friends), true shows me again; others never see my setting', async () => {
    const user = 'rc-private';
    const friend = 'rc-friend';
    const stranger = 'rc-stranger';
    await fx.call('PUT', '/v1/me/devices/desk', token(user), { status: 'online' });
    await fx.call('PUT', `/v1/sys/users/${user}/friends/${friend}`, token('sys-1', 'presence:sys'));
    const hidden = await put(user, { allowSeeMyPresence: false });
    expect(hidden.body.allowSeeMyPresence).toBe(false);
    expect((await fx.call('GET', '/v1/me/presence', token(user))).body).toMatchObject({ visibility: 'friends' });
    expect((await get(stranger, user)).body).toMatchObject({ presenceStatus: 'Offline', userStatus: 'Offline' });
    expect((await get(friend, user)).body).toMatchObject({ presenceStatus: 'Available' });
    expect((await get(friend, user)).body.allowSeeMyPresence).toBeUndefined();
    // nobody stays nobody on false; true is everyone
    await fx.call('PATCH', '/v1/me/presence', token(user), { visibility: 'nobody' });
    await put(user, { allowSeeMyPresence: false });
    expect((await fx.call('GET', '/v1/me/presence', token(user))).body).toMatchObject({ visibility: 'nobody' });
    expect((await put(user, { allowSeeMyPresence: true })).body.allowSeeMyPresence).toBe(true);
    expect((await get(stranger, user)).body).toMatchObject({ presenceStatus: 'Available' });
  });

  it('another extension: 403 without presence:sys (nothing changes); with presence:sys the PUT applies', async () => {
    const user = 'rc-target';
    await fx.call('PUT', '/v1/me/devices/desk', token(user), { status: 'online' });
    expectRcError(await put('rc-other', { userStatus: 'Busy' }, user), 403, 'CMN-404', 'Attempt to access another extension');
    expect((await fx.call('GET', '/v1/me/presence', token(user))).body).toMatchObject({ availability: 'auto' });
    const r = await send('PUT', P(user), { auth: token('sys-1', 'presence:sys'), body: '{"userStatus":"Busy"}' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ userStatus: 'Busy' });
    expect(r.body.extension.id).toBe(user);
  });
});

describe('the account-wide list, by page', () => {
  it('pages of perPage records walk the whole online list once, with paging and navigation URIs that lead on', async () => {
    const users = Array.from({ length: 5 }, (_, i) => `rc-list-${i}`);
    for (const u of users) await fx.call('PUT', '/v1/me/devices/desk', token(u), { status: 'online' });
    const seen: string[] = [];
    let path: string | null = LIST('?page=1&perPage=2');
    let page = 0;
    while (path !== null && page < 50) {
      page++;
      const r: Reply = await send('GET', path, { auth: APP });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(problemWith(rcAccountPresence, r.body)).toBeNull();
      expect(r.body.paging).toMatchObject({ page, perPage: 2 });
      if (r.body.records.length > 0) expect(r.body.paging.pageStart).toBe((page - 1) * 2);
      expect(r.body.records.length).toBeLessThanOrEqual(2);
      for (const rec of r.body.records) expect(rec.allowSeeMyPresence).toBe(true);
      seen.push(...r.body.records.map((rec: { extension: { id: unknown } }) => String(rec.extension.id)));
      const next: string | undefined = r.body.navigation.nextPage?.uri;
      path = next === undefined ? null : new URL(next).pathname + new URL(next).search;
      if (page > 1) expect(r.body.navigation.previousPage.uri).toContain(`page=${page - 1}&perPage=2`);
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const u of users) expect(seen).toContain(u);
  });

  it('presence:admin opens it too; a user token is 403, a bad page or perPage 400, another account 404', async () => {
    expect((await send('GET', LIST(), { auth: token('ops', 'presence:admin') })).status).toBe(200);
    expect((await send('GET', LIST(), { auth: token('ops', 'presence:admin') })).body.paging).toEqual(expect.objectContaining({ page: 1, perPage: 100 }));
    expectRcError(await send('GET', LIST(), { auth: token('rc-user') }), 403, 'CMN-402', 'Administrator permission required');
    for (const [q, param] of [
      ['?page=0', 'page'],
      ['?page=x', 'page'],
      ['?perPage=-1', 'perPage'],
      ['?perPage=1001', 'perPage'],
      ['?page=100&perPage=100', 'page'],
      ['?detailedTelephonyState=yes', 'detailedTelephonyState'],
    ] as const)
      expectRcError(await send('GET', LIST(q), { auth: APP }), 400, 'CMN-101', `Parameter [${param}] value is invalid.`, param);
    expectRcError(
      await send('GET', '/restapi/v1.0/account/12345/presence', { auth: APP }),
      404,
      'CMN-102',
      'Resource for parameter [accountId] is not found',
      'accountId',
    );
  });
});

describe("errors in RingCentral's shape", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const BAD = [null, 'garbage', signHs256({ sub: 'x1', exp: now() - 60 }, SECRET), signHs256({ sub: 'x1', exp: now() + 600 }, 'other')];

  it("401 with the error guide's code and message for no, a garbage, an expired or a foreign token, on every route, with WWW-Authenticate", async () => {
    const expected: [string, string][] = [
      ['OAU-134', 'Invalid Authorization header.'],
      ['OAU-149', 'Unparsable access token'],
      ['OAU-128', 'Access token expired.'],
      ['OAU-129', 'Access token corrupted.'],
    ];
    for (const [i, auth] of BAD.entries())
      for (const [m, p] of [
        ['GET', P('~')],
        ['PUT', P('~')],
        ['GET', LIST()],
      ] as const) {
        const r = await send(m, p, { auth, body: m === 'PUT' ? '{}' : undefined });
        const [code, message] = expected[i] as [string, string];
        expectRcError(r, 401, code, message);
        expect(r.headers.get('www-authenticate')).toBe('Bearer');
      }
  });

  it('400 for bad bodies: CMN-103 not JSON, CMN-104 not an object, CMN-101 naming the parameter (the department dndStatus values too); nothing changes', async () => {
    const user = 'rc-bad';
    await fx.call('PUT', '/v1/me/devices/desk', token(user), { status: 'online' });
    const before = (await fx.call('GET', '/v1/me/presence', token(user))).body;
    const put = (body: string) => send('PUT', P('~'), { auth: token(user), body });
    expectRcError(await put('not json'), 400, 'CMN-103', "JSON can't be parsed.");
    expectRcError(await put('{"userStatus":'), 400, 'CMN-103', "JSON can't be parsed.");
    for (const body of ['[]', '"x"', '5']) expectRcError(await put(body), 400, 'CMN-104', 'Cannot parse request');
    for (const [body, param] of [
      ['{"userStatus":"Away"}', 'userStatus'],
      ['{"dndStatus":"DoNotAcceptDepartmentCalls"}', 'dndStatus'],
      ['{"dndStatus":"TakeDepartmentCallsOnly"}', 'dndStatus'],
      ['{"message":5}', 'message'],
      [`{"message":"${'x'.repeat(65)}"}`, 'message'],
      ['{"allowSeeMyPresence":"yes"}', 'allowSeeMyPresence'],
    ])
      expectRcError(await put(body as string), 400, 'CMN-101', `Parameter [${param}] value is invalid.`, param);
    expect((await fx.call('GET', '/v1/me/presence', token(user))).body.version).toBe(before.version);
  });

  it('404 CMN-102 naming the parameter: another account, an extension never seen, an id that names nobody', async () => {
    const notFound = (param: string) => `Resource for parameter [${param}] is not found`;
    expectRcError(await send('GET', P('~', '42'), { auth: token('rc-x') }), 404, 'CMN-102', notFound('accountId'), 'accountId');
    expectRcError(await get('rc-x', 'rc-never-seen'), 404, 'CMN-102', notFound('extensionId'), 'extensionId');
    expectRcError(await get('rc-x', 'a%23b'), 404, 'CMN-102', notFound('extensionId'), 'extensionId');
  });

  it('413 past 64 KB (the guide has no code for it: CMN-101, our message)', async () => {
    expectRcError(
      await send('PUT', P('~'), { auth: token('rc-big'), body: JSON.stringify({ message: 'x', pad: 'y'.repeat(70_000) }) }),
      413,
      'CMN-101',
      RC_MESSAGES.bodyTooLarge,
    );
  });
});
