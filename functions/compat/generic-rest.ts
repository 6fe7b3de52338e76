/**
 * The generic REST presence API facade (lib/routes.ts facade `generic`,
 * docs/compat.md): one Lambda for all its routes. Each endpoint verifies the
 * caller, reads its input, calls functions/commons/operations.ts and
 * answers through the pure translations of generic-model.ts; every error is
 * `{"detail": "..."}`.
 */
import { facades, SCOPES } from '../../lib/routes.ts';
import { callerOr401, type Endpoint, FacadeError, type FacadeRequest, facadeHandler, facadeNamed, isUserId, ok, parseJsonBody } from '../commons/facade.ts';
import { heartbeat, ownRecord, presenceFor, sweep, updateStatus } from '../commons/operations.ts';
import { validate } from '../core/validate.ts';
import { genericStatusBody } from '../core/validators.generated.js';
import {
  cleanupSummary,
  HEARTBEAT_RECEIVED,
  hasRecord,
  GENERIC_MESSAGES as M,
  parseUserIds,
  planStatusUpdate,
  type StatusUpdate,
  toUserPresence,
  toUserStatus,
} from './generic-model.ts';

/** The device `is_online: true` and the heartbeat keep live: the contract's HTTP heartbeat's default one. */
const HTTP_DEVICE = 'http';

/** The verified caller, or this API's 401. */
const callerOf = (req: FacadeRequest) => callerOr401(req, M.unauthorized, { 'www-authenticate': 'Bearer' });

const endpoints: Record<string, Endpoint> = {
  async GetMyStatus(req) {
    const { userId } = await callerOf(req);
    const record = await ownRecord(userId);
    if (!record) throw new FacadeError(404, M.statusNotFound);
    return ok(toUserStatus(userId, record));
  },

  async UpdateMyStatus(req) {
    const { userId } = await callerOf(req);
    const body = parseJsonBody(req.body, M.badJson) ?? {};
    const problem = validate(genericStatusBody, body, 'body');
    if (problem) throw new FacadeError(400, problem);
    const plan = planStatusUpdate(body as StatusUpdate, Date.now());
    if ('error' in plan) throw new FacadeError(400, plan.error);
    return ok(toUserStatus(userId, await updateStatus(userId, { ...plan, device: HTTP_DEVICE })));
  },

  async SendHeartbeat(req) {
    const { userId } = await callerOf(req);
    await heartbeat(userId, HTTP_DEVICE, 'http');
    return ok(HEARTBEAT_RECEIVED);
  },

  async GetUserPresence(req) {
    const { userId } = await callerOf(req);
    const target = req.params.user_id ?? '';
    // an id outside the contract's pattern names nobody
    if (!isUserId(target)) throw new FacadeError(404, M.statusNotFound);
    const [presence] = await presenceFor(userId, [target]);
    if (!presence || !hasRecord(presence)) throw new FacadeError(404, M.statusNotFound);
    return ok(toUserPresence(presence));
  },

  async GetUsersPresence(req) {
    const { userId } = await callerOf(req);
    const ids = parseUserIds(req.query.user_ids, isUserId);
    if (!Array.isArray(ids)) throw new FacadeError(400, ids.error);
    return ok((await presenceFor(userId, ids)).filter(hasRecord).map(toUserPresence));
  },

  async CleanupPresence(req) {
    const { scopes } = await callerOf(req);
    if (!scopes.includes(SCOPES.admin as string)) throw new FacadeError(403, M.forbidden);
    return ok(cleanupSummary(await sweep()));
  },
};

export const handler = facadeHandler(
  facadeNamed(facades, 'generic'),
  {
    errorBody: (_status, message) => ({ detail: message }),
    internalMessage: M.internal,
    unavailableMessage: M.unavailable,
    bodyTooLarge: M.bodyTooLarge,
  },
  endpoints,
);
