/**
 * The custom metrics: emitted by the functions (Powertools Metrics, EMF;
 * functions/commons/metrics.ts), read by the alarms and the dashboard
 * (lib/constructs/monitoring.ts): one source for both. Namespace
 * METRICS_NAMESPACE; every metric carries exactly one dimension, `service` =
 * the stack name (Powertools' own ColdStart adds `function_name`). Units:
 * FanoutDuration and NotifyLag in Milliseconds, the rest Count.
 */
export const METRICS_NAMESPACE = 'Presence';

/** the one dimension of every custom metric; its value is the stack name */
export const METRIC_SERVICE_DIMENSION = 'service';

export const MetricName = {
  PresenceChanges: 'PresenceChanges',
  PushesSent: 'PushesSent',
  PushesGone: 'PushesGone',
  PushesThrottled: 'PushesThrottled',
  PushesRequeued: 'PushesRequeued',
  FanoutRecipients: 'FanoutRecipients',
  /** Milliseconds */
  FanoutDuration: 'FanoutDuration',
  /** Milliseconds: from the presence write to the push being posted */
  NotifyLag: 'NotifyLag',
  RecordsSkipped: 'RecordsSkipped',
  SweeperUsersOffline: 'SweeperUsersOffline',
  RateLimited: 'RateLimited',
  AuthorizerRejections: 'AuthorizerRejections',
  /** Powertools' cold start metric (dimensions service + function_name), emitted by Powertools itself */
  ColdStart: 'ColdStart',
} as const;

export type MetricNameValue = (typeof MetricName)[keyof typeof MetricName];
