/** CloudWatch metric names the functions emit (Powertools Metrics, EMF) and the alarms/dashboard read: one source for both. */
export const METRICS_NAMESPACE = 'Presence';
export const MetricName = {
  PresenceChanges: 'PresenceChanges',
  PushesSent: 'PushesSent',
  PushesGone: 'PushesGone',
  PushesThrottled: 'PushesThrottled',
  PushesRequeued: 'PushesRequeued',
  FanoutRecipients: 'FanoutRecipients',
  FanoutDuration: 'FanoutDuration',
  NotifyLag: 'NotifyLag',
  RecordsSkipped: 'RecordsSkipped',
  SweeperUsersOffline: 'SweeperUsersOffline',
  RateLimited: 'RateLimited',
  AuthorizerRejections: 'AuthorizerRejections',
} as const;
