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
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_STATUS[code];
  }
  toBody(): { error: ErrorCode; message: string } {
    return { error: this.code, message: this.message };
  }
}

export const badRequest = (message: string) => new ApiError('bad_request', message);
export const notFound = (message: string) => new ApiError('not_found', message);

/**
 * Maps anything thrown to what the client is told. Client mistakes surfaced by
 * middlewares (middy http errors with 4xx) become `bad_request`/`payload_too_large`;
 * everything else is `internal` with a generic message (details go to the log only).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 413) return new ApiError('payload_too_large', 'Request body too large');
    return badRequest('Body must be valid JSON');
  }
  return new ApiError('internal', 'Internal error');
}
