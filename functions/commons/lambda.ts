/**
 * What every function's middy chain starts with (Powertools): the Lambda
 * context on every log line (`injectLambdaContext`, keys appended during the
 * invocation reset after it), and the metrics the invocation added flushed
 * as one EMF line when it ends, with or without an error (`logMetrics`),
 * plus Powertools' ColdStart metric. The HTTP and WebSocket wrappers add
 * their own middlewares after these (their error handler last, so it logs
 * with the context still on); workers use `lambdaHandler`.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger } from './logger.ts';
import { metrics } from './metrics.ts';

/** The first middlewares of every function. */
export const observability = (): middy.MiddlewareObj[] => [
  injectLambdaContext(logger, { resetKeys: true }),
  logMetrics(metrics, { captureColdStartMetric: true }),
];

export interface HandlerOptions {
  /** Powertools Tracer's middleware, on the functions that are traced (functions/commons/tracing.ts) */
  tracing?: middy.MiddlewareObj;
  /** middlewares after the observability ones (e.g. the WebSocket correlation keys) */
  use?: middy.MiddlewareObj<any>[];
}

/** A Lambda handler as the runtime (and a test) calls it: middy gives a missing context as `{}`. */
export type LambdaFunction<E, R> = (event: E, context?: Context) => Promise<R>;

/** A handler outside the HTTP and WebSocket action wrappers (workers, `$connect`, `$disconnect`) with the observability middlewares. */
export function lambdaHandler<E, R>(fn: (event: E, context: Context) => Promise<R>, opts: HandlerOptions = {}): LambdaFunction<E, R> {
  const chain = middy<E, R>();
  if (opts.tracing) chain.use(opts.tracing);
  return chain
    .use(observability())
    .use((opts.use ?? []) as middy.MiddlewareObj<E, R>[])
    .handler(fn) as unknown as LambdaFunction<E, R>;
}
