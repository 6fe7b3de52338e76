/**
 * OpenAPI 3.1 (HTTP) and AsyncAPI 3.0 (WebSocket) documents, generated from
 * the route table and the same JSON Schemas the handlers validate with
 * (functions/core/schemas.ts) and answer with (functions/core/response-schemas.ts).
 * The local stack serves them at /openapi.json and /asyncapi.json.
 */

import * as agora from '../functions/compat/agora-schemas.ts';
import * as generic from '../functions/compat/generic-schemas.ts';
import { PUSH_FORMATS } from '../functions/compat/push-formats.ts';
import * as rc from '../functions/compat/ringcentral-schemas.ts';
import * as res from '../functions/core/response-schemas.ts';
import * as req from '../functions/core/schemas.ts';
import type { Schema } from '../functions/core/validate.ts';
import { type BoundFacadeRoute, type Facade, facadeRoutes, facades, type HttpRoute, httpRoutes, routeScopes, wsRoutes } from './routes.ts';

interface RouteDoc {
  summary: string;
  body?: Schema;
  query?: Schema;
  response: Schema;
}

/** What each HTTP route takes and answers (the request schemas are the handlers' own). */
export const ROUTE_DOCS: Record<string, RouteDoc> = {
  GetOwnPresence: { summary: 'Own presence, with visibility and availability', response: res.ownPresence },
  PatchOwnPresence: { summary: 'Set availability (+ until), customStatus, activity, visibility', body: req.patchPresenceBody, response: res.ownPresence },
  PushOwnPresence: { summary: 'Force-push current presence to subscribers and listeners', response: res.presence },
  Heartbeat: { summary: 'Keep a device live for the presence timeout', body: req.heartbeatBody, response: res.heartbeatResult },
  PutDevice: { summary: 'Set a device status/ext (offline removes it); counts as a heartbeat', body: req.putDeviceBody, response: res.ownPresence },
  DeleteDevice: { summary: 'Remove a device', response: res.ownPresence },
  GetUserPresence: { summary: "One user's presence as the caller may see it", response: res.presence },
  GetPresenceBatch: { summary: 'Up to 100 users, in request order', query: req.batchPresenceQuery, response: res.presenceList },
  Subscribe: { summary: 'Subscribe (cap 3000: evicted / rejected)', body: req.subscribeBody, response: res.subscribeResult },
  Unsubscribe: { summary: 'Unsubscribe', body: req.unsubscribeBody, response: res.unsubscribeResult },
  ListSubscriptions: { summary: 'Unexpired subscriptions, paged', query: req.listSubscriptionsQuery, response: res.subscriptionPage },
  GetFriends: { summary: 'My friends', response: res.friendsResult },
  GetFriendsPresence: { summary: "My friends' presence", query: req.friendsPresenceQuery, response: res.presenceList },
  GetGroupPresence: { summary: "A group's presence (members only)", query: req.groupPresenceQuery, response: res.presenceList },
  SysPutPresence: { summary: 'SysInitializePresence', body: req.sysPresenceBody, response: res.presence },
  SysExtendPresence: { summary: 'SysExtendPxExpiry (404 without a live sys device)', body: req.sysExtendBody, response: res.presence },
  SysDeletePresence: { summary: 'SysTerminatePresence', query: req.sysTerminateQuery, response: res.presence },
  SysPutProfile: { summary: 'Set (replace) the display name and picture shown with presence', body: req.sysProfileBody, response: res.presence },
  SysPutFriend: { summary: 'Mutual friendship, both directions', response: res.okResult },
  SysDeleteFriend: { summary: 'End a friendship, both directions', response: res.okResult },
  SysPutMember: { summary: 'Add a group member', response: res.okResult },
  SysDeleteMember: { summary: 'Remove a group member', response: res.okResult },
  GetOnlinePresence: {
    summary: 'Users online across the app, as a stranger sees them, paged (scope presence:admin or presence:app)',
    query: req.onlinePresenceQuery,
    response: res.presenceList,
  },
  AdminCleanup: { summary: 'Run a sweep now', response: res.sweepCounts },
};

const PARAMS: Record<string, Schema> = { userId: req.userId, friendId: req.userId, groupId: req.groupId, device: req.device };
const json = (schema: Schema) => ({ 'application/json': { schema } });
const errors = Object.fromEntries(
  [
    ['400', 'Bad request'],
    ['401', 'Missing or invalid token'],
    ['403', 'Missing scope (or not a group member)'],
    ['404', 'Not found'],
    ['413', 'Body too large'],
    ['429', 'Throttled'],
    ['503', 'Data store unavailable: retry'],
  ].map(([code, description]) => [code, { description, content: json(res.errorBody) }]),
);

/** The operation object of a route: its path parameters (schemas by name), query parameters, scope, body and responses. */
function operationOf(
  route: { id: string; path: string; auth: HttpRoute['auth'] },
  doc: RouteDoc,
  paramSchemas: Record<string, Schema>,
  responses: Record<string, unknown>,
  bodyRequired: boolean,
) {
  const params = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: paramSchemas[m[1] as string] }));
  const query = Object.entries(doc.query?.properties ?? {}).map(([name, schema]) => ({
    name,
    in: 'query',
    required: (doc.query?.required ?? []).includes(name),
    schema,
  }));
  return {
    operationId: route.id,
    summary: doc.summary,
    // OpenAPI: the scopes listed in one requirement are all needed, so one requirement per scope (any one opens the route)
    security: routeScopes(route).length ? routeScopes(route).map((scope) => ({ bearer: [scope] })) : [{ bearer: [] }],
    ...(params.length || query.length ? { parameters: [...params, ...query] } : {}),
    ...(doc.body ? { requestBody: { required: bodyRequired, content: json(doc.body) } } : {}),
    responses: { '200': { description: 'OK', content: json(doc.response) }, ...responses },
  };
}

function operation(route: HttpRoute) {
  const doc = ROUTE_DOCS[route.id];
  if (!doc) throw new Error(`no API documentation for route ${route.id}`);
  return operationOf(route, doc, PARAMS, errors, route.id !== 'Heartbeat');
}

/** What a compatibility facade's routes take and answer (docs/compat.md), by route name; its error body; its path parameters. */
interface FacadeDoc {
  errorBody: Schema;
  params: Record<string, Schema>;
  /** the statuses its routes may answer with an error, and when */
  errors: Record<string, string>;
  routes: Record<string, RouteDoc & { errors?: readonly string[] }>;
}

const userIdsQuery: Schema = {
  type: 'object',
  properties: { user_ids: { type: 'string', description: `comma-separated user IDs, at most ${generic.GENERIC_MAX_USER_IDS}` } },
  required: ['user_ids'],
};

export const FACADE_DOCS: Record<string, FacadeDoc> = {
  CompatGeneric: {
    errorBody: generic.genericError,
    params: { user_id: req.userId },
    errors: {
      '400': 'No status fields to update; Too many user IDs requested; a field of the wrong type',
      '401': 'Invalid or expired token',
      '403': 'Not enough permissions (the admin route needs presence:admin)',
      '404': 'User status not found',
      '413': 'Body too large',
      '429': 'Too many changes (the per-user change budget)',
      '503': 'Data store unavailable: retry',
    },
    routes: {
      GetMyStatus: { summary: 'My status record', response: generic.genericUserStatus, errors: ['401', '404', '503'] },
      UpdateMyStatus: {
        summary: 'Set is_online / is_busy / busy_until (one change, pushed)',
        body: generic.genericStatusBody,
        response: generic.genericUserStatus,
        errors: ['400', '401', '413', '429', '503'],
      },
      SendHeartbeat: { summary: 'Keep me online (the HTTP device live)', response: generic.genericMessage, errors: ['401', '429', '503'] },
      GetUserPresence: { summary: "One user's presence, as the caller may see it", response: generic.genericUserPresence, errors: ['401', '404', '503'] },
      GetUsersPresence: {
        summary: `Up to ${generic.GENERIC_MAX_USER_IDS} users (those without a status record left out)`,
        query: userIdsQuery,
        response: generic.genericPresenceList,
        errors: ['400', '401', '503'],
      },
      CleanupPresence: { summary: 'Run a sweep now (presence:admin)', response: generic.genericCleanup, errors: ['401', '403', '503'] },
    },
  },
  CompatRingCentral: {
    errorBody: rc.rcError,
    params: {
      accountId: { type: 'string', const: '~', description: 'the account: `~` (the service has one)' },
      extensionId: { type: 'string', description: 'our user id, or `~` for the caller' },
    },
    errors: {
      '400':
        'CMN-101 (with parameterName): a parameter or body field is invalid (department dndStatus values are not supported); CMN-103: the body is not JSON; CMN-104: the body is not an object',
      '401': 'OAU-134: no Authorization header; OAU-149: not a JWT; OAU-128: expired; OAU-129: not ours (signature, issuer, audience)',
      '403': 'CMN-404: another extension without presence:sys; CMN-402: the account list without presence:admin or presence:app',
      '404': 'CMN-102 (with parameterName): accountId other than ~; an extension never seen',
      '413': 'CMN-101: body too large',
      '429': 'CMN-301: request rate exceeded (the per-user change budget)',
      '503': 'CMN-201: data store unavailable, retry',
    },
    routes: {
      GetUserStatus: { summary: "An extension's presence (visibility applied)", response: rc.rcPresence, errors: ['401', '404', '503'] },
      UpdateUserStatus: {
        summary: 'Set userStatus / dndStatus / message / allowSeeMyPresence (one change, pushed)',
        body: rc.rcPresenceBody,
        response: rc.rcPresence,
        errors: ['400', '401', '403', '404', '413', '429', '503'],
      },
      GetUsersPresenceStatuses: {
        summary: 'The account-wide online list by page (presence:admin or presence:app)',
        query: rc.rcAccountPresenceQuery,
        response: rc.rcAccountPresence,
        errors: ['400', '401', '403', '404', '503'],
      },
    },
  },
  CompatAgora: {
    errorBody: agora.agoraErrorBody,
    params: {
      org_name: { type: 'string' },
      app_name: { type: 'string' },
      uid: req.userId,
      resource: req.device,
      status: { type: 'string', description: '0 offline, 1 online, or a custom status (at most 64 bytes)' },
      expiry: { type: 'string', description: 'seconds, 1 to 2592000 (30 days)' },
    },
    errors: {
      '400': 'illegal_argument: a bad path parameter, body or query; json_parse: the body is not JSON',
      '401': 'unauthorized: no or an expired token; auth_bad_access_token: not a JWT, or not ours',
      '403': 'forbidden_op: a user token acting on another uid (an app token, presence:app, may act on any)',
      '413': 'Request Entity Too Large: body too large',
      '429': 'reach_limit: too many changes (the per-user change budget)',
      '503': 'Data store unavailable: retry',
    },
    routes: {
      SetStatus: { summary: "Set a resource's (device's) status and the user's ext", body: agora.agoraExtBody, response: agora.agoraOk },
      Subscribe: { summary: 'Subscribe to up to 100 users for {expiry} seconds', body: agora.agoraUsernamesBody, response: agora.agoraSubscribedList },
      GetStatuses: { summary: 'Presence of up to 100 users, as uid may see them', body: agora.agoraUsernamesBody, response: agora.agoraPresenceList },
      Unsubscribe: { summary: 'Unsubscribe from up to 100 users', body: agora.agoraUnsubscribeBody, response: agora.agoraOk },
      SubList: { summary: "A page of uid's subscriptions", query: agora.agoraPageQuery, response: agora.agoraSubList },
    },
  },
};

function facadeOperation(route: BoundFacadeRoute) {
  const docs = FACADE_DOCS[route.facade.id];
  const doc = docs?.routes[route.name];
  if (!docs || !doc) throw new Error(`no API documentation for facade route ${route.id}`);
  const errorResponses = Object.fromEntries(
    (doc.errors ?? Object.keys(docs.errors)).map((code) => [code, { description: docs.errors[code], content: json(docs.errorBody) }]),
  );
  return { ...operationOf(route, doc, docs.params, errorResponses, false), tags: [route.facade.name] };
}

/** The HTTP API's document: the contract's routes and those of the compatibility facades deployed (tagged by facade). */
export function openApiDocument(serverUrl = 'http://127.0.0.1:3000', enabled: readonly Facade[] = facades) {
  const paths: Record<string, Record<string, unknown>> = {};
  const add = (path: string, method: string, op: unknown) => {
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[method.toLowerCase()] = op;
  };
  for (const route of httpRoutes) add(route.path, route.method, { ...operation(route), tags: ['presence'] });
  for (const route of facadeRoutes(enabled)) add(route.path, route.method, facadeOperation(route));
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Presence API',
      version: '1.0.0',
      description: 'HTTP routes of the presence contract (docs/api.md) and of the compatibility facades (docs/compat.md).',
    },
    servers: [{ url: serverUrl }],
    tags: [
      { name: 'presence', description: 'The presence contract: docs/api.md' },
      ...enabled.map((f) => ({ name: f.name, description: `Compatibility facade: ${f.title}` })),
    ],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths,
  };
}

export function asyncApiDocument(serverUrl = 'ws://127.0.0.1:3001') {
  const actions = wsRoutes.filter((r) => !r.routeKey.startsWith('$')).map((r) => r.routeKey);
  const clientMessages = Object.fromEntries(actions.map((a) => [a, { name: a, payload: req.wsSchemas[a] }]));
  const serverMessages = {
    response: { name: 'response', payload: res.wsResponse },
    error: { name: 'error', payload: res.wsError },
    presence: { name: 'presence', payload: res.wsPush },
  };
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Presence WebSocket API',
      version: '1.0.0',
      description:
        'Connect with ?token=<JWT>&device=<device>; every message gets a response or an error, except a heartbeat without requestId (unanswered; in the gateway heartbeat mode no heartbeat is answered). Contract: docs/api.md.',
    },
    servers: { local: { host: serverUrl.replace(/^ws:\/\//, ''), protocol: 'ws' } },
    channels: {
      presence: {
        address: '/',
        messages: { ...clientMessages, ...serverMessages },
        bindings: {
          ws: {
            query: {
              type: 'object',
              properties: {
                token: { type: 'string' },
                device: req.device,
                format: { enum: Object.keys(PUSH_FORMATS), description: "a compatibility facade's push format (docs/compat.md)" },
              },
              required: ['token'],
            },
          },
        },
      },
    },
    operations: {
      ...Object.fromEntries(
        actions.map((a) => [a, { action: 'send', channel: { $ref: '#/channels/presence' }, messages: [{ $ref: `#/channels/presence/messages/${a}` }] }]),
      ),
      receive: {
        action: 'receive',
        channel: { $ref: '#/channels/presence' },
        messages: Object.keys(serverMessages).map((m) => ({ $ref: `#/channels/presence/messages/${m}` })),
      },
    },
  };
}
