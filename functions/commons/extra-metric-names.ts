/**
 * Metrics beyond metric-names.ts (that file is shared word for word with the
 * alarms and the dashboard, lib/constructs/monitoring.ts): pushes that are
 * lost, which the alarms may want too. Same namespace and dimension.
 */
export const ExtraMetricName = {
  /** pushes API Gateway refused for good (413 too large, another 4xx): never retried */
  PushesRejected: 'PushesRejected',
  /** pushes that still failed after MAX_DELIVERY_ATTEMPTS deliveries: the recipient missed that change */
  PushesGivenUp: 'PushesGivenUp',
} as const;
