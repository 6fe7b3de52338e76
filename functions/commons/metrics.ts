/**
 * CloudWatch metrics (Powertools for AWS Lambda Metrics: Embedded Metric
 * Format, one JSON line on stdout per flush, no API call) in one namespace,
 * under the names of metric-names.ts (and extra-metric-names.ts). Dimension: `service`
 * (POWERTOOLS_SERVICE_NAME: the stack name on AWS, `presence-local` in the
 * local stack); Powertools' ColdStart also carries `function_name`.
 * Metrics are added where they happen and flushed once per invocation by the
 * `logMetrics` middleware (functions/commons/lambda.ts). docs/observability.md
 * has the table.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ExtraMetricName } from './extra-metric-names.ts';
import { logger } from './logger.ts';
import { METRICS_NAMESPACE, MetricName } from './metric-names.ts';

export { ExtraMetricName, MetricName };

/** Powertools warns on every flush of an invocation that added no metric (most API calls): that one warning is dropped, the rest logged. */
const NO_METRICS_WARNING = 'No application metrics to publish';
type Extra = Record<string, unknown>[];
const metricsLogger = {
  debug: (message: unknown, ...extra: Extra) => logger.debug(String(message), ...extra),
  info: (message: unknown, ...extra: Extra) => logger.info(String(message), ...extra),
  warn: (message: unknown, ...extra: Extra) => {
    if (!String(message).startsWith(NO_METRICS_WARNING)) logger.warn(String(message), ...extra);
  },
  error: (message: unknown, ...extra: Extra) => logger.error(String(message), ...extra),
};

export const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE, logger: metricsLogger });

type Name = (typeof MetricName)[keyof typeof MetricName] | (typeof ExtraMetricName)[keyof typeof ExtraMetricName];

/** Adds `n` to a count (nothing when 0: a count is summed, and an absent datapoint alarms as nothing happened). */
export function count(name: Name, n = 1): void {
  if (n > 0) metrics.addMetric(name, MetricUnit.Count, n);
}

/** One datapoint of a count that is read per occurrence (SampleCount, Average, Maximum), zero included. */
export function sample(name: Name, n: number): void {
  metrics.addMetric(name, MetricUnit.Count, n);
}

/** One duration datapoint, in ms. */
export function milliseconds(name: Name, ms: number): void {
  metrics.addMetric(name, MetricUnit.Milliseconds, Math.max(0, Math.round(ms)));
}
