/**
 * THE route table: every HTTP route, WebSocket route and background worker,
 * with its handler module and what it may touch. Read by the CDK stack (one
 * Lambda per entry, grants derived from `access`) and by the local gateway
 * (same handler modules), so the local stack cannot drift from the deployed one.
 */
export type Auth = 'user' | 'sys' | 'admin';

export interface Access {
  presence?: 'read' | 'write';
  graph?: 'read' | 'write';
  /** may call the WebSocket @connections management API */
  connections?: boolean;
}

export interface HttpRoute {
  id: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  /** handler module, relative to the repository root; exports `handler` */
  entry: string;
  auth: Auth;
  access: Access;
}

export interface WsRoute {
  id: string;
  routeKey: string;
  entry: string;
  access: Access;
}

export interface Worker {
  id: string;
  entry: string;
  access: Access;
}

/**
 * Per-route HTTP throttling (requests/s, burst) on top of the stage default:
 * by authorization class, with the heavy user routes tighter still.
 */
export const ROUTE_THROTTLE: Record<Auth, { rateLimit: number; burstLimit: number } | null> = {
  user: null, // the stage default
  sys: { rateLimit: 500, burstLimit: 1000 },
  admin: { rateLimit: 1, burstLimit: 5 },
};
/** routes that write up to 100 items per call */
export const HEAVY_ROUTE_THROTTLE = { rateLimit: 200, burstLimit: 400 };
export const throttleFor = (route: HttpRoute) => (route.id === 'Subscribe' || route.id === 'Unsubscribe' ? HEAVY_ROUTE_THROTTLE : ROUTE_THROTTLE[route.auth]);

export const SCOPES: Record<Auth, string | null> = {
  user: null,
  sys: 'presence:sys',
  admin: 'presence:admin',
};

const h = (name: string) => `functions/http/${name}.ts`;
const w = (name: string) => `functions/ws/${name}.ts`;

export const httpRoutes: readonly HttpRoute[] = [
  // user
  { id: 'GetOwnPresence', method: 'GET', path: '/v1/me/presence', entry: h('get-own-presence'), auth: 'user', access: { presence: 'read' } },
  { id: 'PatchOwnPresence', method: 'PATCH', path: '/v1/me/presence', entry: h('patch-own-presence'), auth: 'user', access: { presence: 'write' } },
  { id: 'PushOwnPresence', method: 'POST', path: '/v1/me/presence/push', entry: h('push-presence'), auth: 'user', access: { presence: 'write' } },
  { id: 'Heartbeat', method: 'POST', path: '/v1/me/heartbeat', entry: h('heartbeat'), auth: 'user', access: { presence: 'write' } },
  { id: 'PutDevice', method: 'PUT', path: '/v1/me/devices/{device}', entry: h('put-device'), auth: 'user', access: { presence: 'write' } },
  { id: 'DeleteDevice', method: 'DELETE', path: '/v1/me/devices/{device}', entry: h('delete-device'), auth: 'user', access: { presence: 'write' } },
  {
    id: 'GetUserPresence',
    method: 'GET',
    path: '/v1/users/{userId}/presence',
    entry: h('get-user-presence'),
    auth: 'user',
    access: { presence: 'read', graph: 'read' },
  },
  { id: 'GetPresenceBatch', method: 'GET', path: '/v1/presence', entry: h('get-presence-batch'), auth: 'user', access: { presence: 'read', graph: 'read' } },
  { id: 'Subscribe', method: 'POST', path: '/v1/me/subscriptions', entry: h('subscribe'), auth: 'user', access: { presence: 'read', graph: 'write' } },
  { id: 'Unsubscribe', method: 'DELETE', path: '/v1/me/subscriptions', entry: h('unsubscribe'), auth: 'user', access: { graph: 'write' } },
  { id: 'ListSubscriptions', method: 'GET', path: '/v1/me/subscriptions', entry: h('list-subscriptions'), auth: 'user', access: { graph: 'read' } },
  { id: 'GetFriends', method: 'GET', path: '/v1/me/friends', entry: h('get-friends'), auth: 'user', access: { graph: 'read' } },
  {
    id: 'GetFriendsPresence',
    method: 'GET',
    path: '/v1/me/friends/presence',
    entry: h('get-friends-presence'),
    auth: 'user',
    access: { presence: 'read', graph: 'read' },
  },
  {
    id: 'GetGroupPresence',
    method: 'GET',
    path: '/v1/groups/{groupId}/presence',
    entry: h('get-group-presence'),
    auth: 'user',
    access: { presence: 'read', graph: 'read' },
  },
  // sys (cloud functions, IoT back ends)
  { id: 'SysPutPresence', method: 'PUT', path: '/v1/sys/users/{userId}/presence', entry: h('sys-put-presence'), auth: 'sys', access: { presence: 'write' } },
  {
    id: 'SysExtendPresence',
    method: 'POST',
    path: '/v1/sys/users/{userId}/presence/extend',
    entry: h('sys-extend-presence'),
    auth: 'sys',
    access: { presence: 'write' },
  },
  {
    id: 'SysDeletePresence',
    method: 'DELETE',
    path: '/v1/sys/users/{userId}/presence',
    entry: h('sys-delete-presence'),
    auth: 'sys',
    access: { presence: 'write' },
  },
  {
    id: 'SysPutFriend',
    method: 'PUT',
    path: '/v1/sys/users/{userId}/friends/{friendId}',
    entry: h('sys-put-friend'),
    auth: 'sys',
    access: { presence: 'write', graph: 'write' },
  },
  {
    id: 'SysDeleteFriend',
    method: 'DELETE',
    path: '/v1/sys/users/{userId}/friends/{friendId}',
    entry: h('sys-delete-friend'),
    auth: 'sys',
    access: { presence: 'write', graph: 'write' },
  },
  { id: 'SysPutMember', method: 'PUT', path: '/v1/sys/groups/{groupId}/members/{userId}', entry: h('sys-put-member'), auth: 'sys', access: { graph: 'write' } },
  {
    id: 'SysDeleteMember',
    method: 'DELETE',
    path: '/v1/sys/groups/{groupId}/members/{userId}',
    entry: h('sys-delete-member'),
    auth: 'sys',
    access: { graph: 'write' },
  },
  // admin
  {
    id: 'AdminCleanup',
    method: 'POST',
    path: '/v1/admin/cleanup-presence',
    entry: h('admin-cleanup'),
    auth: 'admin',
    access: { presence: 'write', graph: 'write' },
  },
];

export const wsRoutes: readonly WsRoute[] = [
  { id: 'WsConnect', routeKey: '$connect', entry: w('connect'), access: { presence: 'write' } },
  { id: 'WsDisconnect', routeKey: '$disconnect', entry: w('disconnect'), access: { presence: 'write', graph: 'write' } },
  { id: 'WsDefault', routeKey: '$default', entry: w('default'), access: { presence: 'write' } },
  { id: 'WsHeartbeat', routeKey: 'heartbeat', entry: w('heartbeat'), access: { presence: 'write' } },
  { id: 'WsSetPresence', routeKey: 'setPresence', entry: w('set-presence'), access: { presence: 'write' } },
  { id: 'WsGetPresence', routeKey: 'getPresence', entry: w('get-presence'), access: { presence: 'write', graph: 'read' } },
  { id: 'WsSubscribe', routeKey: 'subscribe', entry: w('subscribe'), access: { presence: 'write', graph: 'write' } },
  { id: 'WsUnsubscribe', routeKey: 'unsubscribe', entry: w('unsubscribe'), access: { presence: 'write', graph: 'write' } },
  { id: 'WsListen', routeKey: 'listen', entry: w('listen'), access: { presence: 'write', graph: 'write' } },
  { id: 'WsStopListening', routeKey: 'stopListening', entry: w('stop-listening'), access: { presence: 'write', graph: 'write' } },
  { id: 'WsForcePush', routeKey: 'forcePush', entry: w('force-push'), access: { presence: 'write' } },
];

export const workers = {
  wsAuthorizer: { id: 'WsAuthorizer', entry: 'functions/workers/ws-authorizer.ts', access: {} },
  // 410 Gone cleanup removes the connection's listeners too, hence graph write
  stream: { id: 'StreamFanout', entry: 'functions/workers/stream.ts', access: { presence: 'write', graph: 'write', connections: true } },
  sweeper: { id: 'Sweeper', entry: 'functions/workers/sweeper.ts', access: { presence: 'write', graph: 'write' } },
  /** delivers chunks of large audiences (SQS on AWS, an in-process queue locally) */
  fanoutChunk: { id: 'FanoutChunk', entry: 'functions/workers/fanout-chunk.ts', access: { presence: 'write', graph: 'write', connections: true } },
  /** the sys operations for cloud functions in the account (IAM invoke, no HTTP) */
  sysInvoke: { id: 'SysInvoke', entry: 'functions/workers/sys-invoke.ts', access: { presence: 'write', graph: 'write' } },
} as const satisfies Record<string, Worker>;
