/**
 * The smoke suite's checks: the core of the contract (docs/api.md),
 * each a named check that passes or fails on its own, with what it sets up
 * undone when it ends (`defer`), whatever the outcome. They are cheap enough
 * for a real deployment: a few hundred requests in all, on fresh users,
 * groups and devices; the only limits triggered are a user's own (its
 * WebSocket message rate, its change budget), never a stage's or an
 * account's.
 *
 * No timing is asserted: waits for pushes are generous (PUSH_WAIT_MS) and
 * only bound how long a missing push takes to fail.
 */
import type { Reply, Socket } from './client.ts';
import type { Identities, Identity } from './tokens.ts';

/** how long a push may take to arrive before its check fails (the local stack takes ~0.1 s, API Gateway + Lambda ~1 s) */
export const PUSH_WAIT_MS = 20_000;

export interface Ctx {
  who: Identities;
  /** fresh ids of this run: a sys-only device owner, a group */
  ids: { iot: string; group: string };
  /** an HTTP call as `as` (an identity, a raw token string, or nobody) */
  http(method: string, path: string, as?: Identity | string, body?: unknown): Promise<Reply>;
  /** a WebSocket as `as` (null: no token), closed when the check ends */
  open(as: Identity | null, device?: string): Promise<Socket>;
  /** runs `undo` when the check ends, pass or fail (last registered, first run) */
  defer(undo: () => Promise<unknown>): void;
}

export interface Check {
  name: string;
  run(ctx: Ctx): Promise<void>;
}

// ---- assertions (no test framework: a failed one throws, and the check fails with its message) ----

const show = (v: unknown) => JSON.stringify(v)?.slice(0, 400);

function ensure(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function status(res: Reply, expected: number, what: string): any {
  ensure(res.status === expected, `${what}: expected HTTP ${expected}, got ${res.status} ${show(res.body)}`);
  return res.body;
}

const ERROR_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  429: 'rate_limited',
};

/** The contract's error body: exactly `{"error": <the status's code>, "message": <text>}`. */
function contractError(res: Reply, expected: number, what: string): void {
  status(res, expected, what);
  const body = res.body;
  const keys = body && typeof body === 'object' ? Object.keys(body).sort() : [];
  ensure(
    show(keys) === show(['error', 'message']) && body.error === ERROR_CODES[expected] && typeof body.message === 'string' && body.message !== '',
    `${what}: expected {"error":"${ERROR_CODES[expected]}","message":"…"}, got ${show(body)}`,
  );
}

/**
 * 401/403 decided by the gateway: on AWS the HTTP API's JWT authorizer
 * answers them itself with `{"message":"Unauthorized"|"Forbidden"}` (it
 * cannot be customized; README, "Where this differs from the contract"), the
 * local stack with the contract's body. Either is accepted, nothing else.
 */
function authError(res: Reply, expected: 401 | 403, what: string): void {
  const gateway = expected === 401 ? 'Unauthorized' : 'Forbidden';
  if (res.status === expected && show(res.body) === show({ message: gateway })) return;
  contractError(res, expected, what);
}

/** What a viewer who may not see a user gets: exactly an offline user. */
function looksOffline(p: any, what: string): void {
  ensure(
    p?.status === 'offline' && Array.isArray(p.devices) && p.devices.length === 0 && p.customStatus === null && p.activity === null,
    `${what}: expected an offline presence with no devices, customStatus or activity, got ${show(p)}`,
  );
}

const isPushOf =
  (userId: string, pred: (p: any) => boolean = () => true) =>
  (m: any) =>
    m.type === 'presence' && m.data?.userId === userId && pred(m.data);
/** waits for a push that shows `userId` with `status`, received at index >= `from` */
const pushed = (socket: Socket, userId: string, status: string, from: number) =>
  socket.waitFor(
    `push of ${userId} ${status}`,
    isPushOf(userId, (p) => p.status === status),
    PUSH_WAIT_MS,
    from,
  );
const response = (reply: any, what: string): any => {
  ensure(reply.type === 'response', `${what}: expected a response, got ${show(reply)}`);
  return reply.data;
};
const errorReply = (reply: any, code: string, what: string): void =>
  ensure(reply.type === 'error' && reply.error === code && typeof reply.message === 'string', `${what}: expected an error reply "${code}", got ${show(reply)}`);
const subscribedIds = async (ctx: Ctx, as: Identity): Promise<string[]> =>
  (status(await ctx.http('GET', '/v1/me/subscriptions?limit=500', as), 200, 'GET /v1/me/subscriptions').subscriptions as { userId: string }[]).map(
    (s) => s.userId,
  );
const presenceOf = async (ctx: Ctx, as: Identity, userId: string): Promise<any> =>
  status(await ctx.http('GET', `/v1/users/${encodeURIComponent(userId)}/presence`, as), 200, `GET presence of ${userId}`);
const befriend = async (ctx: Ctx, a: Identity, b: Identity): Promise<void> => {
  const path = `/v1/sys/users/${encodeURIComponent(a.userId)}/friends/${encodeURIComponent(b.userId)}`;
  ctx.defer(async () => status(await ctx.http('DELETE', path, ctx.who.sys), 200, 'DELETE friendship (sys)'));
  status(await ctx.http('PUT', path, ctx.who.sys), 200, 'PUT friendship (sys)');
};
const setVisibility = async (ctx: Ctx, as: Identity, visibility: 'friends' | 'nobody'): Promise<void> => {
  ctx.defer(async () => status(await ctx.http('PATCH', '/v1/me/presence', as, { visibility: 'everyone' }), 200, 'PATCH visibility back to everyone'));
  status(await ctx.http('PATCH', '/v1/me/presence', as, { visibility }), 200, `PATCH visibility ${visibility}`);
};
const unsubscribeLater = (ctx: Ctx, as: Identity, userIds: string[]) =>
  ctx.defer(async () => status(await ctx.http('DELETE', '/v1/me/subscriptions', as, { userIds }), 200, 'DELETE /v1/me/subscriptions'));
const hundredAndOne = (prefix: string) => Array.from({ length: 101 }, (_, i) => `${prefix}-${i}`);

/** A subscribes to B (the reply names B and carries B's presence), GET lists it; unsubscribed, GET no longer does. */
async function subscribeRoundTrip(ctx: Ctx, over: string, calls: { subscribe(): Promise<any>; unsubscribe(): Promise<unknown> }): Promise<void> {
  const { a, b } = ctx.who;
  unsubscribeLater(ctx, a, [b.userId]);
  const sub = await calls.subscribe();
  ensure(sub.subscribed?.[0]?.userId === b.userId && typeof sub.subscribed[0].expiresAt === 'string', `subscribed: ${show(sub)}`);
  ensure(sub.presence?.[0]?.userId === b.userId, `the reply carries the target's presence: ${show(sub.presence)}`);
  ensure((await subscribedIds(ctx, a)).includes(b.userId), `GET /v1/me/subscriptions does not list the subscription made over ${over}`);
  await calls.unsubscribe();
  ensure(!(await subscribedIds(ctx, a)).includes(b.userId), `GET /v1/me/subscriptions still lists it after unsubscribing over ${over}`);
}

export const checks: Check[] = [
  {
    name: 'auth: HTTP without a token (or with a garbage one) → 401',
    async run(ctx) {
      authError(await ctx.http('GET', '/v1/me/presence'), 401, 'GET /v1/me/presence without a token');
      authError(await ctx.http('GET', '/v1/me/presence', 'not.a.token'), 401, 'GET /v1/me/presence with a garbage token');
    },
  },
  {
    name: 'auth: sys and admin routes with a user token → 403, nothing done',
    async run(ctx) {
      const { a, sys } = ctx.who;
      const path = `/v1/sys/users/${encodeURIComponent(ctx.ids.iot)}/presence`;
      authError(await ctx.http('PUT', path, a, { expiresIn: 60 }), 403, 'PUT sys presence with a user token');
      authError(await ctx.http('POST', '/v1/admin/cleanup-presence', a), 403, 'POST admin cleanup with a user token');
      authError(await ctx.http('POST', '/v1/admin/cleanup-presence', sys), 403, 'POST admin cleanup with a sys token');
      const p = await presenceOf(ctx, a, ctx.ids.iot);
      ensure(p.status === 'offline' && p.version === 0, `the refused sys call changed ${ctx.ids.iot}: ${show(p)}`);
    },
  },
  {
    name: 'auth: WebSocket handshake without a token → 401',
    async run(ctx) {
      const refused = await ctx.open(null).then(
        () => undefined,
        (err: unknown) => err,
      );
      ensure(refused !== undefined, 'the handshake without a token was accepted');
      ensure((refused as { status?: number }).status === 401, `expected the handshake refused with 401, got ${String(refused)}`);
    },
  },
  {
    name: 'websocket: connect makes a live device; heartbeat; closing removes it',
    async run(ctx) {
      const { a } = ctx.who;
      const ws = await ctx.open(a, 'smoke-ws');
      const beat = response(await ws.request('heartbeat'), 'heartbeat');
      ensure(beat.device === 'smoke-ws' && typeof beat.expiresAt === 'string', `heartbeat reply: ${show(beat)}`);
      const me = status(await ctx.http('GET', '/v1/me/presence', a), 200, 'GET /v1/me/presence');
      ensure(me.status === 'online' && me.devices.some((d: any) => d.device === 'smoke-ws'), `own presence while connected: ${show(me)}`);
      await ws.close();
      // $disconnect removes the device at once (polled: the close reaches the server asynchronously)
      const deadline = Date.now() + PUSH_WAIT_MS;
      let after = me;
      while (Date.now() < deadline && after.status !== 'offline') {
        await new Promise((r) => setTimeout(r, 250));
        after = status(await ctx.http('GET', '/v1/me/presence', a), 200, 'GET /v1/me/presence');
      }
      ensure(after.status === 'offline' && after.devices.length === 0, `own presence after closing: ${show(after)}`);
    },
  },
  {
    name: 'subscribe over HTTP (POST, GET, DELETE /v1/me/subscriptions)',
    async run(ctx) {
      const { a, b } = ctx.who;
      await subscribeRoundTrip(ctx, 'HTTP', {
        subscribe: async () => status(await ctx.http('POST', '/v1/me/subscriptions', a, { userIds: [b.userId], expiresIn: 600 }), 200, 'POST subscriptions'),
        unsubscribe: async () => status(await ctx.http('DELETE', '/v1/me/subscriptions', a, { userIds: [b.userId] }), 200, 'DELETE subscriptions'),
      });
    },
  },
  {
    name: 'subscribe over WebSocket (subscribe, unsubscribe)',
    async run(ctx) {
      const { a, b } = ctx.who;
      const ws = await ctx.open(a, 'smoke-sub');
      await subscribeRoundTrip(ctx, 'WebSocket', {
        subscribe: async () => response(await ws.request('subscribe', { userIds: [b.userId], expiresIn: 600 }), 'subscribe'),
        unsubscribe: async () => response(await ws.request('unsubscribe', { userIds: [b.userId] }), 'unsubscribe'),
      });
    },
  },
  {
    name: 'pushes: online → busy → offline reach a subscriber in version order',
    async run(ctx) {
      const { a, b } = ctx.who;
      unsubscribeLater(ctx, a, [b.userId]);
      const watcher = await ctx.open(a, 'smoke-watch');
      response(await watcher.request('subscribe', { userIds: [b.userId], expiresIn: 600 }), 'subscribe');
      const from = watcher.received.length;
      const bob = await ctx.open(b, 'smoke-laptop');
      await pushed(watcher, b.userId, 'online', from);
      response(await bob.request('setPresence', { status: 'busy', customStatus: 'smoke test' }), 'setPresence busy');
      await watcher.waitFor(
        'push of busy',
        isPushOf(b.userId, (p) => p.status === 'busy' && p.customStatus === 'smoke test'),
        PUSH_WAIT_MS,
        from,
      );
      await bob.close();
      await pushed(watcher, b.userId, 'offline', from);
      const pushes = watcher.received.slice(from).filter(isPushOf(b.userId));
      const versions = pushes.map((m) => m.data.version as number);
      ensure(
        versions.every((v, i) => i === 0 || v > versions[i - 1]!),
        `versions not increasing in arrival order: ${show(pushes.map((m) => [m.data.status, m.data.version]))}`,
      );
      const statuses = pushes.map((m) => m.data.status as string);
      const at = ['online', 'busy', 'offline'].map((s) => statuses.indexOf(s));
      ensure(at[0]! < at[1]! && at[1]! < at[2]!, `pushes out of order: ${show(statuses)}`);
      ensure(
        pushes.every((m) => typeof m.timestamp === 'string'),
        'a push has no timestamp',
      );
    },
  },
  {
    name: 'privacy: visibility friends → offline to a stranger, real to a friend (friendship via sys routes)',
    async run(ctx) {
      const { a, b, c } = ctx.who;
      await befriend(ctx, a, b);
      await setVisibility(ctx, b, 'friends');
      await ctx.open(b, 'smoke-private');
      looksOffline(await presenceOf(ctx, c, b.userId), 'a stranger reading a friends-only user (HTTP)');
      const strangerWs = await ctx.open(c, 'smoke-stranger');
      const got = response(await strangerWs.request('getPresence', { userIds: [b.userId] }), 'getPresence');
      looksOffline(got.presence?.[0], 'a stranger reading a friends-only user (WebSocket)');
      const byFriend = await presenceOf(ctx, a, b.userId);
      ensure(
        byFriend.status === 'online' && byFriend.devices.some((d: any) => d.device === 'smoke-private'),
        `a friend reading a friends-only user: ${show(byFriend)}`,
      );
      const friends = status(await ctx.http('GET', '/v1/me/friends', a), 200, 'GET /v1/me/friends');
      ensure(friends.friends?.includes(b.userId), `GET /v1/me/friends: ${show(friends)}`);
      const mutual = status(await ctx.http('GET', '/v1/me/friends', b), 200, 'GET /v1/me/friends');
      ensure(mutual.friends?.includes(a.userId), `friendship is not mutual: ${show(mutual)}`);
    },
  },
  {
    name: 'privacy: visibility nobody → offline to friends too, real to the user',
    async run(ctx) {
      const { a, b } = ctx.who;
      await befriend(ctx, a, b);
      await setVisibility(ctx, b, 'nobody');
      await ctx.open(b, 'smoke-hidden');
      looksOffline(await presenceOf(ctx, a, b.userId), 'a friend reading a nobody user');
      const own = status(await ctx.http('GET', '/v1/me/presence', b), 200, 'GET /v1/me/presence');
      ensure(own.status === 'online' && own.visibility === 'nobody', `a hidden user's own presence: ${show(own)}`);
    },
  },
  {
    name: 'groups: membership via sys routes; members read the group, others get 403',
    async run(ctx) {
      const { a, b, c, sys } = ctx.who;
      for (const member of [a, b]) {
        const path = `/v1/sys/groups/${encodeURIComponent(ctx.ids.group)}/members/${encodeURIComponent(member.userId)}`;
        ctx.defer(async () => status(await ctx.http('DELETE', path, sys), 200, 'DELETE membership (sys)'));
        const put = status(await ctx.http('PUT', path, sys), 200, 'PUT membership (sys)');
        ensure(put.ok === true, `PUT membership answered ${show(put)}`);
      }
      const path = `/v1/groups/${encodeURIComponent(ctx.ids.group)}/presence?includeOffline=true&limit=50`;
      const page = status(await ctx.http('GET', path, a), 200, 'GET group presence as a member');
      const members = (page.presence as any[]).map((p) => p.userId).sort();
      ensure(show(members) === show([a.userId, b.userId].sort()), `group members: ${show(members)}`);
      contractError(await ctx.http('GET', path, c), 403, 'GET group presence as a non-member');
    },
  },
  {
    name: 'sys presence: PUT, extend, DELETE /v1/sys/users/{userId}/presence (pushed to a subscriber)',
    async run(ctx) {
      const { a, sys } = ctx.who;
      const iot = ctx.ids.iot;
      const path = `/v1/sys/users/${encodeURIComponent(iot)}/presence`;
      unsubscribeLater(ctx, a, [iot]);
      const watcher = await ctx.open(a, 'smoke-iot-watch');
      response(await watcher.request('subscribe', { userIds: [iot], expiresIn: 600 }), 'subscribe');
      const from = watcher.received.length;
      ctx.defer(async () => ensure([200, 404].includes((await ctx.http('DELETE', path, sys)).status), 'DELETE sys presence (cleanup)'));
      const put = status(await ctx.http('PUT', path, sys, { expiresIn: 300, status: 'online', activity: { smoke: true } }), 200, 'PUT sys presence');
      ensure(put.userId === iot && put.status === 'online', `PUT sys presence answered ${show(put)}`);
      const seen = await presenceOf(ctx, a, iot);
      ensure(seen.status === 'online' && seen.activity?.smoke === true, `a user reading the device owner: ${show(seen)}`);
      await pushed(watcher, iot, 'online', from);
      status(await ctx.http('POST', `${path}/extend`, sys, { expiresIn: 600 }), 200, 'POST extend');
      const ended = status(await ctx.http('DELETE', path, sys), 200, 'DELETE sys presence');
      ensure(ended.status === 'offline', `DELETE sys presence answered ${show(ended)}`);
      await pushed(watcher, iot, 'offline', from);
      contractError(await ctx.http('POST', `${path}/extend`, sys, { expiresIn: 600 }), 404, 'POST extend without a live sys device');
    },
  },
  {
    name: 'admin: POST /v1/admin/cleanup-presence with the admin scope',
    async run(ctx) {
      const swept = status(await ctx.http('POST', '/v1/admin/cleanup-presence', ctx.who.admin), 200, 'POST /v1/admin/cleanup-presence');
      for (const key of ['usersMarkedOffline', 'devicesExpired', 'availabilityCleared', 'subscriptionsExpired'])
        ensure(typeof swept[key] === 'number', `cleanup reply lacks ${key}: ${show(swept)}`);
    },
  },
  {
    name: 'limits: 101 userIds → 400 (HTTP and WebSocket), nothing subscribed',
    async run(ctx) {
      const { a } = ctx.who;
      const ids = hundredAndOne(`${ctx.ids.group}-x`);
      contractError(await ctx.http('GET', `/v1/presence?userIds=${ids.join(',')}`, a), 400, 'GET /v1/presence with 101 userIds');
      contractError(await ctx.http('POST', '/v1/me/subscriptions', a, { userIds: ids }), 400, 'POST /v1/me/subscriptions with 101 userIds');
      const subscribed = await subscribedIds(ctx, a);
      ensure(!ids.some((id) => subscribed.includes(id)), 'a refused subscribe call subscribed someone');
      const ws = await ctx.open(a, 'smoke-limits');
      errorReply(await ws.request('getPresence', { userIds: ids }), 'bad_request', 'getPresence with 101 userIds');
      const ok = status(await ctx.http('GET', `/v1/presence?userIds=${ids.slice(0, 100).join(',')}`, a), 200, 'GET /v1/presence with 100 userIds');
      ensure(ok.presence?.length === 100 && ok.presence[99].userId === ids[99], 'GET /v1/presence with 100 userIds: not 100 presences in request order');
    },
  },
  {
    name: 'limits: HTTP body over 64 KB → 413',
    async run(ctx) {
      const body = JSON.stringify({ customStatus: 'x'.repeat(70_000) });
      contractError(await ctx.http('PATCH', '/v1/me/presence', ctx.who.a, body), 413, 'PATCH /v1/me/presence with a 70 KB body');
    },
  },
  {
    name: 'limits: WebSocket message over 32 KB → payload_too_large, connection kept',
    async run(ctx) {
      const ws = await ctx.open(ctx.who.a, 'smoke-big');
      // 40 KB in two frames (API Gateway closes the connection on a single frame over 32 KB)
      errorReply(await ws.request('setPresence', { customStatus: 'x'.repeat(40_000) }), 'payload_too_large', '40 KB message');
      ensure(ws.isOpen, 'the connection was closed');
      response(await ws.request('heartbeat'), 'heartbeat after the refused message');
    },
  },
  {
    name: '4xx bodies: bad input → 400 {"error","message"}, state unchanged (customStatus > 64 chars, bad JSON, empty PATCH, bad userId)',
    async run(ctx) {
      const { a } = ctx.who;
      // what these requests would change (devices and version may move meanwhile: an earlier check's socket closing)
      const settings = (p: any) => show([p.customStatus, p.activity, p.availability, p.availabilityUntil, p.visibility]);
      const before = settings(status(await ctx.http('GET', '/v1/me/presence', a), 200, 'GET /v1/me/presence'));
      contractError(await ctx.http('PATCH', '/v1/me/presence', a, { customStatus: 'x'.repeat(65) }), 400, 'PATCH customStatus of 65 chars');
      contractError(await ctx.http('PATCH', '/v1/me/presence', a, '{not json'), 400, 'PATCH with bad JSON');
      contractError(await ctx.http('PATCH', '/v1/me/presence', a, {}), 400, 'PATCH with an empty body');
      contractError(await ctx.http('GET', '/v1/users/bad%20id/presence', a), 400, 'GET presence of an invalid userId');
      const after = settings(status(await ctx.http('GET', '/v1/me/presence', a), 200, 'GET /v1/me/presence'));
      ensure(after === before, `a refused request changed state: ${before} → ${after}`);
      const ws = await ctx.open(a, 'smoke-bad');
      ws.sendText('not json');
      errorReply(await ws.waitFor('error reply to bad JSON', (m) => m.type === 'error', PUSH_WAIT_MS), 'bad_request', 'bad JSON over WebSocket');
      errorReply(await ws.request('noSuchAction'), 'bad_request', 'unknown action');
      ensure(ws.isOpen, 'the connection was closed after bad messages');
    },
  },
  {
    name: 'limits: WebSocket message rate (100 per 10 s per connection) → rate_limited, connection kept',
    async run(ctx) {
      const { c } = ctx.who;
      const ws = await ctx.open(c, 'smoke-rate');
      // in batches of 10 until refused: 205 messages over at most two windows put more than 100 in one of them
      const replies: any[] = [];
      while (replies.length < 205 && !replies.some((r) => r.error === 'rate_limited'))
        replies.push(...(await Promise.all(Array.from({ length: 10 }, () => ws.request('getPresence', { userIds: [c.userId] }, PUSH_WAIT_MS)))));
      const limited = replies.filter((r) => r.type === 'error' && r.error === 'rate_limited');
      ensure(limited.length > 0, `${replies.length} messages, none refused: ${show(replies.slice(-2))}`);
      ensure(replies.filter((r) => r.type === 'response').length >= 100, 'fewer than 100 messages got through before the first refusal');
      ensure(typeof limited[0].message === 'string', `rate_limited reply: ${show(limited[0])}`);
      ensure(ws.isOpen, 'the connection was closed');
    },
  },
  {
    name: "limits: a user's change budget (60 per 60 s) → 429 rate_limited with Retry-After, nothing written",
    async run(ctx) {
      // the stranger's budget: the last check that changes its presence (its window lasts a minute)
      const { c } = ctx.who;
      let refused: Reply | undefined;
      let lastAccepted: string | null = null;
      // until refused: 125 changes over at most two (clock-aligned) windows put more than 60 in one of them
      for (let i = 0; i < 125 && !refused; i++) {
        const res = await ctx.http('PATCH', '/v1/me/presence', c, { customStatus: `change ${i}` });
        if (res.status === 429) refused = res;
        else lastAccepted = status(res, 200, `PATCH #${i + 1}`).customStatus;
      }
      ensure(refused, '125 changes within two windows and none refused');
      contractError(refused, 429, 'the refused PATCH');
      const retryAfter = Number(refused.headers.get('retry-after'));
      ensure(Number.isInteger(retryAfter) && retryAfter > 0, `Retry-After: ${refused.headers.get('retry-after')}`);
      const own = status(await ctx.http('GET', '/v1/me/presence', c), 200, 'GET /v1/me/presence');
      ensure(own.customStatus === lastAccepted, `the refused change was written: ${own.customStatus} (last accepted: ${lastAccepted})`);
    },
  },
  {
    name: 'cleanup: nothing this run set up is left (subscriptions, friendships, memberships, sys presence, visibility)',
    async run(ctx) {
      const { a, b, c } = ctx.who;
      for (const user of [a, b, c]) {
        const subs = await subscribedIds(ctx, user);
        ensure(subs.length === 0, `${user.name} still subscribes to ${show(subs)}`);
        const friends = status(await ctx.http('GET', '/v1/me/friends', user), 200, 'GET /v1/me/friends').friends;
        ensure(friends.length === 0, `${user.name} still has friends ${show(friends)}`);
        const own = status(await ctx.http('GET', '/v1/me/presence', user), 200, 'GET /v1/me/presence');
        ensure(own.visibility === 'everyone', `${user.name} is left with visibility ${own.visibility}`);
      }
      contractError(
        await ctx.http('GET', `/v1/groups/${encodeURIComponent(ctx.ids.group)}/presence`, a),
        403,
        'GET group presence after the memberships were removed',
      );
      const iot = await presenceOf(ctx, a, ctx.ids.iot);
      ensure(iot.status === 'offline' && iot.devices.length === 0, `the sys device is left: ${show(iot)}`);
    },
  },
];
