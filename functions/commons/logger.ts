/**
 * The functions' one logger: Powertools for AWS Lambda (TypeScript) Logger.
 * One JSON object per line (what CloudWatch Logs Insights reads), the same
 * on AWS and in the local stack; the Lambda context (function, request id,
 * cold start) comes from the `injectLambdaContext` middleware
 * (functions/commons/lambda.ts), a correlation id per request / connection
 * from the HTTP and WebSocket wrappers (`appendKeys`, reset after each
 * invocation).
 *
 * Level: POWERTOOLS_LOG_LEVEL, else LOG_LEVEL (what the local stack and the
 * tests set; any case: `silent` keeps the tests quiet), else INFO. Debug
 * sampling: POWERTOOLS_LOGGER_SAMPLE_RATE (the stack sets 0.01: one
 * invocation in a hundred logs at DEBUG).
 *
 * Keys of one unit of work inside an invocation (a stream record's user, a
 * queued chunk) go through `withLogKeys`: the stream consumer handles users
 * concurrently, so Powertools' `appendKeys` (one set per invocation) would
 * lend one user's sequence number to another's lines. The formatter below
 * is Powertools' standard one plus those scoped keys.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';

const scoped = new AsyncLocalStorage<LogAttributes>();

/** Powertools' standard keys (as its PowertoolsLogFormatter writes them), then the scoped keys, then the call's own. */
class ScopedKeysFormatter extends LogFormatter {
  formatAttributes(a: UnformattedAttributes, additional: LogAttributes): LogItem {
    const ctx = a.lambdaContext;
    return new LogItem({
      attributes: {
        level: a.logLevel,
        message: a.message,
        timestamp: this.formatTimestamp(a.timestamp),
        service: a.serviceName,
        cold_start: ctx?.coldStart,
        function_arn: ctx?.invokedFunctionArn,
        function_memory_size: ctx?.memoryLimitInMB,
        function_name: ctx?.functionName,
        function_request_id: ctx?.awsRequestId,
        sampling_rate: a.sampleRateValue,
        xray_trace_id: a.xRayTraceId,
      },
    }).addAttributes({ ...scoped.getStore(), ...additional });
  }
}

const env = process.env;

export const logger = new Logger({
  // Powertools reads POWERTOOLS_LOG_LEVEL / LOG_LEVEL itself, but only in upper case
  logLevel: (env.POWERTOOLS_LOG_LEVEL || env.LOG_LEVEL || 'INFO').toUpperCase() as 'INFO',
  logFormatter: new ScopedKeysFormatter(),
});

/** Runs `fn` with `keys` on every line logged within it (nested calls add to the keys around them). */
export function withLogKeys<T>(keys: LogAttributes, fn: () => T): T {
  return scoped.run({ ...scoped.getStore(), ...keys }, fn);
}
