/**
 * The RingCentral presence facade (lib/routes.ts facade `ringcentral`,
 * docs/compat.md "RingCentral presence"): one Lambda for its three routes.
 * Each endpoint verifies the caller, reads its input, calls
 * functions/commons/operations.ts and answers through the pure translations
 * of ringcentral-model.ts; every error is RingCentral's
 * `{"errorCode", "message", "errors": [...]}`.
 */
import { facades, SCOPES } from '../../lib/routes.ts';
import {
  type Caller,
  callerOr401,
  type Endpoint,
  FacadeError,
  type FacadeRequest,
  facadeHandler,
  facadeNamed,
  isUserId,
  ok,
  parseJsonBody,
  type TokenFault,
} from '../commons/facade.ts';
import { onlinePresence, ownPresence, presenceFor, updateStatus } from '../commons/operations.ts';
import { validate } from '../core/validate.ts';
import { rcAccountPresenceQuery, rcPresenceBody } from '../core/validators.generated.js';
import { hasRecord } from './generic-model.ts';
import {
  RC_MESSAGES as M,
  ME,
  originOf,
  parameter,
  parameterOf,
  parsePaging,
  planRcUpdate,
  RC_CODES,
  type RcPresenceUpdate,
  rcErrorBody,
  rcTokenRefusal,
  readPage,
  targetOf,
  toAccountPresence,
  toRcPresence,
} from './ringcentral-model.ts';

/** This API's 401 for why the token was refused (RFC 6750's WWW-Authenticate, the error guide's code and message). */
const refused = (fault: TokenFault) => {
  const { code, message } = rcTokenRefusal(fault);
  return new FacadeError(401, message, { 'www-authenticate': 'Bearer' }, { code });
};

/** The verified caller, or this API's 401. */
const callerOf = (req: FacadeRequest) => callerOr401(req, refused);

/** 404 CMN-102 for the parameter that names nothing. */
const notFound = (name: string) => new FacadeError(404, M.notFound(name), {}, parameter(name));
/** 400 CMN-101 for the parameter a problem is about. */
const invalid = (name: string) => new FacadeError(400, M.invalid(name), {}, parameter(name));

/** A failed validation (its errors) as RingCentral's 400: CMN-101 naming the field, or CMN-104 when the whole body is wrong. */
function refuse(errors: Parameters<typeof parameterOf>[0]): never {
  const name = parameterOf(errors);
  throw name ? invalid(name) : new FacadeError(400, M.badRequest, {}, { code: RC_CODES.badRequest });
}

const originOfReq = (req: FacadeRequest) => originOf(req.event.headers ?? {}, req.event.requestContext?.domainName);
const has = (scopes: string[], ...wanted: (string | null)[]) => wanted.some((s) => s !== null && scopes.includes(s));

/** The service has one account: `~` names it; any other accountId names nothing. */
function checkAccount(req: FacadeRequest): void {
  if (req.params.accountId !== ME) throw notFound('accountId');
}

/** The user `{extensionId}` names (`~`: the caller); an id outside the contract's pattern names nobody. */
function targetUser(req: FacadeRequest, caller: Caller): string {
  checkAccount(req);
  const target = targetOf(req.params.extensionId ?? '', caller.userId);
  if (!isUserId(target)) throw notFound('extensionId');
  return target;
}

const endpoints: Record<string, Endpoint> = {
  async GetUserStatus(req) {
    const caller = await callerOf(req);
    const target = targetUser(req, caller);
    if (target === caller.userId) return ok(toRcPresence(await ownPresence(target), originOfReq(req)));
    const [presence] = await presenceFor(caller.userId, [target]);
    // a user never seen (or hidden and never shown) is no extension
    if (!presence || !hasRecord(presence)) throw notFound('extensionId');
    return ok(toRcPresence(presence, originOfReq(req)));
  },

  async UpdateUserStatus(req) {
    const caller = await callerOf(req);
    const target = targetUser(req, caller);
    if (target !== caller.userId && !has(caller.scopes, SCOPES.sys)) throw new FacadeError(403, M.forbiddenOther, {}, { code: RC_CODES.otherExtension });
    const body = parseJsonBody(req.body, M.badJson, { code: RC_CODES.badJson }) ?? {};
    if (validate(rcPresenceBody, body, 'body')) refuse(rcPresenceBody.errors);
    const plan = planRcUpdate(body as RcPresenceUpdate);
    if ('error' in plan) throw invalid(plan.parameter);
    const record = await updateStatus(target, plan);
    return ok(toRcPresence(record.presence, originOfReq(req)));
  },

  async GetUsersPresenceStatuses(req) {
    const caller = await callerOf(req);
    if (!has(caller.scopes, SCOPES.admin, SCOPES.app)) throw new FacadeError(403, M.forbiddenList, {}, { code: RC_CODES.adminOnly });
    checkAccount(req);
    if (validate(rcAccountPresenceQuery, req.query, 'query')) refuse(rcAccountPresenceQuery.errors);
    const paging = parsePaging(req.query);
    if ('error' in paging) throw invalid(paging.parameter);
    const { records, more } = await readPage(onlinePresence, paging.page, paging.perPage);
    return ok(toAccountPresence(originOfReq(req), paging.page, paging.perPage, records, more));
  },
};

export const handler = facadeHandler(
  facadeNamed(facades, 'ringcentral'),
  {
    errorBody: rcErrorBody,
    messageOf: (error) => (error.code === 'rate_limited' ? M.rateExceeded : error.message),
    internalMessage: M.internal,
    unavailableMessage: M.unavailable,
    bodyTooLarge: M.bodyTooLarge,
  },
  endpoints,
);
