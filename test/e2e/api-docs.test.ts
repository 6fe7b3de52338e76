/**
 * The OpenAPI and AsyncAPI documents the local stack serves are generated from
 * the handlers' own schemas, and real responses, errors and pushes match them
 * (a response that does not match its documented schema fails here).
 */
import { describe, expect, it } from 'vitest';
import { patchPresenceBody, subscribeBody, wsSchemas } from '../../functions/core/schemas.ts';
import type { Schema } from '../../functions/core/validate.ts';
import { facadeRoutes, httpRoutes, wsRoutes } from '../../lib/routes.ts';
import { connect, eventually, token, useStack } from '../support/e2e.ts';
import { problemWith } from '../support/schema-check.ts';

const fx = useStack();
const { call } = fx;
const SYS = token('docs-backend', 'presence:sys');
const ADMIN = token('docs-ops', 'presence:admin');

async function documents() {
  const open = (await fetch(`${fx.stack.httpUrl}/openapi.json`)).json() as Promise<any>;
  const asyncapi = (await fetch(`${fx.stack.httpUrl}/asyncapi.json`)).json() as Promise<any>;
  return { openapi: await open, asyncapi: await asyncapi };
}

const roundTrip = (s: Schema) => JSON.parse(JSON.stringify(s));

type DocumentedCall = [method: string, template: string, path: string, auth: string | undefined, body?: unknown];

/** Each call answers 200 with its documented response, and without a token an error its document lists (401 with the body it documents). */
async function expectDocumented(openapi: any, calls: readonly DocumentedCall[]): Promise<void> {
  for (const [method, template, path, auth, body] of calls) {
    const op = openapi.paths[template][method.toLowerCase()];
    const res = await call(method, path, auth, body);
    expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(200);
    expect(problemWith(op.responses['200'].content['application/json'].schema, res.body, 'response'), `${method} ${path}`).toBeNull();
    const bad = await call(method, path, undefined, body);
    expect(bad.status, `${method} ${path} without token`).toBe(401);
    expect(problemWith(op.responses[String(bad.status)].content['application/json'].schema, bad.body, 'error'), `${method} ${path} without token`).toBeNull();
  }
}

describe('API documents', () => {
  it('OpenAPI 3.1 lists every HTTP route with the handlers own request schemas', async () => {
    const { openapi } = await documents();
    expect(openapi.openapi).toBe('3.1.0');
    for (const r of httpRoutes) expect(openapi.paths[r.path]?.[r.method.toLowerCase()]?.operationId, `${r.method} ${r.path}`).toBe(r.id);
    expect(openapi.paths['/v1/me/presence'].patch.requestBody.content['application/json'].schema).toEqual(roundTrip(patchPresenceBody));
    expect(openapi.paths['/v1/me/subscriptions'].post.requestBody.content['application/json'].schema).toEqual(roundTrip(subscribeBody));
    expect(openapi.paths['/v1/sys/users/{userId}/presence'].put.security).toEqual([{ bearer: ['presence:sys'] }]);
    // either scope opens the online list: one security requirement each
    expect(openapi.paths['/v1/admin/presence'].get.security).toEqual([{ bearer: ['presence:admin'] }, { bearer: ['presence:app'] }]);
  });

  it("OpenAPI lists every route of the compatibility facades, tagged with its facade's name", async () => {
    const { openapi } = await documents();
    for (const r of facadeRoutes()) {
      const op = openapi.paths[r.path]?.[r.method.toLowerCase()];
      expect(op?.operationId, r.routeKey).toBe(r.id);
      expect(op?.tags, r.routeKey).toEqual([r.facade.name]);
    }
    expect(openapi.tags.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['presence', 'generic']));
  });

  it('every facade route answers what its document says (success, and its 401 without a token)', async () => {
    const { openapi } = await documents();
    const U = '3001';
    const ADMIN_FACADE = token('3002', 'presence:admin');
    const AG = '/local/presence/users/{uid}/presence';
    await call('POST', '/users/me/heartbeat', token('3003'));
    const calls: DocumentedCall[] = [
      ['POST', '/users/me/heartbeat', '/users/me/heartbeat', token(U)],
      ['GET', '/users/me/status', '/users/me/status', token(U)],
      ['PUT', '/users/me/status', '/users/me/status', token(U), { is_busy: true }],
      ['GET', '/users/{user_id}/presence', '/users/3003/presence', token(U)],
      ['GET', '/users/presence', '/users/presence?user_ids=3001,3003,3999', token(U)],
      ['POST', '/admin/cleanup-presence', '/admin/cleanup-presence', ADMIN_FACADE],
      [
        'PUT',
        '/restapi/v1.0/account/{accountId}/extension/{extensionId}/presence',
        '/restapi/v1.0/account/~/extension/~/presence',
        token(U),
        { userStatus: 'Busy', message: 'documented' },
      ],
      ['GET', '/restapi/v1.0/account/{accountId}/extension/{extensionId}/presence', '/restapi/v1.0/account/~/extension/3003/presence', token(U)],
      ['GET', '/restapi/v1.0/account/{accountId}/presence', '/restapi/v1.0/account/~/presence?page=1&perPage=2', token('3004', 'presence:app')],
      // Agora Chat REST, on this stack's org/app pair (local/presence)
      ['POST', `${AG}/{resource}/{status}`, `${AG.replace('{uid}', U)}/android_1/1`, token(U), { ext: 'docs' }],
      ['POST', `${AG}/{expiry}`, `${AG.replace('{uid}', U)}/600`, token(U), { usernames: ['3003'] }],
      ['POST', AG, AG.replace('{uid}', U), token(U), { usernames: ['3001', '3003'] }],
      ['GET', `${AG}/sublist`, `${AG.replace('{uid}', U)}/sublist?pageNum=1&pageSize=10`, token(U)],
      ['DELETE', AG, AG.replace('{uid}', U), token(U), { usernames: ['3003'] }],
    ];
    expect(new Set(calls.map(([m, p]) => `${m} ${p}`))).toEqual(new Set(facadeRoutes().map((r) => r.routeKey)));
    await expectDocumented(openapi, calls);
  });

  it('AsyncAPI 3.0 lists every WebSocket action with the handlers own message schemas', async () => {
    const { asyncapi } = await documents();
    expect(asyncapi.asyncapi).toBe('3.0.0');
    for (const r of wsRoutes.filter((x) => !x.routeKey.startsWith('$'))) {
      expect(asyncapi.channels.presence.messages[r.routeKey]?.payload, r.routeKey).toEqual(roundTrip(wsSchemas[r.routeKey] as Schema));
      expect(asyncapi.operations[r.routeKey]?.action).toBe('send');
    }
  });

  it('every HTTP route answers what its document says (success and error)', async () => {
    const { openapi } = await documents();
    const U = 'docs-user';
    const calls: DocumentedCall[] = [
      ['GET', '/v1/me/presence', '/v1/me/presence', token(U)],
      ['PATCH', '/v1/me/presence', '/v1/me/presence', token(U), { customStatus: 'documented', activity: { a: 1 } }],
      ['POST', '/v1/me/heartbeat', '/v1/me/heartbeat', token(U), { device: 'web' }],
      ['PUT', '/v1/me/devices/{device}', '/v1/me/devices/ios_1', token(U), { status: 'busy', ext: 'v1', call: 'Ringing' }],
      ['DELETE', '/v1/me/devices/{device}', '/v1/me/devices/ios_1', token(U)],
      ['POST', '/v1/me/presence/push', '/v1/me/presence/push', token(U)],
      ['GET', '/v1/users/{userId}/presence', '/v1/users/docs-other/presence', token(U)],
      ['GET', '/v1/presence', '/v1/presence?userIds=docs-user,docs-other', token(U)],
      ['POST', '/v1/me/subscriptions', '/v1/me/subscriptions', token(U), { userIds: ['docs-other'] }],
      ['GET', '/v1/me/subscriptions', '/v1/me/subscriptions?limit=1', token(U)],
      ['DELETE', '/v1/me/subscriptions', '/v1/me/subscriptions', token(U), { userIds: ['docs-other'] }],
      ['PUT', '/v1/sys/users/{userId}/friends/{friendId}', '/v1/sys/users/docs-user/friends/docs-other', SYS],
      ['GET', '/v1/me/friends', '/v1/me/friends', token(U)],
      ['GET', '/v1/me/friends/presence', '/v1/me/friends/presence?includeOffline=true', token(U)],
      ['DELETE', '/v1/sys/users/{userId}/friends/{friendId}', '/v1/sys/users/docs-user/friends/docs-other', SYS],
      ['PUT', '/v1/sys/groups/{groupId}/members/{userId}', '/v1/sys/groups/docs-g/members/docs-user', SYS],
      ['GET', '/v1/groups/{groupId}/presence', '/v1/groups/docs-g/presence?includeOffline=true&limit=10', token(U)],
      ['DELETE', '/v1/sys/groups/{groupId}/members/{userId}', '/v1/sys/groups/docs-g/members/docs-user', SYS],
      ['PUT', '/v1/sys/users/{userId}/presence', '/v1/sys/users/docs-iot/presence', SYS, { expiresIn: 60, activity: { t: 20 } }],
      ['PUT', '/v1/sys/users/{userId}/profile', '/v1/sys/users/docs-iot/profile', SYS, { name: 'Thermostat', pic: 'https://cdn.example.com/t.png' }],
      ['POST', '/v1/sys/users/{userId}/presence/extend', '/v1/sys/users/docs-iot/presence/extend', SYS, { expiresIn: 120 }],
      ['DELETE', '/v1/sys/users/{userId}/presence', '/v1/sys/users/docs-iot/presence', SYS],
      ['GET', '/v1/admin/presence', '/v1/admin/presence?limit=2', token('docs-app', 'presence:app')],
      ['POST', '/v1/admin/cleanup-presence', '/v1/admin/cleanup-presence', ADMIN],
    ];
    expect(new Set(calls.map(([m, p]) => `${m} ${p}`))).toEqual(new Set(httpRoutes.map((r) => `${r.method} ${r.path}`)));
    await expectDocumented(openapi, calls);
    const notFound = await call('POST', '/v1/sys/users/docs-none/presence/extend', SYS, { expiresIn: 5 });
    expect(
      problemWith(openapi.paths['/v1/sys/users/{userId}/presence/extend'].post.responses['404'].content['application/json'].schema, notFound.body),
    ).toBeNull();
  });

  it('WebSocket responses, errors and pushes match the AsyncAPI messages', async () => {
    const { asyncapi } = await documents();
    const messages = asyncapi.channels.presence.messages;
    await call('POST', '/v1/me/subscriptions', token('docs-ws'), { userIds: ['docs-src'] });
    const c = await connect(fx.stack, token('docs-ws'));
    fx.track(c);
    const replies = [
      await c.request('heartbeat'),
      await c.request('getPresence', { userIds: ['docs-src'] }),
      await c.request('setPresence', { customStatus: 'ws' }),
      await c.request('subscribe', { userIds: ['docs-src'] }),
      await c.request('listen', { userIds: ['docs-src'] }),
      await c.request('listen', { userIds: ['docs-src'], bidirectional: true }),
      await c.request('stopListening'),
      await c.request('forcePush'),
      await c.request('unsubscribe', { userIds: ['nobody'] }),
      await c.request('nope'),
      await c.request('getPresence', { userIds: 'bad' }),
    ];
    for (const r of replies) {
      const schema = r.type === 'error' ? messages.error.payload : messages.response.payload;
      expect(problemWith(schema, r, 'message'), JSON.stringify(r)).toBeNull();
    }
    await call('POST', '/v1/me/heartbeat', token('docs-src'), {});
    const push = await eventually(async () => c.pushes().find((m) => m.data.userId === 'docs-src'));
    expect(problemWith(messages.presence.payload, push, 'push')).toBeNull();
  });
});
