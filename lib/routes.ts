/**
 * THE route table: every HTTP route, WebSocket route and background worker,
 * with its handler module and what it may touch. Read by the CDK stack (one
 * Lambda per entry, grants derived from `access`) and by the local gateway
 * (same handler modules), so the local stack cannot drift from the deployed one.
 */
/**
 * Who may call a route: users (no scope), back ends and cloud functions
 * (`sys`), operators (`admin`), or an app's own back end reading across the
 * app (`app`: e.g. the account-wide online list, and compatibility facades'
 * app tokens).
 */
export type Auth = 'user' | 'sys' | 'admin' | 'app';

/** Tag every function of the stack carries (value: its route/worker id), so tests, ops and the local stack can tell them from CDK helpers. */
export const FUNCTION_TAG = 'presence:function';

/**
 * A DynamoDB action a function makes on a table: an item action on the
 * table itself, or `QueryIndex` for Query on its indexes (table/index/*).
 */
export type TableAction = 'GetItem' | 'BatchGetItem' | 'Query' | 'QueryIndex' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'BatchWriteItem';

/**
 * What a function may touch: exactly the actions its code makes on each
 * table (least privilege per function; the local stack enforces these from
 * the template, and the test run reports any grant no call used).
 */
export interface Access {
  presence?: readonly TableAction[];
  graph?: readonly TableAction[];
  /**
   * may call the WebSocket @connections management API: `true` = POST
   * (PostToConnection), or the HTTP methods by name (GET = GetConnection)
   */
  connections?: true | readonly ConnectionsMethod[];
}

// What the store's operations need, named once (functions/commons/store.ts):
/** mutateUser: a consistent read, then a conditional write of the whole state */
const MUTATE = ['GetItem', 'PutItem'] as const;
/** every WebSocket message: touchDevice (one UpdateItem), or the full path when it cannot apply */
const TOUCH = ['UpdateItem', ...MUTATE] as const;
/** PATCH: quickPatch (one conditional UpdateItem), or the full path when it cannot apply */
const PATCH = ['UpdateItem', ...MUTATE] as const;
/** getUserStates: presence of many users (presenceFor, fan-out recipients) */
const READ_MANY = ['BatchGetItem'] as const;
/** friendsOf / relationsOf / allSubscriptions / groupMembers / countListeners / removeListeners: Queries on the table */
const GRAPH_QUERY = ['Query'] as const;
/** the lease a cap is checked under: a conditional put, then a delete */
const LEASE = ['PutItem', 'DeleteItem'] as const;
/** subscribe: the cap's lease, what is held, the writes */
const SUBSCRIBE_GRAPH = [...GRAPH_QUERY, ...LEASE, 'BatchWriteItem'] as const;
/** one sweep (operations.sweep: the sweeper, POST /v1/admin/cleanup-presence): due users rewritten, expired subscriptions deleted */
const SWEEP: Access = { presence: [...MUTATE, 'QueryIndex'], graph: ['QueryIndex', 'DeleteItem'] };
/** a connection gone (410 during a fan-out, $disconnect): its state and its listeners */
const DISCONNECT = { presence: MUTATE, graph: [...GRAPH_QUERY, 'BatchWriteItem'] } as const;

export interface HttpRoute {
  id: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  /** handler module, relative to the repository root; exports `handler` */
  entry: string;
  auth: Auth;
  /** further classes whose scope opens the route too (the token needs one of the route's scopes: routeScopes) */
  alsoAuth?: readonly Auth[];
  access: Access;
}

export type ConnectionsMethod = 'POST' | 'GET' | 'DELETE';

/** The @connections methods an Access allows. */
export const connectionsMethods = (access: Access): readonly ConnectionsMethod[] => (access.connections === true ? ['POST'] : (access.connections ?? []));

export interface WsRoute {
  id: string;
  routeKey: string;
  entry: string;
  access: Access;
  /**
   * one-way route: no route response, so API Gateway sends the client nothing
   * back; the handler posts an answer through @connections only when one is due
   * (the heartbeat: only when the message carries a requestId, or is refused)
   */
  oneWay?: true;
}

/**
 * How WebSocket heartbeats keep a device live (CDK context `-c heartbeat=gateway`,
 * `npm start -- --heartbeat gateway`):
 * - `lambda` (default): the `heartbeat` route invokes a Lambda that extends the
 *   device with one write;
 * - `gateway`: the `heartbeat` route is an API Gateway MOCK integration (no
 *   Lambda, no write); a WebSocket device holds for its connection's life and
 *   the sweeper's liveness wheel asks API Gateway for each connection's
 *   `LastActiveAt` (GetConnection) once per timeout (functions/commons/liveness.ts).
 *   See docs/cost.md for why it is not the default.
 */
export type HeartbeatMode = 'lambda' | 'gateway';
export const HEARTBEAT_MODES: readonly HeartbeatMode[] = ['lambda', 'gateway'];
/** the route the `gateway` mode answers with a MOCK integration */
export const HEARTBEAT_ROUTE_KEY = 'heartbeat';

export interface Worker {
  id: string;
  entry: string;
  access: Access;
  /** X-Ray active tracing and Powertools Tracer when the stack is deployed with `-c tracing=on` (functions/commons/tracing.ts says why these) */
  traced?: true;
}

/**
 * Per-route HTTP throttling (requests/s, burst) on top of the stage default:
 * by authorization class, with the heavy user routes tighter still.
 */
export const ROUTE_THROTTLE: Record<Auth, { rateLimit: number; burstLimit: number } | null> = {
  user: null, // the stage default
  sys: { rateLimit: 500, burstLimit: 1000 },
  admin: { rateLimit: 1, burstLimit: 5 },
  app: { rateLimit: 50, burstLimit: 100 },
};
/** routes that write up to 100 items per call */
export const HEAVY_ROUTE_THROTTLE = { rateLimit: 200, burstLimit: 400 };
/** A route open to several classes is throttled as the loosest of them (the stage default if one has no throttle of its own). */
export const throttleFor = (route: Pick<HttpRoute, 'id' | 'auth' | 'alsoAuth'>) => {
  if (route.id === 'Subscribe' || route.id === 'Unsubscribe') return HEAVY_ROUTE_THROTTLE;
  const throttles = authClasses(route).map((a) => ROUTE_THROTTLE[a]);
  if (throttles.includes(null)) return null;
  return throttles.reduce((loosest, t) => ((t?.rateLimit ?? 0) > (loosest?.rateLimit ?? 0) ? t : loosest));
};

export const SCOPES: Record<Auth, string | null> = {
  user: null,
  sys: 'presence:sys',
  admin: 'presence:admin',
  app: 'presence:app',
};

/** Every class a route is open to. */
export const authClasses = (route: Pick<HttpRoute, 'auth' | 'alsoAuth'>): readonly Auth[] => [route.auth, ...(route.alsoAuth ?? [])];

/** The scopes of which a caller's token must carry one (none: any valid token); API Gateway's authorizationScopes. */
export const routeScopes = (route: Pick<HttpRoute, 'auth' | 'alsoAuth'>): string[] => authClasses(route).flatMap((a) => SCOPES[a] ?? []);

const h = (name: string) => `functions/http/${name}.ts`;
const w = (name: string) => `functions/ws/${name}.ts`;

export const httpRoutes: readonly HttpRoute[] = [
  // user
  { id: 'GetOwnPresence', method: 'GET', path: '/v1/me/presence', entry: h('get-own-presence'), auth: 'user', access: { presence: ['GetItem'] } },
  { id: 'PatchOwnPresence', method: 'PATCH', path: '/v1/me/presence', entry: h('patch-own-presence'), auth: 'user', access: { presence: PATCH } },
  { id: 'PushOwnPresence', method: 'POST', path: '/v1/me/presence/push', entry: h('push-presence'), auth: 'user', access: { presence: MUTATE } },
  { id: 'Heartbeat', method: 'POST', path: '/v1/me/heartbeat', entry: h('heartbeat'), auth: 'user', access: { presence: TOUCH } },
  { id: 'PutDevice', method: 'PUT', path: '/v1/me/devices/{device}', entry: h('put-device'), auth: 'user', access: { presence: MUTATE } },
  { id: 'DeleteDevice', method: 'DELETE', path: '/v1/me/devices/{device}', entry: h('delete-device'), auth: 'user', access: { presence: MUTATE } },
  {
    id: 'GetUserPresence',
    method: 'GET',
    path: '/v1/users/{userId}/presence',
    entry: h('get-user-presence'),
    auth: 'user',
    access: { presence: READ_MANY, graph: GRAPH_QUERY },
  },
  {
    id: 'GetPresenceBatch',
    method: 'GET',
    path: '/v1/presence',
    entry: h('get-presence-batch'),
    auth: 'user',
    access: { presence: READ_MANY, graph: GRAPH_QUERY },
  },
  {
    id: 'Subscribe',
    method: 'POST',
    path: '/v1/me/subscriptions',
    entry: h('subscribe'),
    auth: 'user',
    access: { presence: READ_MANY, graph: SUBSCRIBE_GRAPH },
  },
  { id: 'Unsubscribe', method: 'DELETE', path: '/v1/me/subscriptions', entry: h('unsubscribe'), auth: 'user', access: { graph: ['BatchWriteItem'] } },
  { id: 'ListSubscriptions', method: 'GET', path: '/v1/me/subscriptions', entry: h('list-subscriptions'), auth: 'user', access: { graph: GRAPH_QUERY } },
  { id: 'GetFriends', method: 'GET', path: '/v1/me/friends', entry: h('get-friends'), auth: 'user', access: { graph: GRAPH_QUERY } },
  {
    id: 'GetFriendsPresence',
    method: 'GET',
    path: '/v1/me/friends/presence',
    entry: h('get-friends-presence'),
    auth: 'user',
    access: { presence: READ_MANY, graph: GRAPH_QUERY },
  },
  {
    id: 'GetGroupPresence',
    method: 'GET',
    path: '/v1/groups/{groupId}/presence',
    entry: h('get-group-presence'),
    auth: 'user',
    access: { presence: READ_MANY, graph: ['GetItem', ...GRAPH_QUERY] },
  },
  // sys (cloud functions, IoT back ends)
  { id: 'SysPutPresence', method: 'PUT', path: '/v1/sys/users/{userId}/presence', entry: h('sys-put-presence'), auth: 'sys', access: { presence: MUTATE } },
  {
    id: 'SysExtendPresence',
    method: 'POST',
    path: '/v1/sys/users/{userId}/presence/extend',
    entry: h('sys-extend-presence'),
    auth: 'sys',
    access: { presence: MUTATE },
  },
  {
    id: 'SysDeletePresence',
    method: 'DELETE',
    path: '/v1/sys/users/{userId}/presence',
    entry: h('sys-delete-presence'),
    auth: 'sys',
    access: { presence: MUTATE },
  },
  {
    id: 'SysPutProfile',
    method: 'PUT',
    path: '/v1/sys/users/{userId}/profile',
    entry: h('sys-put-profile'),
    auth: 'sys',
    access: { presence: MUTATE },
  },
  {
    id: 'SysPutFriend',
    method: 'PUT',
    path: '/v1/sys/users/{userId}/friends/{friendId}',
    entry: h('sys-put-friend'),
    auth: 'sys',
    access: { presence: MUTATE, graph: ['GetItem', 'PutItem'] },
  },
  {
    id: 'SysDeleteFriend',
    method: 'DELETE',
    path: '/v1/sys/users/{userId}/friends/{friendId}',
    entry: h('sys-delete-friend'),
    auth: 'sys',
    access: { presence: MUTATE, graph: ['GetItem', 'DeleteItem'] },
  },
  {
    id: 'SysPutMember',
    method: 'PUT',
    path: '/v1/sys/groups/{groupId}/members/{userId}',
    entry: h('sys-put-member'),
    auth: 'sys',
    access: { graph: ['BatchWriteItem'] },
  },
  {
    id: 'SysDeleteMember',
    method: 'DELETE',
    path: '/v1/sys/groups/{groupId}/members/{userId}',
    entry: h('sys-delete-member'),
    auth: 'sys',
    access: { graph: ['BatchWriteItem', 'QueryIndex'] },
  },
  // admin
  {
    // the account-wide online list: operators, and an app's own back end
    id: 'GetOnlinePresence',
    method: 'GET',
    path: '/v1/admin/presence',
    entry: h('get-online-presence'),
    auth: 'admin',
    alsoAuth: ['app'],
    access: { presence: ['QueryIndex', ...READ_MANY] },
  },
  {
    id: 'AdminCleanup',
    method: 'POST',
    path: '/v1/admin/cleanup-presence',
    entry: h('admin-cleanup'),
    auth: 'admin',
    access: SWEEP,
  },
];

export const wsRoutes: readonly WsRoute[] = [
  { id: 'WsConnect', routeKey: '$connect', entry: w('connect'), access: { presence: MUTATE } },
  { id: 'WsDisconnect', routeKey: '$disconnect', entry: w('disconnect'), access: DISCONNECT },
  { id: 'WsDefault', routeKey: '$default', entry: w('default'), access: { presence: TOUCH } },
  // one-way: answered (through @connections) only when the heartbeat carries a requestId or is refused
  { id: 'WsHeartbeat', routeKey: HEARTBEAT_ROUTE_KEY, entry: w('heartbeat'), access: { presence: TOUCH, connections: true }, oneWay: true },
  { id: 'WsSetPresence', routeKey: 'setPresence', entry: w('set-presence'), access: { presence: TOUCH } },
  { id: 'WsGetPresence', routeKey: 'getPresence', entry: w('get-presence'), access: { presence: [...TOUCH, ...READ_MANY], graph: GRAPH_QUERY } },
  { id: 'WsSubscribe', routeKey: 'subscribe', entry: w('subscribe'), access: { presence: [...TOUCH, ...READ_MANY], graph: SUBSCRIBE_GRAPH } },
  { id: 'WsUnsubscribe', routeKey: 'unsubscribe', entry: w('unsubscribe'), access: { presence: TOUCH, graph: ['BatchWriteItem'] } },
  { id: 'WsListen', routeKey: 'listen', entry: w('listen'), access: { presence: [...TOUCH, ...READ_MANY], graph: [...SUBSCRIBE_GRAPH, 'GetItem'] } },
  { id: 'WsStopListening', routeKey: 'stopListening', entry: w('stop-listening'), access: { presence: TOUCH, graph: [...GRAPH_QUERY, 'BatchWriteItem'] } },
  { id: 'WsForcePush', routeKey: 'forcePush', entry: w('force-push'), access: { presence: TOUCH } },
];

export const workers = {
  wsAuthorizer: { id: 'WsAuthorizer', entry: 'functions/workers/ws-authorizer.ts', access: {} },
  // the audience and the last version pushed (Query, QueryIndex, memberships BatchGetItem), recording the version pushed
  // (Graph UpdateItem; the Presence table's legacy record: GetItem), recipients (BatchGetItem), a 410 Gone connection's cleanup (DISCONNECT)
  stream: {
    id: 'StreamFanout',
    entry: 'functions/workers/stream.ts',
    traced: true,
    access: { presence: [...DISCONNECT.presence, ...READ_MANY], graph: [...DISCONNECT.graph, 'QueryIndex', 'BatchGetItem', 'UpdateItem'], connections: true },
  },
  sweeper: { id: 'Sweeper', entry: 'functions/workers/sweeper.ts', access: SWEEP, traced: true },
  /** delivers chunks of large audiences (SQS; locally the local stack's SQS endpoint); a queued chunk reads the version pushed (Graph GetItem) */
  fanoutChunk: {
    id: 'FanoutChunk',
    entry: 'functions/workers/fanout-chunk.ts',
    traced: true,
    access: { presence: [...DISCONNECT.presence, ...READ_MANY], graph: [...DISCONNECT.graph, 'GetItem'], connections: true },
  },
  /** the sys operations for cloud functions in the account (IAM invoke, no HTTP) */
  sysInvoke: {
    id: 'SysInvoke',
    entry: 'functions/workers/sys-invoke.ts',
    access: { presence: MUTATE, graph: ['GetItem', 'PutItem', 'DeleteItem', 'BatchWriteItem', 'QueryIndex'] },
  },
} as const satisfies Record<string, Worker>;

/**
 * The sweeper's access in a heartbeat mode: in `gateway` mode it also reads
 * and writes the liveness wheel (Graph: Query the due buckets, BatchWriteItem
 * the entries that stay watched, GetItem/PutItem its cursor), asks API
 * Gateway about connections (GetConnection) and forgets gone ones (DISCONNECT).
 */
export const sweeperAccess = (mode: HeartbeatMode): Access =>
  mode === 'gateway'
    ? {
        ...SWEEP,
        // the wheel's buckets and cursor, a gone connection's listeners, and its lease (LEASE: PutItem, DeleteItem)
        graph: [...new Set<TableAction>([...(SWEEP.graph ?? []), ...DISCONNECT.graph, ...LEASE, 'GetItem'])],
        connections: ['GET'],
      }
    : SWEEP;

/** An HTTP route's access in a heartbeat mode: the admin cleanup runs one sweep, so it has the sweeper's. */
export const httpRouteAccess = (route: HttpRoute, mode: HeartbeatMode): Access => (route.access === SWEEP ? sweeperAccess(mode) : route.access);

/**
 * A WebSocket route's access in a heartbeat mode: in `gateway` mode a route
 * that may (re)add the connection's device also writes its liveness entry
 * (Graph BatchWriteItem; functions/commons/liveness.ts watchConnection). With
 * the generic facade's everyone-broadcast on, `$connect` also counts and
 * registers the connections that hear every change (Graph QueryIndex, PutItem).
 */
export const wsRouteAccess = (route: WsRoute, mode: HeartbeatMode, genericBroadcast = false): Access => {
  const extra: TableAction[] = [];
  if (mode === 'gateway' && route.routeKey !== '$disconnect') extra.push('BatchWriteItem');
  // the generic facade's everyone-broadcast: $connect counts the registered connections and registers this one
  if (genericBroadcast && route.routeKey === '$connect') extra.push('QueryIndex', 'PutItem');
  return extra.length > 0 ? { ...route.access, graph: [...new Set<TableAction>([...(route.access.graph ?? []), ...extra])] } : route.access;
};

// ---------------------------------------------------------------- compatibility facades

/**
 * A route of a compatibility facade (docs/compat.md): a path of another
 * presence API, served by the facade's one function. No API Gateway
 * authorizer guards it: the function verifies the bearer token itself
 * (functions/commons/facade.ts), so that a refused token is answered in the
 * facade's own error shape. `auth` is the throttle class (ROUTE_THROTTLE) and
 * the scope the function demands (SCOPES).
 */
export interface FacadeRoute {
  /** operation name, unique in its facade: the handler's endpoint of that name serves it (OpenAPI operationId `<facade id>.<name>`) */
  name: string;
  method: HttpRoute['method'];
  path: string;
  auth: Auth;
}

/**
 * A drop-in compatibility facade: ONE Lambda (`id`, handler module `entry`,
 * which dispatches on the event's routeKey to one small function per route)
 * serving every route of another API, on top of functions/commons/operations.ts
 * (no store of its own, no fan-out of its own). One function per facade, not
 * per route: each Lambda costs about 7 of CloudFormation's 500 resources.
 * Adding a facade is a module under functions/compat/ and an entry below.
 */
export interface Facade {
  /** its name in the switch: `cdk deploy -c compat=<names>`, `npm start -- --compat <names>` */
  name: string;
  /** the function id (FUNCTION_TAG, metrics, the local stack's IAM checks) */
  id: string;
  /** handler module, relative to the repository root; exports `handler` */
  entry: string;
  /** what the API is (the OpenAPI tag's description) */
  title: string;
  /**
   * what the operations it calls touch, one Access per operation (merged by
   * facadeAccess; SWEEP is the sweeper's, by heartbeat mode): exactly what its code makes
   */
  access: readonly Access[];
  routes: readonly FacadeRoute[];
  /**
   * the API's WebSocket, when it has one: its connections get pushes in `format`
   * (functions/compat/push-formats.ts). On AWS a client connects to the stage with
   * `?format=<format>`; the local gateway also takes `path` for it (docs/compat.md)
   */
  ws?: { path: string; format: string };
  /** path segments fixed per deployment: `{param}` in its paths becomes a literal (FacadeSegment) */
  segments?: readonly FacadeSegment[];
}

/**
 * A path segment one deployment fixes (e.g. Agora's `{org_name}`): at synth
 * time from CDK context `context`, locally (and in the function) from env
 * `env`, else `fallback`. The route table stays the single source: the stack,
 * the local gateway and the facade's handler all resolve it with facadeRoutes.
 */
export interface FacadeSegment {
  param: string;
  context: string;
  env: string;
  fallback: string;
}

/** presenceFor: the states (BatchGetItem) and the viewer's friends (Query) */
const PRESENCE_FOR: Access = { presence: READ_MANY, graph: GRAPH_QUERY };

const c = (name: string) => `functions/compat/${name}.ts`;

export const facades: readonly Facade[] = [
  {
    name: 'generic',
    id: 'CompatGeneric',
    entry: c('generic-rest'),
    title: 'Generic REST presence API (status, heartbeat, batch presence, admin cleanup): docs/compat.md',
    // ownRecord (GetItem), updateStatus (MUTATE), heartbeat (TOUCH), presenceFor, sweep
    access: [{ presence: ['GetItem'] }, { presence: MUTATE }, { presence: TOUCH }, PRESENCE_FOR, SWEEP],
    routes: [
      { name: 'GetMyStatus', method: 'GET', path: '/users/me/status', auth: 'user' },
      { name: 'UpdateMyStatus', method: 'PUT', path: '/users/me/status', auth: 'user' },
      { name: 'SendHeartbeat', method: 'POST', path: '/users/me/heartbeat', auth: 'user' },
      { name: 'GetUserPresence', method: 'GET', path: '/users/{user_id}/presence', auth: 'user' },
      { name: 'GetUsersPresence', method: 'GET', path: '/users/presence', auth: 'user' },
      { name: 'CleanupPresence', method: 'POST', path: '/admin/cleanup-presence', auth: 'admin' },
    ],
    ws: { path: '/ws/presence', format: 'generic' },
  },
  {
    name: 'ringcentral',
    id: 'CompatRingCentral',
    entry: c('ringcentral'),
    title: "RingCentral's presence API (Get/Update User Status, Get Users Presence Statuses): docs/compat.md",
    // ownPresence (GetItem), presenceFor, updateStatus (MUTATE), onlinePresence (QueryIndex, BatchGetItem)
    access: [{ presence: ['GetItem'] }, PRESENCE_FOR, { presence: MUTATE }, { presence: ['QueryIndex', ...READ_MANY] }],
    routes: [
      { name: 'GetUserStatus', method: 'GET', path: '/restapi/v1.0/account/{accountId}/extension/{extensionId}/presence', auth: 'user' },
      { name: 'UpdateUserStatus', method: 'PUT', path: '/restapi/v1.0/account/{accountId}/extension/{extensionId}/presence', auth: 'user' },
      // presence:admin or presence:app (the online list's rule); throttled as the looser, app
      { name: 'GetUsersPresenceStatuses', method: 'GET', path: '/restapi/v1.0/account/{accountId}/presence', auth: 'app' },
    ],
  },
  {
    name: 'agora',
    id: 'CompatAgora',
    entry: c('agora-rest'),
    title: 'Agora Chat presence REST API (one org/app pair per stack): docs/compat.md',
    // updatePresence (PATCH), deleteDevice (MUTATE), presenceFor, subscribe, unsubscribe, listSubscriptions (Query)
    access: [{ presence: PATCH }, { presence: MUTATE }, PRESENCE_FOR, { presence: READ_MANY, graph: SUBSCRIBE_GRAPH }, { graph: ['BatchWriteItem'] }],
    segments: [
      { param: 'org_name', context: 'agoraOrg', env: 'AGORA_ORG', fallback: 'local' },
      { param: 'app_name', context: 'agoraApp', env: 'AGORA_APP', fallback: 'presence' },
    ],
    routes: [
      { name: 'SetStatus', method: 'POST', path: '/{org_name}/{app_name}/users/{uid}/presence/{resource}/{status}', auth: 'user' },
      { name: 'Subscribe', method: 'POST', path: '/{org_name}/{app_name}/users/{uid}/presence/{expiry}', auth: 'user' },
      { name: 'GetStatuses', method: 'POST', path: '/{org_name}/{app_name}/users/{uid}/presence', auth: 'user' },
      { name: 'Unsubscribe', method: 'DELETE', path: '/{org_name}/{app_name}/users/{uid}/presence', auth: 'user' },
      { name: 'SubList', method: 'GET', path: '/{org_name}/{app_name}/users/{uid}/presence/sublist', auth: 'user' },
    ],
  },
];

/** env name → value: what a deployment sets its facades' segments to (process.env locally and in the functions) */
export type SegmentValues = Readonly<Record<string, string | undefined>>;

const SEGMENT_VALUE = /^[A-Za-z0-9_.-]{1,64}$/;

/** A segment's literal in these values (its fallback when unset); one that is no plain path segment is an error. */
export function segmentValue(segment: FacadeSegment, values: SegmentValues): string {
  const value = values[segment.env]?.trim() || segment.fallback;
  if (!SEGMENT_VALUE.test(value)) throw new Error(`${segment.env} (${segment.context}) ${JSON.stringify(value)}: expected 1-64 of [A-Za-z0-9_.-]`);
  return value;
}

/** A facade route's path with its deployment's segments made literal. */
export const resolvePath = (facade: Facade, path: string, values: SegmentValues): string =>
  (facade.segments ?? []).reduce((p, s) => p.replace(`{${s.param}}`, segmentValue(s, values)), path);

/** A facade route with what the stack and the gateway need of it. */
export interface BoundFacadeRoute extends FacadeRoute {
  facade: Facade;
  /** `<facade id>.<name>` */
  id: string;
  /** `METHOD /path`, as API Gateway puts it in the event */
  routeKey: string;
}

/** Every route of these facades, deployment segments made literal from `values` (default: this process's env). */
export const facadeRoutes = (enabled: readonly Facade[] = facades, values: SegmentValues = process.env): BoundFacadeRoute[] =>
  enabled.flatMap((facade) =>
    facade.routes.map((r) => {
      const path = resolvePath(facade, r.path, values);
      return { ...r, path, facade, id: `${facade.id}.${r.name}`, routeKey: `${r.method} ${path}` };
    }),
  );

/** The env a facade's function needs for its segments (the stack sets it; the handler resolves its routes from it). */
export const segmentEnv = (facade: Facade, values: SegmentValues): Record<string, string> =>
  Object.fromEntries((facade.segments ?? []).map((s) => [s.env, segmentValue(s, values)]));

/** Actions of several Access, each once. */
export function mergeAccess(parts: readonly Access[]): Access {
  const out: Access = {};
  const union = (key: 'presence' | 'graph') => {
    const actions = [...new Set(parts.flatMap((p) => p[key] ?? []))];
    if (actions.length > 0) out[key] = actions;
  };
  union('presence');
  union('graph');
  const methods = [...new Set(parts.flatMap((p) => connectionsMethods(p)))];
  if (methods.length > 0) out.connections = methods.length === 1 && methods[0] === 'POST' ? true : methods;
  return out;
}

/** A facade's access in a heartbeat mode (a sweep it runs has the sweeper's access). */
export const facadeAccess = (facade: Facade, mode: HeartbeatMode = 'lambda'): Access =>
  mergeAccess(facade.access.map((a) => (a === SWEEP ? sweeperAccess(mode) : a)));

/** what `-c compat=none` / `--compat none` names: no facade */
export const COMPAT_NONE = 'none';

/**
 * The facades a compat setting turns on: unset, empty or `all` every facade,
 * `none` no facade, else the comma-separated names (an unknown name is an error).
 */
export function parseCompat(setting: string | undefined): Facade[] {
  const value = setting?.trim() ?? '';
  if (value === '' || value === 'all') return [...facades];
  if (value === COMPAT_NONE) return [];
  const names = value.split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !facades.some((f) => f.name === n));
  if (unknown.length > 0 || names.includes(''))
    throw new Error(`compat ${JSON.stringify(value)}: expected all, ${COMPAT_NONE} or a comma list of ${facades.map((f) => f.name).join(', ')}`);
  return facades.filter((f) => names.includes(f.name));
}

/** The compat setting that names exactly these facades (the inverse of parseCompat). */
export const compatSetting = (enabled: readonly Facade[]): string => (enabled.length === 0 ? COMPAT_NONE : enabled.map((f) => f.name).join(','));
