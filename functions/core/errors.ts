/** The contract's error codes and their HTTP statuses. */
export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** An error a client may see: status, contract code and a short human message. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** seconds after which a retry may succeed (429 / 503: the HTTP Retry-After header) */
  readonly retryAfter: number | undefined;
  constructor(code: ErrorCode, message: string, retryAfter?: number) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.retryAfter = retryAfter;
  }
  toBody(): { error: ErrorCode; message: string } {
    return { error: this.code, message: this.message };
  }
}

export const badRequest = (message: string) => new ApiError('bad_request', message);
export const notFound = (message: string) => new ApiError('not_found', message);
/** 429: a limit was reached; `retryAfter` seconds until it lets the caller through again */
export const rateLimited = (message: string, retryAfter: number) => new ApiError('rate_limited', message, Math.max(1, Math.ceil(retryAfter)));

/**
 * Maps anything thrown to what the client is told. Client mistakes surfaced by
 * middlewares (middy http errors with 4xx) become `bad_request`/`payload_too_large`;
 * everything else is `internal` with a generic message (details go to the log only).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (isUnavailable(err)) return new ApiError('unavailable', 'Service temporarily unavailable, retry shortly', 1);
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 413) return new ApiError('payload_too_large', 'Request body too large');
    return badRequest('Body must be valid JSON');
  }
  return new ApiError('internal', 'Internal error');
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);
const UNAVAILABLE_NAMES = new Set([
  'TimeoutError',
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
]);

/** The data store (or another dependency) is down, unreachable or throttling: 503, never a hang or a 500. */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown[] } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) return true;
  if (typeof e.name === 'string' && UNAVAILABLE_NAMES.has(e.name)) return true;
  if (Array.isArray(e.errors) && e.errors.some(isUnavailable)) return true; // AggregateError (happy eyeballs)
  return e.cause !== undefined && e.cause !== err && isUnavailable(e.cause);
}
