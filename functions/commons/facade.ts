/**
 * What every compatibility facade (lib/routes.ts `facades`, docs/compat.md)
 * is made of: ONE Lambda per facade whose handler dispatches on the event's
 * routeKey to one small function per route, reads the request, verifies the
 * caller's bearer token itself and answers every error in the facade's own
 * error shape.
 *
 * Why the token is verified here and not by API Gateway: an HTTP API's JWT
 * authorizer answers a refused token itself, always `401
 * {"message":"Unauthorized"}` (AWS, "Troubleshooting issues with HTTP API JWT
 * authorizers"), and HTTP APIs have no gateway responses to reshape that body
 * (REST APIs do). A facade must answer in its API's shape (e.g. `401
 * {"detail":"Invalid or expired token"}`), so its routes have no gateway
 * authorizer and the function verifies the token with the verifier the
 * WebSocket `$connect` authorizer uses (functions/commons/auth.ts
 * `verifyToken`, the same claim rules as the JWT authorizer; on AWS it reads
 * JWT_ISSUER, JWT_AUDIENCE and JWT_JWKS_URL, which the stack gives the facade
 * functions as it gives the authorizer).
 *
 * Facade code calls functions/commons/operations.ts only: the same store, the
 * same stream fan-out, the same limits as the contract's routes.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { type Facade, type FacadeRoute, facadeRoutes } from '../../lib/routes.ts';
import { type ApiError, toApiError } from '../core/errors.ts';
import { LIMITS } from '../core/schemas.ts';
import { validate } from '../core/validate.ts';
import { userId as userIdSchema } from '../core/validators.generated.js';
import { verifyToken } from './auth.ts';
import { observability } from './lambda.ts';
import { logger } from './logger.ts';
import { count, MetricName } from './metrics.ts';

export type FacadeEvent = APIGatewayProxyEventV2;
type Result = APIGatewayProxyStructuredResultV2;

/** The caller a verified token names. */
export interface Caller {
  userId: string;
  scopes: string[];
}

/** A request as a facade endpoint reads it. */
export interface FacadeRequest {
  event: FacadeEvent;
  /** path parameters (API Gateway decodes them) */
  params: Record<string, string>;
  /** query string parameters (duplicates combined with commas, as API Gateway does) */
  query: Record<string, string>;
  /** the body as text ('' when there is none; base64 bodies decoded) */
  body: string;
}

/** An answer: the status and the JSON body. */
export interface FacadeResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type Endpoint = (req: FacadeRequest) => Promise<FacadeResponse>;

/**
 * What an error says beyond its status and message, for the facades whose API
 * tells more: the API's own error code for this situation (e.g. RingCentral's
 * `CMN-103` or Agora's `json_parse`, where several share one status) and
 * fields it adds (e.g. RingCentral's `parameterName`).
 */
export interface ErrorDetail {
  code?: string;
  fields?: Record<string, string>;
}

/** An error to answer in the facade's shape (the facade's dialect renders it). */
export class FacadeError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly detail: ErrorDetail = {},
  ) {
    super(message);
    this.name = 'FacadeError';
  }
}

/** A 200 answer with this body. */
export const ok = (body: unknown): FacadeResponse => ({ status: 200, body });

/** Whether a path's id is one of the contract's user ids. */
export const isUserId = (id: string): boolean => validate(userIdSchema, id) === null;

/**
 * Why a token was refused, as far as the token itself tells (read only once
 * verification has refused it; nothing here is trusted): `missing` (no
 * `Authorization: Bearer` header), `malformed` (not a JWT: three base64url
 * parts, the middle one a JSON object), `expired` (its `exp` has passed) or
 * `refused` (well formed and unexpired, but not one of ours: signature,
 * issuer or audience). Some APIs answer each with its own code and message.
 */
export type TokenFault = 'missing' | 'malformed' | 'expired' | 'refused';

export function tokenFault(authorization: string | undefined, nowSeconds: number): TokenFault {
  const token = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
  if (!token) return 'missing';
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) return 'malformed';
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8'));
  } catch {
    return 'malformed';
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return 'malformed';
  const exp = (claims as { exp?: unknown }).exp;
  return typeof exp === 'number' && exp <= nowSeconds ? 'expired' : 'refused';
}

/**
 * The verified caller, or the facade's 401: a fixed message (and headers, e.g.
 * WWW-Authenticate), or the error a function makes of why the token was refused.
 */
export async function callerOr401(
  req: FacadeRequest,
  refusal: string | ((fault: TokenFault) => FacadeError),
  headers?: Record<string, string>,
): Promise<Caller> {
  const caller = await verifiedCaller(req.event);
  if (caller) return caller;
  if (typeof refusal === 'string') throw new FacadeError(401, refusal, headers);
  throw refusal(tokenFault(req.event.headers?.authorization, Math.floor(Date.now() / 1000)));
}

/** How one facade words and shapes its errors. */
export interface FacadeDialect {
  /** the error body of this API, e.g. `{ detail: message }` (with the error's own code and fields where it has them) */
  errorBody(status: number, message: string, detail?: ErrorDetail): unknown;
  /** the message of an error of the contract (functions/core/errors.ts) a called operation raised, in this API's words */
  messageOf?(error: ApiError): string;
  /** what a failure of the service itself (5xx) says */
  internalMessage: string;
  unavailableMessage: string;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Result => ({
  statusCode: status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/**
 * The caller named by the request's `Authorization: Bearer <token>` header,
 * verified as the contract's routes verify it; null when there is none or it
 * is refused (each facade answers that with its own 401).
 */
export async function verifiedCaller(event: FacadeEvent): Promise<Caller | null> {
  const header = event.headers?.authorization ?? '';
  const token = /^Bearer +(\S+) *$/i.exec(header)?.[1];
  if (!token) return rejected('no bearer token');
  try {
    const claims = await verifyToken(token);
    return { userId: claims.sub, scopes: claims.scopes };
  } catch (error) {
    return rejected((error as Error).message);
  }
}

const rejected = (reason: string): null => {
  count(MetricName.AuthorizerRejections);
  logger.info('facade token rejected', { reason });
  return null;
};

/** The request body as text, within the contract's HTTP body limit (413 past it). */
function bodyOf(event: FacadeEvent, tooLarge: string): string {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text, 'utf8') > LIMITS.httpBodyBytes) throw new FacadeError(413, tooLarge);
  return text;
}

/**
 * The facade's Lambda handler: dispatches on `routeKey` to the endpoint its
 * route names (every route of the facade must have one: checked when the
 * module loads), answers what the endpoint returns, and every error in the
 * facade's dialect: a FacadeError as it is, an error of an operation with its
 * contract status (4xx, 429 with Retry-After, 503) in the facade's words, and
 * anything else as a 500 whose details go to the log only.
 */
export function facadeHandler(
  facade: Facade,
  dialect: FacadeDialect & { bodyTooLarge: string },
  endpoints: Record<FacadeRoute['name'], Endpoint>,
): (event: FacadeEvent, context?: unknown) => Promise<Result> {
  const byRouteKey = new Map<string, Endpoint>();
  // paths with the deployment's segments (lib/routes.ts FacadeSegment) made literal, as the gateway's routeKey has them
  for (const route of facadeRoutes([facade])) {
    const endpoint = endpoints[route.name];
    if (!endpoint) throw new Error(`facade ${facade.name}: no endpoint for route ${route.name}`);
    byRouteKey.set(route.routeKey, endpoint);
  }
  const extra = Object.keys(endpoints).filter((name) => !facade.routes.some((r) => r.name === name));
  if (extra.length > 0) throw new Error(`facade ${facade.name}: endpoints without a route: ${extra.join(', ')}`);

  const answerError = (error: unknown): Result => {
    if (error instanceof FacadeError) return json(error.status, dialect.errorBody(error.status, error.message, error.detail), error.headers);
    const apiError = toApiError(error);
    if (apiError.status >= 500 && apiError.code !== 'unavailable') {
      logger.error('facade request failed', { error });
      return json(500, dialect.errorBody(500, dialect.internalMessage));
    }
    if (apiError.code === 'rate_limited') count(MetricName.RateLimited);
    const headers: Record<string, string> = apiError.retryAfter !== undefined ? { 'retry-after': String(apiError.retryAfter) } : {};
    const message = apiError.code === 'unavailable' ? dialect.unavailableMessage : (dialect.messageOf?.(apiError) ?? apiError.message);
    return json(apiError.status, dialect.errorBody(apiError.status, message), headers);
  };

  return middy<FacadeEvent, Result>()
    .use(observability())
    .handler(async (event) => {
      logger.appendKeys({ correlation_id: event.requestContext?.requestId, route: event.routeKey, facade: facade.name });
      try {
        const endpoint = byRouteKey.get(event.routeKey);
        // API Gateway only invokes the function for its routes: another routeKey is a wiring mistake
        if (!endpoint) throw new Error(`facade ${facade.name} has no route ${event.routeKey}`);
        const out = await endpoint({
          event,
          params: (event.pathParameters ?? {}) as Record<string, string>,
          query: (event.queryStringParameters ?? {}) as Record<string, string>,
          body: bodyOf(event, dialect.bodyTooLarge),
        });
        return json(out.status, out.body, out.headers);
      } catch (error) {
        return answerError(error);
      }
    }) as unknown as (event: FacadeEvent, context?: unknown) => Promise<Result>;
}

/** Parses a JSON body ('' reads as `undefined`); text that is not JSON is the facade's 400 (with its API's code for it, if any). */
export function parseJsonBody(text: string, badJson: string, detail?: ErrorDetail): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new FacadeError(400, badJson, {}, detail);
  }
}

/** The facade's facade: by name (a facade module finds its own table entry). */
export function facadeNamed(all: readonly Facade[], name: string): Facade {
  const f = all.find((x) => x.name === name);
  if (!f) throw new Error(`no facade named ${name} in lib/routes.ts`);
  return f;
}
