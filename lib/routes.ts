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

export const SCOPES: Record<Auth, string | null> = {
  user: null,
  sys: 'presence:sys',
  admin: 'presence:admin',
};

const h = (name: string) => `functions/http/${name}.ts`;
const w = (name: string) => `functions/ws/${name}.ts`;

export const httpRoutes: readonly HttpRoute[] = [
  { id: 'GetOwnPresence', method: 'GET', path: '/v1/me/presence', entry: h('get-own-presence'), auth: 'user', access: { presence: 'read' } },
  { id: 'PatchOwnPresence', method: 'PATCH', path: '/v1/me/presence', entry: h('patch-own-presence'), auth: 'user', access: { presence: 'write' } },
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
  { id: 'WsDisconnect', routeKey: '$disconnect', entry: w('disconnect'), access: { presence: 'write' } },
  { id: 'WsDefault', routeKey: '$default', entry: w('default'), access: { presence: 'write' } },
  { id: 'WsHeartbeat', routeKey: 'heartbeat', entry: w('heartbeat'), access: { presence: 'write' } },
  { id: 'WsSetPresence', routeKey: 'setPresence', entry: w('set-presence'), access: { presence: 'write' } },
  { id: 'WsGetPresence', routeKey: 'getPresence', entry: w('get-presence'), access: { presence: 'write', graph: 'read' } },
  { id: 'WsSubscribe', routeKey: 'subscribe', entry: w('subscribe'), access: { presence: 'write', graph: 'write' } },
  { id: 'WsUnsubscribe', routeKey: 'unsubscribe', entry: w('unsubscribe'), access: { presence: 'write', graph: 'write' } },
];

export const workers = {
  wsAuthorizer: { id: 'WsAuthorizer', entry: 'functions/workers/ws-authorizer.ts', access: {} },
  stream: { id: 'StreamFanout', entry: 'functions/workers/stream.ts', access: { presence: 'write', graph: 'read', connections: true } },
  sweeper: { id: 'Sweeper', entry: 'functions/workers/sweeper.ts', access: { presence: 'write', graph: 'write' } },
} as const satisfies Record<string, Worker>;
