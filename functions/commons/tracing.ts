/**
 * X-Ray tracing (Powertools for AWS Lambda Tracer), off unless the stack is
 * deployed with `-c tracing=on`, and then for the functions where a trace
 * shows what a log line cannot: StreamFanout (a change's audience queries,
 * then its posts), FanoutChunk (a chunk's reads and posts) and the Sweeper
 * (a minute of rounds). Only they then run with `Tracing.ACTIVE` and
 * POWERTOOLS_TRACE_ENABLED=true (lib/routes.ts `traced`,
 * lib/constructs/presence-function.ts), and only they import this module,
 * through functions/commons/traced.ts: built with tracing off, their bundles
 * do not even contain it; run with the variable false, they do not load it.
 *
 * Why off by default, and never on the API functions: the Tracer carries
 * aws-xray-sdk-core (about 120 KB of bundle, 15–40 ms more cold init in
 * the benchmark), and that SDK turns on an
 * async hook for the whole process (cls-hooked) that every promise then pays
 * for: measured locally, about a third more CPU per SDK call. HTTP and
 * WebSocket APIs of API Gateway send no trace header, so an API function's
 * trace would be one segment with its SDK calls, which its log lines and API
 * Gateway's latency metrics already tell. docs/observability.md has the
 * reasons at more length.
 */
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type middy from '@middy/core';

// the AWS calls are traced through their clients (operation, table, retries); plain HTTP is not traced twice
export const tracer = new Tracer({ captureHTTPsRequests: false });

/**
 * The handler's tracing middleware, with the SDK clients it uses traced
 * (each call a subsegment: DynamoDB, @connections, SQS); undefined clients
 * (not configured for this function) are skipped.
 */
export function tracing(...clients: ({ middlewareStack: unknown } | undefined)[]): middy.MiddlewareObj {
  for (const client of clients) if (client) tracer.captureAWSv3Client(client);
  return captureLambdaHandler(tracer, { captureResponse: false });
}
