/**
 * The Agora Chat presence REST API facade (lib/routes.ts facade `agora`,
 * docs/compat.md "Agora Chat REST"): one Lambda for its five routes under
 * `/{org_name}/{app_name}/users/{uid}/presence…`, the org/app pair fixed per
 * stack (AGORA_ORG / AGORA_APP). Each endpoint verifies the caller (a user
 * token acts on its own uid only, an app token, scope presence:app, on any),
 * reads its input, calls functions/commons/operations.ts and answers through
 * the pure translations of agora-model.ts; every error is Agora's REST error body.
 */
import { facades, SCOPES } from '../../lib/routes.ts';
import {
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
import { deleteDevice, listSubscriptions, presenceWithOfflineFor, subscribeWithOffline, unsubscribe, updatePresence } from '../commons/operations.ts';
import { LIMITS } from '../core/schemas.ts';
import {
  agoraError,
  agoraTokenRefusal,
  deviceOfResource,
  isProblem,
  JSON_PARSE,
  AGORA_MESSAGES as M,
  OK,
  parseExpiry,
  parseExt,
  parsePage,
  parseUsernames,
  planStatus,
  toAgoraPresence,
  toSubList,
  toSubscribed,
} from './agora-model.ts';

/** A value, or this API's 400 for the problem found instead. */
function valid<T>(v: T | { error: string }): T {
  if (isProblem(v)) throw new FacadeError(400, v.error);
  return v;
}

/** Agora's 401 for why the token was refused (its code and message). */
const refused = (fault: TokenFault) => {
  const { code, message } = agoraTokenRefusal(fault);
  return new FacadeError(401, message, {}, { code });
};

/** The `{uid}` the caller may act on: its own with a user token, any with an app token; else 401 / 403. */
async function actingUid(req: FacadeRequest): Promise<string> {
  const caller = await callerOr401(req, refused);
  const uid = req.params.uid ?? '';
  if (caller.userId !== uid && !caller.scopes.includes(SCOPES.app as string)) throw new FacadeError(403, M.forbidden);
  if (!isUserId(uid)) throw new FacadeError(400, M.badUid);
  return uid;
}

const jsonBody = (req: FacadeRequest) => parseJsonBody(req.body, M.badJson, { code: JSON_PARSE });

const endpoints: Record<string, Endpoint> = {
  async SetStatus(req) {
    const uid = await actingUid(req);
    const device = valid(deviceOfResource(req.params.resource ?? ''));
    const plan = valid(planStatus(req.params.status ?? ''));
    const patch = valid(parseExt(jsonBody(req)));
    if (plan.offline) {
      await updatePresence(uid, patch);
      await deleteDevice(uid, device);
    } else {
      // one write: the custom status and the device (live for the presence timeout, as after an HTTP heartbeat)
      await updatePresence(uid, patch, { device, kind: 'http', status: plan.status, ext: plan.ext });
    }
    return ok(OK);
  },

  async Subscribe(req) {
    const uid = await actingUid(req);
    const expiry = valid(parseExpiry(req.params.expiry ?? ''));
    const users = valid(parseUsernames(jsonBody(req), isUserId, 'subscribe'));
    const out = await subscribeWithOffline(uid, users, expiry);
    return ok(toSubscribed(out.subscribed, out.presence));
  },

  async GetStatuses(req) {
    const uid = await actingUid(req);
    const users = valid(parseUsernames(jsonBody(req), isUserId));
    // as uid may see them (visibility applied), with the devices that went offline lately as "0"
    return ok({ result: (await presenceWithOfflineFor(uid, users)).map((v) => toAgoraPresence(v.presence, undefined, v.offlineDevices)) });
  },

  async Unsubscribe(req) {
    const uid = await actingUid(req);
    await unsubscribe(uid, valid(parseUsernames(jsonBody(req), isUserId, 'unsubscribe')));
    return ok(OK);
  },

  async SubList(req) {
    const uid = await actingUid(req);
    const { offset, size } = valid(parsePage(req.query));
    // the store pages by cursor: read up to the page asked, 500 at a time (at most 7 reads at the 3000 cap)
    const seen: { userId: string; expiresAt: string }[] = [];
    let cursor: string | null = null;
    let total = 0;
    do {
      const page = await listSubscriptions(uid, LIMITS.listPageMax, cursor);
      total = page.total;
      seen.push(...page.subscriptions);
      cursor = page.nextCursor;
    } while (cursor && seen.length < offset + size);
    return ok(toSubList(total, seen.slice(offset, offset + size)));
  },
};

export const handler = facadeHandler(
  facadeNamed(facades, 'agora'),
  {
    errorBody: (status, message, detail) => agoraError(status, message, Date.now(), detail?.code),
    messageOf: (e) => (e.code === 'rate_limited' ? M.rateLimited : e.message),
    internalMessage: M.internal,
    unavailableMessage: M.unavailable,
    bodyTooLarge: M.bodyTooLarge,
  },
  endpoints,
);
