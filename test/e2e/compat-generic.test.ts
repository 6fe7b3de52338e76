/**
 * The generic REST presence API facade (docs/compat.md) against the local
 * stack: every request example of the API's document replayed (its cURL
 * examples and its endpoint examples, copied below as fixtures; only the
 * host, the ids' owners and the tokens are ours), each response checked
 * field by field against the documented one (names and JSON types, values
 * where they are determined), the documented errors and other bad input, the
 * visibility rules, and that a change made through the facade is the
 * contract's change: read by our own API and pushed to our WebSocket
 * subscribers.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GENERIC_MESSAGES } from '../../functions/compat/generic-model.ts';
import { genericCleanup, genericError, genericMessage, genericUserPresence, genericUserStatus } from '../../functions/compat/generic-schemas.ts';
import { signHs256 } from '../../functions/core/jwt.ts';
import { LocalGateway } from '../../local/gateway.ts';
import { eventually, isPushOf, type RawReply, SECRET, sendRaw, sleep, token, useStack } from '../support/e2e.ts';
import { freePort } from '../support/ports.ts';
import { problemWith } from '../support/schema-check.ts';

// ---------------------------------------------------------------- the document's examples (fixtures)

/** The document's "cURL Examples", as written (host http://localhost:8000, `<access_token>`). */
const CURL_EXAMPLES = `
# Get my status
curl -X GET "http://localhost:8000/users/me/status" \\
  -H "Authorization: Bearer <access_token>"

# Update my status
curl -X PUT "http://localhost:8000/users/me/status" \\
  -H "Authorization: Bearer <access_token>" \\
  -H "Content-Type: application/json" \\
  -d '{"is_online": true, "is_busy": false}'

# Send heartbeat
curl -X POST "http://localhost:8000/users/me/heartbeat" \\
  -H "Authorization: Bearer <access_token>"

# Get user presence
curl -X GET "http://localhost:8000/users/456/presence" \\
  -H "Authorization: Bearer <access_token>"

# Get multiple users presence
curl -X GET "http://localhost:8000/users/presence?user_ids=123,456,789" \\
  -H "Authorization: Bearer <access_token>"
`;

/** The documented responses, as written, by operation. */
const DOCUMENTED = {
  myStatus: {
    user_id: 123,
    is_online: true,
    is_busy: false,
    busy_until: null,
    last_seen: '2024-01-15T10:30:00Z',
    created_at: '2024-01-15T10:30:00Z',
    updated_at: '2024-01-15T10:30:00Z',
  },
  updateRequest: { is_online: true, is_busy: false, busy_until: '2024-01-15T11:00:00Z' },
  updateResponse: {
    user_id: 123,
    is_online: true,
    is_busy: false,
    busy_until: '2024-01-15T11:00:00Z',
    last_seen: '2024-01-15T10:30:00Z',
    created_at: '2024-01-15T10:30:00Z',
    updated_at: '2024-01-15T10:30:00Z',
  },
  heartbeat: { message: 'Heartbeat received' },
  userPresence: { user_id: 456, username: 'jane_smith', is_online: true, is_busy: false, busy_until: null, last_seen: '2024-01-15T10:25:00Z' },
  multiple: [
    { user_id: 123, username: 'alice', is_online: true, is_busy: false, busy_until: null, last_seen: '2024-01-15T10:30:00Z' },
    { user_id: 456, username: 'jane_smith', is_online: true, is_busy: true, busy_until: '2024-01-15T11:00:00Z', last_seen: '2024-01-15T10:25:00Z' },
  ],
  cleanup: { message: 'Presence cleanup completed', users_marked_offline: 15, busy_status_cleared: 3 },
  /** "WebSocket Integration": the connection and the message format */
  wsConnection: 'wss://your-api-domain.com/ws/presence?token=<access_token>',
  wsMessage: {
    type: 'presence_update',
    data: { user_id: 123, is_online: true, is_busy: false, last_seen: '2024-01-15T10:30:00Z' },
    timestamp: '2024-01-15T10:30:00Z',
  },
  errors: {
    400: { detail: 'No status fields to update' },
    401: { detail: 'Invalid or expired token' },
    404: { detail: 'User status not found' },
    tooMany: { detail: 'Too many user IDs requested' },
  },
} as const;

interface CurlExample {
  title: string;
  method: string;
  path: string;
  body?: string;
}

/** The cURL examples parsed: method, path and query (the host replaced by the local stack's), body. */
function curlExamples(text: string): CurlExample[] {
  return text
    .split(/\n(?=# )/)
    .map((block) => block.trim())
    .filter(Boolean)
    .map((block) => {
      const title = /^# (.+)$/m.exec(block)?.[1] as string;
      const m = /curl -X (\w+) "http:\/\/localhost:8000([^"]+)"/.exec(block);
      const body = /-d '([^']*)'/.exec(block)?.[1];
      if (!m) throw new Error(`not a cURL example: ${block}`);
      return { title, method: m[1] as string, path: m[2] as string, ...(body !== undefined ? { body } : {}) };
    });
}

// ---------------------------------------------------------------- helpers

const fx = useStack({ sweepIntervalSeconds: 3600 });

type Reply = RawReply;
const send = (method: string, path: string, opts: Parameters<typeof sendRaw>[3] = {}): Promise<Reply> => sendRaw(fx.stack.httpUrl, method, path, opts);

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const shape = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeOf(v)]));
/** fields the document shows as a string in one example and null in another (`busy_until?: string`), and last_seen of a user never live */
const NULLABLE = new Set(['busy_until', 'last_seen']);

/** The response has exactly the documented fields, each of the documented JSON type (a nullable one: a string or null, as the examples show it both ways). */
function expectDocumentedShape(actual: Record<string, unknown>, documented: Record<string, unknown>): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(documented).sort());
  const got = shape(actual);
  for (const [k, t] of Object.entries(shape(documented))) {
    if (NULLABLE.has(k)) expect(['string', 'null'], k).toContain(got[k]);
    else expect(got[k], k).toBe(t);
  }
}

const isIso = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v)) && new Date(Date.parse(v)).toISOString() === v;

const ME = '123';
const JANE = '456';
const NEVER = '789';
const ADMIN = token('ops-1', 'presence:admin');

// ---------------------------------------------------------------- the document's examples, replayed

describe('the documented examples, replayed', () => {
  it('cURL examples: every one answers what the document shows, field by field', async () => {
    const examples = curlExamples(CURL_EXAMPLES);
    expect(examples.map((e) => `${e.method} ${e.path}`)).toEqual([
      'GET /users/me/status',
      'PUT /users/me/status',
      'POST /users/me/heartbeat',
      'GET /users/456/presence',
      'GET /users/presence?user_ids=123,456,789',
    ]);
    // 123 and 456 have been online; 456 is busy until a time to come (as in the multiple-users example); 789 never was
    const before = Date.now();
    expect((await send('POST', '/users/me/heartbeat', { auth: token(ME) })).status).toBe(200);
    expect((await send('POST', '/users/me/heartbeat', { auth: token(JANE) })).status).toBe(200);
    const janeUntil = new Date(Date.now() + 3600_000).toISOString();
    expect((await send('PUT', '/users/me/status', { auth: token(JANE), body: JSON.stringify({ is_busy: true, busy_until: janeUntil }) })).status).toBe(200);

    const replies: Reply[] = [];
    for (const e of examples) replies.push(await send(e.method, e.path, { auth: token(ME), body: e.body }));
    for (const [i, r] of replies.entries()) expect(r.status, `${examples[i]?.title}: ${JSON.stringify(r.body)}`).toBe(200);
    const [status, update, beat, jane, multiple] = replies.map((r) => r.body);

    // Get my status
    expectDocumentedShape(status, DOCUMENTED.myStatus);
    expect(status).toMatchObject({ user_id: 123, is_online: true, is_busy: false, busy_until: null });
    for (const k of ['last_seen', 'created_at', 'updated_at']) expect(isIso(status[k]), k).toBe(true);
    expect(Date.parse(status.created_at)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(status.created_at)).toBeLessThanOrEqual(Date.parse(status.updated_at));
    expect(problemWith(genericUserStatus, status)).toBeNull();

    // Update my status ({"is_online": true, "is_busy": false})
    expectDocumentedShape(update, DOCUMENTED.myStatus);
    expect(update).toMatchObject({ user_id: 123, is_online: true, is_busy: false, busy_until: null, created_at: status.created_at });
    expect(Date.parse(update.updated_at)).toBeGreaterThanOrEqual(Date.parse(status.updated_at));

    // Send heartbeat
    expect(beat).toEqual(DOCUMENTED.heartbeat);

    // Get user presence (456)
    expectDocumentedShape(jane, DOCUMENTED.userPresence);
    expect(jane).toMatchObject({ user_id: 456, username: '456', is_online: true, is_busy: true, busy_until: janeUntil });
    expect(isIso(jane.last_seen)).toBe(true);

    // Get multiple users presence: 123 and 456, 789 (never seen, no status record) left out as in the document's example
    expect(Array.isArray(multiple)).toBe(true);
    expect(multiple.map((p: { user_id: unknown }) => p.user_id)).toEqual(DOCUMENTED.multiple.map((p) => p.user_id));
    for (const [i, p] of (multiple as Record<string, unknown>[]).entries()) expectDocumentedShape(p, DOCUMENTED.multiple[i] as Record<string, unknown>);
    expect(multiple[0]).toMatchObject({ user_id: 123, username: '123', is_online: true, is_busy: false, busy_until: null });
    expect(multiple[1]).toMatchObject({ user_id: 456, username: '456', is_online: true, is_busy: true, busy_until: janeUntil });
  });

  it('Update My Status, the endpoint example: is_busy false with a busy_until answers the documented fields (busy_until null: no busy expiry without busy)', async () => {
    const u = '1001';
    const res = await send('PUT', '/users/me/status', { auth: token(u), body: JSON.stringify(DOCUMENTED.updateRequest) });
    expect(res.status).toBe(200);
    expectDocumentedShape(res.body, DOCUMENTED.updateResponse);
    expect(res.body).toMatchObject({ user_id: 1001, is_online: true, is_busy: false, busy_until: null });
    expect(problemWith(genericUserStatus, res.body)).toBeNull();
  });

  it('Update My Status with is_busy and a future busy_until: busy until then, on our API too', async () => {
    const u = '1002';
    const until = new Date(Date.now() + 7200_000).toISOString();
    const res = await send('PUT', '/users/me/status', { auth: token(u), body: JSON.stringify({ is_online: true, is_busy: true, busy_until: until }) });
    expect(res.body).toMatchObject({ user_id: 1002, is_online: true, is_busy: true, busy_until: until });
    const ours = await fx.call('GET', '/v1/me/presence', token(u));
    expect(ours.body).toMatchObject({ status: 'busy', availability: 'busy', availabilityUntil: until });
    expect(ours.body.devices.map((d: { device: string }) => d.device)).toEqual(['http']);
  });

  it('the React Native service: updateMyStatus(Partial<UserStatus>) may send a whole UserStatus back; the other fields are ignored', async () => {
    const u = '1003';
    await send('POST', '/users/me/heartbeat', { auth: token(u) });
    const mine = (await send('GET', '/users/me/status', { auth: token(u) })).body;
    const back = await send('PUT', '/users/me/status', { auth: token(u), body: JSON.stringify({ ...mine, is_busy: true }) });
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ user_id: 1003, is_online: true, is_busy: true, busy_until: null, created_at: mine.created_at });
  });

  it('Cleanup Presence (admin): the documented fields, counting the users it took offline and the busy statuses it cleared', async () => {
    // a device that expires in 1 s (sys presence), a busy status that lapses in 1 s, a subscription that expires in 1 s
    expect((await fx.call('PUT', '/v1/sys/users/1004/presence', token('sys-1', 'presence:sys'), { expiresIn: 1 })).status).toBe(200);
    const soon = new Date(Date.now() + 1000).toISOString();
    expect((await send('PUT', '/users/me/status', { auth: token('1005'), body: JSON.stringify({ is_busy: true, busy_until: soon }) })).status).toBe(200);
    expect((await fx.call('POST', '/v1/me/subscriptions', token('1005'), { userIds: ['1004'], expiresIn: 1 })).status).toBe(200);
    await sleep(1500);
    const res = await send('POST', '/admin/cleanup-presence', { auth: ADMIN });
    expect(res.status).toBe(200);
    expectDocumentedShape(res.body, DOCUMENTED.cleanup);
    expect(res.body.message).toBe('Presence cleanup completed');
    expect(res.body.users_marked_offline).toBeGreaterThanOrEqual(1);
    expect(res.body.busy_status_cleared).toBeGreaterThanOrEqual(1);
    expect(problemWith(genericCleanup, res.body)).toBeNull();
    expect((await send('GET', '/users/1004/presence', { auth: token('1005') })).body).toMatchObject({ is_online: false });
    expect((await send('GET', '/users/me/status', { auth: token('1005') })).body).toMatchObject({ is_busy: false, busy_until: null });
    // nothing is due any more
    expect((await send('POST', '/admin/cleanup-presence', { auth: ADMIN })).body).toMatchObject({ users_marked_offline: 0, busy_status_cleared: 0 });
  });

  it('the heartbeat answers the documented message and keeps the user online (our HTTP device)', async () => {
    const u = 'hb-user';
    const res = await send('POST', '/users/me/heartbeat', { auth: token(u) });
    expect(res).toMatchObject({ status: 200, body: DOCUMENTED.heartbeat });
    expect(problemWith(genericMessage, res.body)).toBeNull();
    expect((await fx.call('GET', '/v1/me/presence', token(u))).body).toMatchObject({ status: 'online', devices: [{ device: 'http' }] });
  });
});

// ---------------------------------------------------------------- errors

describe('errors: the documented ones, and every other bad input as {"detail": ...}', () => {
  const expectError = (r: Reply, status: number, detail?: string) => {
    expect(r.status, JSON.stringify(r.body)).toBe(status);
    expect(problemWith(genericError, r.body)).toBeNull();
    if (detail !== undefined) expect(r.body).toEqual({ detail });
  };

  const ROUTES: [string, string, string?][] = [
    ['GET', '/users/me/status'],
    ['PUT', '/users/me/status', '{"is_online": true}'],
    ['POST', '/users/me/heartbeat'],
    ['GET', '/users/456/presence'],
    ['GET', '/users/presence?user_ids=123,456'],
    ['POST', '/admin/cleanup-presence'],
  ];
  const now = () => Math.floor(Date.now() / 1000);
  const BAD_TOKENS: [string, string | null, Record<string, string>?][] = [
    ['no Authorization header', null],
    ['a garbage token', 'garbage'],
    ['an expired token', signHs256({ sub: 'x1', exp: now() - 60 }, SECRET)],
    ['a token signed with another secret', signHs256({ sub: 'x1', exp: now() + 600 }, 'not-the-secret')],
    ['a subject that is no user id', signHs256({ sub: 'a#b', exp: now() + 600 }, SECRET)],
    ['Basic credentials', null, { authorization: 'Basic dXNlcjpwYXNz' }],
  ];

  it.each(ROUTES.flatMap(([m, p, b]) => BAD_TOKENS.map(([what, t, h]) => [`${m} ${p}`, what, m, p, b, t, h] as const)))(
    '401 {"detail":"Invalid or expired token"} on %s with %s',
    async (_route, _what, method, path, body, auth, headers) => {
      const r = await send(method, path, { auth, body, headers });
      expectError(r, 401, DOCUMENTED.errors[401].detail);
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
    },
  );

  it('400 "No status fields to update": an empty body, {}, null fields, only unknown fields; nothing changes', async () => {
    const u = 'err-fields';
    await send('POST', '/users/me/heartbeat', { auth: token(u) });
    const before = (await fx.call('GET', '/v1/me/presence', token(u))).body;
    for (const body of [undefined, '', '{}', 'null', '{"is_online": null, "is_busy": null}', '{"user_id": 5, "username": "x"}'])
      expectError(await send('PUT', '/users/me/status', { auth: token(u), body }), 400, DOCUMENTED.errors[400].detail);
    expect((await fx.call('GET', '/v1/me/presence', token(u))).body).toEqual(before);
  });

  it('404 "User status not found": my status before I was ever seen; a user never seen; an id that names nobody', async () => {
    expectError(await send('GET', '/users/me/status', { auth: token('never-1') }), 404, DOCUMENTED.errors[404].detail);
    expectError(await send('GET', `/users/${NEVER}/presence`, { auth: token(ME) }), 404, DOCUMENTED.errors[404].detail);
    expectError(await send('GET', `/users/${'x'.repeat(65)}/presence`, { auth: token(ME) }), 404, DOCUMENTED.errors[404].detail);
    expectError(await send('GET', '/users/a%23b/presence', { auth: token(ME) }), 404, DOCUMENTED.errors[404].detail);
  });

  it('400 "Too many user IDs requested" past 50 ids; 50 are fine', async () => {
    const ids = Array.from({ length: 51 }, (_, i) => `u${i}`);
    expectError(await send('GET', `/users/presence?user_ids=${ids.join(',')}`, { auth: token(ME) }), 400, DOCUMENTED.errors.tooMany.detail);
    const fifty = await send('GET', `/users/presence?user_ids=${ids.slice(0, 50).join(',')}`, { auth: token(ME) });
    expect(fifty.status).toBe(200);
    expect(fifty.body).toEqual([]);
  });

  it('400 for user_ids missing, empty or naming an id outside the pattern', async () => {
    expectError(await send('GET', '/users/presence', { auth: token(ME) }), 400, GENERIC_MESSAGES.noUserIds);
    expectError(await send('GET', '/users/presence?user_ids=', { auth: token(ME) }), 400, GENERIC_MESSAGES.noUserIds);
    expectError(await send('GET', '/users/presence?user_ids=1,,2', { auth: token(ME) }), 400);
    expectError(await send('GET', '/users/presence?user_ids=a%23b', { auth: token(ME) }), 400);
  });

  it('400 for a body that is not JSON, not an object, or a field of the wrong type; 413 past 64 KB; nothing changes', async () => {
    const u = 'err-body';
    await send('POST', '/users/me/heartbeat', { auth: token(u) });
    const before = (await fx.call('GET', '/v1/me/presence', token(u))).body;
    expectError(await send('PUT', '/users/me/status', { auth: token(u), body: '{"is_online": tru' }), 400, GENERIC_MESSAGES.badJson);
    expectError(await send('PUT', '/users/me/status', { auth: token(u), body: '[true]' }), 400, 'body must be object');
    expectError(await send('PUT', '/users/me/status', { auth: token(u), body: '{"is_online": "yes"}' }), 400, 'body.is_online must be boolean or null');
    expectError(await send('PUT', '/users/me/status', { auth: token(u), body: '{"is_busy": 1}' }), 400, 'body.is_busy must be boolean or null');
    expectError(
      await send('PUT', '/users/me/status', { auth: token(u), body: '{"is_busy": true, "busy_until": "tomorrow"}' }),
      400,
      GENERIC_MESSAGES.busyUntilFormat,
    );
    expectError(
      await send('PUT', '/users/me/status', { auth: token(u), body: '{"is_busy": true, "busy_until": "2024-01-15T11:00:00Z"}' }),
      400,
      GENERIC_MESSAGES.busyUntilPast,
    );
    expectError(await send('PUT', '/users/me/status', { auth: token(u), body: JSON.stringify({ is_online: true, pad: 'x'.repeat(70_000) }) }), 413);
    expect((await fx.call('GET', '/v1/me/presence', token(u))).body).toEqual(before);
  });

  it('403 {"detail"} for the admin cleanup without the presence:admin scope', async () => {
    expectError(await send('POST', '/admin/cleanup-presence', { auth: token(ME) }), 403, GENERIC_MESSAGES.forbidden);
    expectError(await send('POST', '/admin/cleanup-presence', { auth: token(ME, 'presence:sys') }), 403, GENERIC_MESSAGES.forbidden);
  });

  it('a method the document does not give a path is no route (404), as API Gateway answers', async () => {
    expect((await send('DELETE', '/users/me/status', { auth: token(ME) })).status).toBe(404);
    expect((await send('POST', '/users/presence', { auth: token(ME) })).status).toBe(404);
  });
});

// ---------------------------------------------------------------- one presence

describe('one presence: the facade is the contract underneath', () => {
  it('a change made through the facade is read by our API and pushed to our WebSocket subscribers; is_online false takes every device offline', async () => {
    const user = '2001';
    const watcher = 'gen-watcher';
    expect((await fx.call('POST', '/v1/me/subscriptions', token(watcher), { userIds: [user] })).status).toBe(200);
    const ws = await fx.client(watcher);
    const own = await fx.client(user, 'phone');
    await eventually(async () => ws.pushes().find(isPushOf(user, (p) => p.status === 'online')));

    const busy = await send('PUT', '/users/me/status', { auth: token(user), body: '{"is_busy": true}' });
    expect(busy.body).toMatchObject({ user_id: 2001, is_online: true, is_busy: true, busy_until: null });
    await eventually(async () => ws.pushes().find(isPushOf(user, (p) => p.status === 'busy')));
    expect((await fx.call('GET', `/v1/users/${user}/presence`, token(watcher))).body).toMatchObject({ status: 'busy', availabilityUntil: null });

    const off = await send('PUT', '/users/me/status', { auth: token(user), body: '{"is_online": false}' });
    expect(off.body).toMatchObject({ is_online: false, is_busy: true });
    const offline = await eventually(async () => ws.pushes().find(isPushOf(user, (p) => p.status === 'offline')));
    expect(offline.data.devices).toEqual([]);
    expect((await send('GET', `/users/${user}/presence`, { auth: token(watcher) })).body).toMatchObject({ is_online: false, is_busy: false });

    // back online through the facade: the HTTP device, pushed; then available again
    const on = await send('PUT', '/users/me/status', { auth: token(user), body: '{"is_online": true, "is_busy": false}' });
    expect(on.body).toMatchObject({ is_online: true, is_busy: false });
    await eventually(async () =>
      ws.pushes().find(isPushOf(user, (p) => p.status === 'online' && p.devices.some((d: { device: string }) => d.device === 'http'))),
    );
    await own.close();
  });

  it('a change made through our API is what the facade shows', async () => {
    const user = '2002';
    await fx.call('PUT', '/v1/me/devices/web', token(user), { status: 'online' });
    const until = new Date(Date.now() + 600_000).toISOString();
    await fx.call('PATCH', '/v1/me/presence', token(user), { availability: 'dnd', availabilityUntil: until });
    expect((await send('GET', '/users/me/status', { auth: token(user) })).body).toMatchObject({ is_online: true, is_busy: true, busy_until: until });
    expect((await send('GET', `/users/${user}/presence`, { auth: token(ME) })).body).toMatchObject({ is_online: true, is_busy: true, busy_until: until });
    // is_busy true keeps dnd (it is busy already)
    await send('PUT', '/users/me/status', { auth: token(user), body: '{"is_busy": true}' });
    expect((await fx.call('GET', '/v1/me/presence', token(user))).body).toMatchObject({ availability: 'dnd', availabilityUntil: until });
  });

  it("other users' presence goes through the contract's visibility rules (single and batch)", async () => {
    const hidden = 'gen-hidden';
    const friend = 'gen-friend';
    const stranger = 'gen-stranger';
    await send('POST', '/users/me/heartbeat', { auth: token(hidden) });
    await fx.call('PUT', `/v1/sys/users/${hidden}/friends/${friend}`, token('sys-1', 'presence:sys'));
    await fx.call('PATCH', '/v1/me/presence', token(hidden), { visibility: 'friends' });
    expect((await send('GET', `/users/${hidden}/presence`, { auth: token(friend) })).body).toMatchObject({ is_online: true });
    const seenByStranger = (await send('GET', `/users/${hidden}/presence`, { auth: token(stranger) })).body;
    expect(seenByStranger).toMatchObject({ user_id: hidden, is_online: false, is_busy: false, busy_until: null });
    const batch = (await send('GET', `/users/presence?user_ids=${hidden},${friend}`, { auth: token(stranger) })).body;
    expect(batch).toEqual([seenByStranger]);
    // the owner sees themselves
    expect((await send('GET', '/users/me/status', { auth: token(hidden) })).body).toMatchObject({ is_online: true });
  });
});

// ---------------------------------------------------------------- the switch

describe('the compat switch: a facade switched off has no routes', () => {
  it.each([
    ['none', [] as const],
    ['all', undefined],
  ])('compat %s', async (setting, facadesOn) => {
    const calls: string[] = [];
    const gateway = new LocalGateway({
      httpPort: await freePort(),
      wsPort: await freePort(),
      verifyToken: async () => ({}),
      // no data store: every function answers who it is
      loadFunction: async (id) => async (event: { routeKey: string }) => {
        calls.push(`${id} ${event.routeKey}`);
        return { statusCode: 200, body: '{}' };
      },
      facades: facadesOn,
    });
    await gateway.start();
    try {
      const res = await fetch(`${gateway.httpUrl}/users/me/status`);
      const docs = (await (await fetch(`${gateway.httpUrl}/openapi.json`)).json()) as { paths: Record<string, unknown> };
      if (setting === 'none') {
        expect(res.status).toBe(404);
        expect(calls).toEqual([]);
        expect(docs.paths['/users/me/status']).toBeUndefined();
      } else {
        // no gateway authorizer: the request reaches the facade's function without a token
        expect(res.status).toBe(200);
        expect(calls).toEqual(['CompatGeneric GET /users/me/status']);
        expect(docs.paths['/users/me/status']).toBeDefined();
      }
      expect(docs.paths['/v1/me/presence']).toBeDefined();
    } finally {
      await gateway.stop();
    }
  });

  it('the facade answers its routes with the schemas the OpenAPI document publishes for them', async () => {
    const docs = (await (await fetch(`${fx.stack.httpUrl}/openapi.json`)).json()) as any;
    const op = docs.paths['/users/{user_id}/presence'].get;
    expect(op.tags).toEqual(['generic']);
    expect(op.operationId).toBe('CompatGeneric.GetUserPresence');
    await send('POST', '/users/me/heartbeat', { auth: token(JANE) });
    const ok = await send('GET', `/users/${JANE}/presence`, { auth: token(ME) });
    expect(problemWith(op.responses['200'].content['application/json'].schema, ok.body)).toBeNull();
    expect(problemWith(genericUserPresence, ok.body)).toBeNull();
    const missing = await send('GET', `/users/${NEVER}/presence`, { auth: token(ME) });
    expect(problemWith(op.responses['404'].content['application/json'].schema, missing.body)).toBeNull();
  });
});

// ---------------------------------------------------------------- WebSocket

/** A WebSocket opened at the documented connection URL, the host swapped for the local stack's; its messages as they come. */
async function openDocumented(auth: string, url: string = DOCUMENTED.wsConnection): Promise<{ ws: WebSocket; messages: any[] }> {
  const local = url.replace('wss://your-api-domain.com', fx.stack.wsUrl).replace('<access_token>', auth);
  const ws = new WebSocket(local);
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`handshake refused: ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
  return { ws, messages };
}

function closed(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    ws.once('close', () => resolve());
    ws.close();
  });
}

describe('WebSocket: the documented presence_update broadcasts', () => {
  it('a connection at /ws/presence?token= gets the changes of the users it follows (friends, subscriptions) in the documented format', async () => {
    const me = '5001';
    const friend = '5002';
    const followed = '5003';
    const stranger = '5004';
    await fx.call('PUT', `/v1/sys/users/${me}/friends/${friend}`, token('sys-1', 'presence:sys'));
    await fx.call('POST', '/v1/me/subscriptions', token(me), { userIds: [followed] });
    const { ws, messages } = await openDocumented(token(me));
    try {
      await send('PUT', '/users/me/status', { auth: token(friend), body: '{"is_online": true, "is_busy": true}' });
      await send('POST', '/users/me/heartbeat', { auth: token(followed) });
      await send('POST', '/users/me/heartbeat', { auth: token(stranger) });
      const ofFriend = await eventually(async () => messages.find((m) => m.data?.user_id === 5002 && m.data.is_busy));
      const ofFollowed = await eventually(async () => messages.find((m) => m.data?.user_id === 5003));
      for (const m of [ofFriend, ofFollowed]) {
        expect(Object.keys(m).sort()).toEqual(Object.keys(DOCUMENTED.wsMessage).sort());
        expect(m.type).toBe('presence_update');
        expectDocumentedShape(m.data, DOCUMENTED.wsMessage.data);
        expect(isIso(m.timestamp)).toBe(true);
        expect(isIso(m.data.last_seen)).toBe(true);
      }
      expect(ofFriend.data).toMatchObject({ user_id: 5002, is_online: true, is_busy: true });
      expect(ofFollowed.data).toMatchObject({ user_id: 5003, is_online: true, is_busy: false });
      // going offline through the facade is pushed too
      await send('PUT', '/users/me/status', { auth: token(friend), body: '{"is_online": false}' });
      await eventually(async () => messages.find((m) => m.data?.user_id === 5002 && !m.data.is_online));
      // a user it does not follow is never pushed, and nothing comes in the contract's format
      expect(messages.filter((m) => m.data?.user_id === 5004)).toEqual([]);
      expect(messages.filter((m) => m.type !== 'presence_update')).toEqual([]);
    } finally {
      await closed(ws);
    }
  });

  it('the format is per connection: the same user with a contract connection gets the same change in the contract format', async () => {
    const me = '5011';
    const other = '5012';
    await fx.call('POST', '/v1/me/subscriptions', token(me), { userIds: [other] });
    const generic = await openDocumented(token(me));
    const contract = await fx.client(me);
    // on AWS: the stage URL with ?format=generic
    const byQuery = await openDocumented(token(me), `${fx.stack.wsUrl}/?token=<access_token>&format=generic`);
    try {
      await send('PUT', '/users/me/status', { auth: token(other), body: '{"is_online": true}' });
      await eventually(async () => contract.pushes().find(isPushOf(other, (p) => p.status === 'online')));
      for (const c of [generic, byQuery]) {
        const m = await eventually(async () => c.messages.find((x) => x.data?.user_id === 5012));
        expect(m).toMatchObject({ type: 'presence_update', data: { user_id: 5012, is_online: true, is_busy: false } });
      }
      expect(contract.messages.filter((m) => m.type === 'presence_update')).toEqual([]);
    } finally {
      await Promise.all([closed(generic.ws), closed(byQuery.ws)]);
    }
  });

  it('visibility applies to the pushes as to every read: a user hidden from the connection is pushed as offline', async () => {
    const me = '5021';
    const other = '5022';
    await fx.call('POST', '/v1/me/subscriptions', token(me), { userIds: [other] });
    const { ws, messages } = await openDocumented(token(me));
    try {
      await send('PUT', '/users/me/status', { auth: token(other), body: '{"is_online": true, "is_busy": true}' });
      await eventually(async () => messages.find((x) => x.data?.user_id === 5022 && x.data.is_online && x.data.is_busy));
      await fx.call('PATCH', '/v1/me/presence', token(other), { visibility: 'nobody' });
      const m = await eventually(async () => messages.find((x) => x.data?.user_id === 5022 && !x.data.is_online));
      expect(m.data).toMatchObject({ is_online: false, is_busy: false });
      // still online and busy to themselves
      expect((await send('GET', '/users/me/status', { auth: token(other) })).body).toMatchObject({ is_online: true, is_busy: true });
    } finally {
      await closed(ws);
    }
  });

  it('an unknown format is refused at the handshake (400)', async () => {
    await expect(openDocumented(token('5031'), `${fx.stack.wsUrl}/?token=<access_token>&format=nope`)).rejects.toMatchObject({ status: 400 });
  });
});
