/**
 * Grants of the template that no call of the local suite uses, and why they
 * stay (the test run's grant-usage report fails on any unused grant not
 * explained here). Matched by action (and optionally function and resource).
 */
export interface UnusedGrant {
  /** IAM action (exact, as in the policy) */
  action: string;
  /** only these functions (default: any) */
  fns?: readonly string[];
  /** the resource pattern contains this (default: any) */
  resource?: string;
  why: string;
}

export const UNUSED_GRANTS: readonly UnusedGrant[] = [
  {
    action: 'logs:CreateLogStream',
    why: 'used by the Lambda runtime to write the function’s logs to its own log group, not by the function’s code',
  },
  { action: 'logs:PutLogEvents', why: 'used by the Lambda runtime (see logs:CreateLogStream)' },
  { action: 'xray:PutTraceSegments', why: 'used by the Lambda runtime’s active X-Ray tracing, not by the code; there is no X-Ray locally' },
  { action: 'xray:PutTelemetryRecords', why: 'used by the Lambda runtime’s active X-Ray tracing' },
  {
    action: 'sqs:SendMessage',
    resource: 'StreamFanoutDlq',
    why: 'the stream event source mapping’s on-failure destination: AWS sends the failed batch’s metadata there with the function’s role; the local poller logs it instead',
  },
  {
    action: 'sqs:GetQueueAttributes',
    why: 'granted by CDK with the stream’s on-failure destination (the event source mapping’s), and to FanoutChunk by its SQS event source mapping, which reads the queue’s attributes on AWS',
  },
  {
    action: 'sqs:GetQueueUrl',
    why: 'granted by CDK with the stream’s on-failure destination and the SQS event source mapping (theirs, not the code’s: the code uses the queue URL from its environment)',
  },
  {
    action: 'sqs:ReceiveMessage',
    fns: ['FanoutChunk'],
    why: 'the SQS event source mapping polls the chunk queue with the function’s role (locally the queue hands messages to the function itself)',
  },
  { action: 'sqs:ChangeMessageVisibility', fns: ['FanoutChunk'], why: 'the SQS event source mapping (see sqs:ReceiveMessage)' },
  { action: 'sqs:DeleteMessage', fns: ['FanoutChunk'], why: 'the SQS event source mapping deletes handled messages (see sqs:ReceiveMessage)' },
  {
    action: 'dynamodb:ListStreams',
    fns: ['StreamFanout'],
    why: 'granted by CDK’s DynamoEventSource for the event source mapping; the mapping is configured with the stream ARN, and the local poller reads it by ARN too',
  },
  // code paths the suite reaches through other functions only (the grant is needed: the same store call)
  {
    action: 'dynamodb:GetItem',
    fns: ['WsDefault', 'WsHeartbeat', 'WsGetPresence', 'WsSubscribe', 'WsUnsubscribe'],
    resource: 'PresenceTable',
    why: 'the full path of a WebSocket message (touchConnection: read, then write the state), taken when the connection’s device expired or is gone; the suite takes it through other actions (store.test, rate-limit.test), not these',
  },
  {
    action: 'dynamodb:PutItem',
    fns: ['WsDefault', 'WsHeartbeat', 'WsGetPresence', 'WsSubscribe', 'WsUnsubscribe'],
    resource: 'PresenceTable',
    why: 'the full path of a WebSocket message (see dynamodb:GetItem)',
  },
  {
    action: 'dynamodb:BatchWriteItem',
    fns: ['StreamFanout', 'FanoutChunk'],
    resource: 'GraphTable',
    why: 'a connection that answers 410 Gone during a fan-out is forgotten with its listeners (disconnect → removeListeners); the suite’s 410 connections hold no listeners',
  },
  {
    action: 'dynamodb:Query',
    fns: ['FanoutChunk'],
    resource: 'GraphTable',
    why: 'a 410 Gone connection’s listeners looked up during a chunked fan-out (disconnect → removeListeners); the suite’s 410 tests go through the inline fan-out',
  },
  {
    action: 'dynamodb:PutItem',
    fns: ['FanoutChunk'],
    resource: 'PresenceTable',
    why: 'a 410 Gone connection’s state rewritten during a chunked fan-out (disconnect); the suite’s 410 tests go through the inline fan-out',
  },
  {
    action: 'dynamodb:DeleteItem',
    fns: ['Sweeper'],
    resource: 'GraphTable',
    why: 'the sweeper deletes expired subscriptions (the same sweep as the admin cleanup route, which the suite exercises: AdminCleanup uses this grant); the background sweeps of the suite found none due',
  },
];

/** Why an unused grant stays, or undefined when nothing explains it. */
export function whyUnused(g: { fn: string; action: string; resource: string }): string | undefined {
  return UNUSED_GRANTS.find((u) => u.action === g.action && (!u.fns || u.fns.includes(g.fn)) && (!u.resource || g.resource.includes(u.resource)))?.why;
}
