/**
 * The HTTP route wrapper: one middy chain for every HTTP handler, so that
 * authorization, parsing, validation and the contract's error body are
 * written once. Handlers receive plain values and return plain values.
 */
import middy from '@middy/core';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ApiError, badRequest, toApiError } from '../core/errors.ts';
import { scopesOf } from '../core/jwt.ts';
import { decodeCursor, encodeCursor, LIMITS, pageLimit, USER_ID_PATTERN } from '../core/schemas.ts';
import { type Validator, validate } from '../core/validate.ts';
import { observability } from './lambda.ts';
import { logger } from './logger.ts';
import { count, MetricName } from './metrics.ts';

export type HttpEvent = APIGatewayProxyEventV2WithJWTAuthorizer;
const USER_ID = new RegExp(USER_ID_PATTERN);
type Result = APIGatewayProxyStructuredResultV2;

export interface HttpRequest<B> {
  userId: string;
  scopes: string[];
  body: B;
  query: Record<string, string>;
  params: Record<string, string>;
}

export interface HttpRouteOptions {
  /** scope the caller's token must carry, or scopes of which it must carry one (the gateway checks it too) */
  scope?: string | readonly string[] | null;
  /** JSON body schema, compiled (core/validators.generated.js); routes without it take no body */
  body?: Validator;
  /** query string schema, compiled (all values are strings) */
  query?: Validator;
  /** path parameter schemas, compiled */
  params?: Record<string, Validator>;
}

export const json = (statusCode: number, data: unknown): Result => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(data),
});

/**
 * The scopes API Gateway verified (`requestContext.authorizer.jwt.scopes`, a
 * list; null on routes without authorization scopes), else the token's own
 * (`scope`, or `scp`, which the claims carry as API Gateway renders lists: "[a b]").
 */
const scopesOfRequest = (event: HttpEvent): string[] => {
  const jwt = event.requestContext?.authorizer?.jwt;
  return Array.isArray(jwt?.scopes) ? jwt.scopes : scopesOf(jwt?.claims ?? {});
};

/** API Gateway's request id on every line the request logs. */
const correlate = (): middy.MiddlewareObj<HttpEvent, Result> => ({
  before: (request) => {
    const ctx = request.event.requestContext;
    logger.appendKeys({ correlation_id: ctx?.requestId, route: ctx?.routeKey });
  },
});

/**
 * The token API Gateway's JWT authorizer let through must still name a valid
 * userId and carry the route's scope. (Tokens that authorizer refuses never
 * reach a function: API Gateway's 4xx metric counts them.)
 */
const authorize = (scope: string | readonly string[] | null | undefined): middy.MiddlewareObj<HttpEvent, Result> => ({
  before: (request) => {
    const claims = request.event.requestContext?.authorizer?.jwt?.claims ?? {};
    // on AWS the JWT authorizer checked the signature; the subject must still be a valid userId
    if (typeof claims.sub !== 'string' || !USER_ID.test(claims.sub)) {
      count(MetricName.AuthorizerRejections);
      throw new ApiError('unauthorized', 'Missing or invalid token');
    }
    const needed = typeof scope === 'string' ? [scope] : (scope ?? []);
    if (needed.length > 0 && !needed.some((s) => scopesOfRequest(request.event).includes(s))) {
      count(MetricName.AuthorizerRejections);
      throw new ApiError('forbidden', `This route needs the ${needed.join(' or ')} scope`);
    }
  },
});

/** Bodies are JSON whatever the content type says; an absent body is `{}`; a huge one is 413. */
const bodyGuard = (): middy.MiddlewareObj<HttpEvent, Result> => ({
  before: (request) => {
    const e = request.event;
    const body = e.body ?? '';
    const size = e.isBase64Encoded ? Math.floor((body.length * 3) / 4) : Buffer.byteLength(body, 'utf8');
    if (size > LIMITS.httpBodyBytes) throw new ApiError('payload_too_large', `Body must be at most ${LIMITS.httpBodyBytes} bytes`);
    if (body.trim() === '') {
      e.body = '{}';
      e.isBase64Encoded = false;
    }
    // the contract is JSON everywhere: parse whatever content type the client declared
    e.headers = { ...e.headers, 'content-type': 'application/json' };
  },
});

const validateRequest = (opts: HttpRouteOptions): middy.MiddlewareObj<HttpEvent, Result> => ({
  before: (request) => {
    const e = request.event;
    const problem =
      (opts.body ? validate(opts.body, e.body, 'body') : null) ??
      (opts.query ? validate(opts.query, e.queryStringParameters ?? {}, 'query') : null) ??
      Object.entries(opts.params ?? {})
        .map(([name, schema]) => validate(schema, e.pathParameters?.[name], name))
        .find((p) => p !== null) ??
      null;
    if (problem) throw badRequest(problem);
  },
});

/** Logs the whole error, answers with the contract's brief error body. */
const errorBody = (): middy.MiddlewareObj<HttpEvent, Result> => ({
  onError: (request) => {
    const apiError = toApiError(request.error);
    if (apiError.status >= 500) logger.error('request failed', { error: request.error });
    if (apiError.code === 'rate_limited') count(MetricName.RateLimited);
    request.response = json(apiError.status, apiError.toBody());
    if (apiError.retryAfter !== undefined) request.response.headers = { ...request.response.headers, 'retry-after': String(apiError.retryAfter) };
  },
});

export function httpRoute<B = Record<string, never>>(opts: HttpRouteOptions, fn: (req: HttpRequest<B>) => Promise<unknown>, status = 200) {
  // observability first (its flush runs last), the error body last (it answers before anything else sees the error)
  const chain = middy<HttpEvent, Result>().use(observability()).use(correlate()).use(authorize(opts.scope));
  if (opts.body) chain.use(bodyGuard()).use(httpJsonBodyParser());
  return chain
    .use(validateRequest(opts))
    .use(errorBody())
    .handler(async (event) => {
      const claims = event.requestContext.authorizer.jwt.claims;
      const data = await fn({
        userId: String(claims.sub),
        scopes: scopesOfRequest(event),
        body: (event.body ?? {}) as B,
        query: (event.queryStringParameters ?? {}) as Record<string, string>,
        params: (event.pathParameters ?? {}) as Record<string, string>,
      });
      return json(status, data);
    });
}

/** How a list's place is written in its opaque cursor (decode: undefined when the cursor is not one of ours). */
export interface CursorCodec<C> {
  encode: (place: C) => string;
  decode: (cursor: string) => C | undefined;
}

/** The place of most lists: the last userId of the page. */
const userIdCursor: CursorCodec<string> = { encode: encodeCursor, decode: decodeCursor };

/**
 * Cursor paging shared by the list routes: `limit` (1–500, default 100) and an
 * opaque `cursor` from the query in, the next opaque cursor out.
 */
export async function paged<P extends { nextCursor: C | null }, C = string>(
  query: Record<string, string>,
  fetchPage: (limit: number, after: C | null) => Promise<P>,
  codec: CursorCodec<C> = userIdCursor as unknown as CursorCodec<C>,
): Promise<Omit<P, 'nextCursor'> & { nextCursor: string | null }> {
  const limit = pageLimit(query.limit);
  if (typeof limit === 'string') throw badRequest(limit);
  const after = query.cursor === undefined ? null : codec.decode(query.cursor);
  if (after === undefined) throw badRequest('cursor is not valid');
  const page = await fetchPage(limit, after);
  return { ...page, nextCursor: page.nextCursor === null ? null : codec.encode(page.nextCursor) };
}
