/**
 * The WebSocket action wrapper: every message gets a reply (`response` or
 * `error`), never a dropped connection; every message counts as a sign of
 * life of the connection's device. A one-way action (the heartbeat: its route
 * has no route response) answers only a message that carries a `requestId`,
 * or is refused, by posting the reply through @connections: a heartbeat
 * without `requestId` costs one billed message, not two.
 */
import middy from '@middy/core';
import type { APIGatewayProxyResultV2, APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { ApiError, badRequest, toApiError } from '../core/errors.ts';
import { fitPresences, type Presence } from '../core/presence.ts';
import { LIMITS } from '../core/schemas.ts';
import { type Validator, validate } from '../core/validate.ts';
import { postToConnection } from './clients.ts';
import { config } from './config.ts';
import { observability } from './lambda.ts';
import { logger } from './logger.ts';
import { count, MetricName } from './metrics.ts';
import { type Touch, touchConnection } from './operations.ts';

/** What the `$connect` authorizer put in the connection's context (available on every route). */
export interface WsIdentity {
  userId: string;
  device: string;
  scopes: string[];
  connectionId: string;
}

export type WsEvent = APIGatewayProxyWebsocketEventV2 & {
  requestContext: APIGatewayProxyWebsocketEventV2['requestContext'] & { authorizer?: Record<string, unknown> };
};

export function identityOf(event: WsEvent): WsIdentity {
  const ctx = event.requestContext.authorizer ?? {};
  const userId = ctx.userId ?? ctx.principalId;
  if (typeof userId !== 'string' || userId === '') throw new ApiError('unauthorized', 'Connection has no identity');
  const connectionId = event.requestContext.connectionId;
  const device = typeof ctx.device === 'string' && ctx.device !== '' ? ctx.device : `ws_${connectionId}`;
  const scopes = typeof ctx.scope === 'string' ? ctx.scope.split(' ').filter(Boolean) : [];
  return { userId, device, scopes, connectionId };
}

interface Parsed {
  message: Record<string, unknown>;
  requestId: string | number | undefined;
}

interface WsContext {
  parsed?: Parsed;
}

const reply = (data: unknown): APIGatewayProxyResultV2 => ({ statusCode: 200, body: JSON.stringify(data) });

function parse(body: string | undefined): Parsed {
  const raw = body ?? '';
  let message: unknown;
  try {
    message = JSON.parse(raw);
  } catch {
    throw badRequest('Message must be a JSON object');
  }
  if (message === null || typeof message !== 'object' || Array.isArray(message)) throw badRequest('Message must be a JSON object');
  const m = message as Record<string, unknown>;
  const rid = m.requestId;
  const requestId = typeof rid === 'string' || typeof rid === 'number' ? rid : undefined;
  return { message: m, requestId };
}

/** Parses first (so even an oversized message's reply carries its requestId), then applies the size limit. */
function parseWithin(body: string | undefined, state: WeakMap<object, WsContext>, event: object): Parsed {
  const parsed = parse(body);
  state.set(event, { parsed });
  if (Buffer.byteLength(body ?? '', 'utf8') > LIMITS.wsMessageBytes)
    throw new ApiError('payload_too_large', `Messages must be at most ${LIMITS.wsMessageBytes} bytes`);
  return parsed;
}

export interface WsActionOptions {
  /** the message schema, compiled (core/validators.generated.js) */
  schema?: Validator;
  /** a check that runs before the schema, for a clearer message (e.g. "exactly one of") */
  precheck?: (msg: Record<string, unknown>) => void;
  /**
   * the route is one-way (no route response, `oneWay` in lib/routes.ts): a
   * success is answered only when the message has a requestId, an error always,
   * both posted to the connection
   */
  oneWay?: boolean;
  /** the action changes the user's state: the touch returns the state item (Touch.current) for its write to start from */
  withState?: boolean;
}

const NO_ROUTE_RESPONSE: APIGatewayProxyResultV2 = { statusCode: 200 };

/** Posts a one-way route's answer; a connection gone meanwhile has nobody to tell. */
async function postReply(connectionId: string, data: unknown): Promise<void> {
  try {
    await postToConnection(connectionId, JSON.stringify(data));
  } catch (error) {
    logger.warn('ws reply not delivered', { connectionId, error });
  }
}

/** API Gateway's request id and the connection on every line the message logs. */
export const correlate = (): middy.MiddlewareObj<WsEvent> => ({
  before: (request) => {
    const ctx = request.event.requestContext;
    logger.appendKeys({ correlation_id: ctx?.requestId, connectionId: ctx?.connectionId, route: ctx?.routeKey });
  },
});

/**
 * Wraps a WebSocket action: parse, touch liveness and count the message
 * (one write), enforce the per-connection rate, validate, run, reply.
 */
export function wsAction<M = Record<string, unknown>>(opts: WsActionOptions, fn: (msg: M, who: WsIdentity, touch: Touch) => Promise<unknown>) {
  const state = new WeakMap<object, WsContext>();
  return middy<WsEvent, APIGatewayProxyResultV2>()
    .use(observability())
    .use(correlate())
    .use({
      onError: async (request) => {
        const err = toApiError(request.error);
        if (err.status >= 500) logger.error('ws action failed', { error: request.error });
        if (err.code === 'rate_limited') count(MetricName.RateLimited);
        const parsed = state.get(request.event)?.parsed;
        const data = {
          type: 'error',
          requestId: parsed?.requestId,
          error: err.code,
          message: err.message,
          ...(err.retryAfter !== undefined ? { retryAfter: err.retryAfter } : {}),
        };
        if (!opts.oneWay) {
          request.response = reply(data);
          return;
        }
        await postReply(request.event.requestContext.connectionId, data);
        request.response = NO_ROUTE_RESPONSE;
      },
    })
    .handler(async (event) => {
      const who = identityOf(event);
      let parsed: Parsed | undefined;
      let failure: unknown;
      try {
        parsed = parseWithin(event.body, state, event);
      } catch (err) {
        failure = err; // a bad message still counts as a sign of life and against the rate
      }
      const touch = await touchConnection(who, opts.withState);
      if (touch.messagesInWindow > config.wsRateLimit)
        throw new ApiError('rate_limited', `At most ${config.wsRateLimit} messages per ${config.wsRateWindowSeconds} s per connection`);
      if (failure || !parsed) throw failure;
      opts.precheck?.(parsed.message);
      if (opts.schema) {
        const problem = validate(opts.schema, parsed.message, 'message');
        if (problem) throw badRequest(problem);
      }
      const data = await fn(parsed.message as M, who, touch);
      const answer = { type: 'response', requestId: parsed.requestId, data };
      if (!opts.oneWay) return reply(answer);
      if (parsed.requestId !== undefined) await postReply(who.connectionId, answer);
      return NO_ROUTE_RESPONSE;
    });
}

/**
 * A reply's presences, as many as fit in one WebSocket message (API Gateway
 * delivers at most 128 KB); the userIds left out are named in `remaining`
 * (ask `getPresence` for them).
 */
export function fitted<R extends { presence: Presence[] }>(reply: R): R & { remaining?: string[] } {
  const { fitted: presence, rest } = fitPresences(reply.presence);
  return rest.length ? { ...reply, presence, remaining: rest.map((p) => p.userId) } : reply;
}
