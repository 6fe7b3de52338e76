/**
 * Alarms, one SNS topic for all of them and one CloudWatch dashboard for the
 * presence stack, built with cdk-monitoring-constructs (MonitoringFacade).
 * What each alarm means and what to do about it: docs/operations.md (the
 * alarm's description names its section).
 *
 * The library covers the HTTP API, Lambda, SQS and DynamoDB; the WebSocket
 * API, the 5xx rate as a ratio, the authorizer's unexpected errors and the
 * custom metrics of functions/commons/metric-names.ts go through its
 * monitorCustom with plain CloudWatch metrics, because the library has no
 * WebSocket API monitoring and its HTTP "5xx rate" is the Average statistic,
 * which API Gateway documents as a ratio for REST APIs only.
 *
 * Lambda errors and throttles are alarmed by role (HTTP routes, WebSocket
 * routes, workers), each alarm the sum of at most 10 functions' metrics (the
 * metric math limit), not one alarm per function: 38 functions would take 76
 * alarms of CloudFormation's 500 resources (docs/operations.md, Alarms). The dashboard keeps a line per
 * function in each role's graph, and each alarm's description lists its
 * functions.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type { HttpApi, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { AlarmStatusWidget, ComparisonOperator, type IAlarm, MathExpression, Metric, Stats, TextWidget, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import {
  type CustomMetricGroup,
  type CustomThreshold,
  DefaultDashboardFactory,
  MetricStatistic,
  MonitoringFacade,
  SnsAlarmActionStrategy,
} from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import { METRIC_SERVICE_DIMENSION, METRICS_NAMESPACE, MetricName, type MetricNameValue } from '../../functions/commons/metric-names.ts';
import { facades, httpRoutes, workers, wsRoutes } from '../routes.ts';
import type { PresenceFunction } from './presence-function.ts';

/** Where the runbook of every alarm lives (repository-relative; each alarm names its section). */
export const RUNBOOK = 'docs/operations.md';

/** What a function does, for grouping its widgets and alarms: an HTTP route, a WebSocket route or a background worker. */
export type FunctionRole = 'http' | 'ws' | 'worker';
export const FUNCTION_ROLES: readonly FunctionRole[] = ['http', 'ws', 'worker'];
/** a compatibility facade's function serves HTTP routes: role `http` */
export const roleOf = (id: string): FunctionRole =>
  httpRoutes.some((r) => r.id === id) || facades.some((f) => f.id === id) ? 'http' : wsRoutes.some((r) => r.id === id) ? 'ws' : 'worker';
/** a role in graph titles and alarm descriptions */
export const ROLE_TITLE: Record<FunctionRole, string> = { http: 'HTTP route functions', ws: 'WebSocket route functions', worker: 'workers' };
/** a role in alarm names: `Errors-Http-1`, `Throttles-Workers-1` */
export const ROLE_ALARM_NAME: Record<FunctionRole, string> = { http: 'Http', ws: 'Ws', worker: 'Workers' };

/**
 * The most metrics an alarm on metric math may read: "Alarms based on metric math expressions can reference a
 * maximum of 10 metrics. This is a hard limit" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-limits.html;
 * PutMetricAlarm: at most 10 MetricStat queries). The Lambda errors/throttles alarms sum at most this many functions each.
 */
export const MAX_ALARM_METRICS = 10;

/** a function's metric id in its group alarm's expression (`GetOwnPresence` -> `getOwnPresence`; ids start with a lowercase letter) */
export const metricIdOf = (functionId: string): string => {
  const metricId = functionId.charAt(0).toLowerCase() + functionId.slice(1);
  if (!/^[a-z][A-Za-z0-9_]*$/.test(metricId)) throw new Error(`function id ${functionId}: not usable as a metric math id`);
  return metricId;
};

/** `items` in order, in consecutive chunks of at most `size` */
const chunked = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** An alarm's evaluation: `datapoints` breaching periods of `period` out of the last `evaluationPeriods`. */
export interface AlarmRule {
  threshold: number;
  period: Duration;
  datapoints: number;
  evaluationPeriods: number;
}
const rule = (threshold: number, periodMinutes: number, datapoints: number, evaluationPeriods = datapoints): AlarmRule => ({
  threshold,
  period: Duration.minutes(periodMinutes),
  datapoints,
  evaluationPeriods,
});

/**
 * Every threshold, in one place (the reasons are in docs/operations.md,
 * "Alarms"). Comparisons are "greater than" throughout.
 */
export const ALARM_RULES = {
  /** StreamFanout IteratorAge (Maximum, ms): a minute behind the table, three minutes running */
  streamIteratorAgeMs: rule(60_000, 1, 3),
  /** StreamFanoutDlq / FanoutChunkDlq ApproximateNumberOfMessagesVisible (Maximum): any message */
  dlqMessages: rule(0, 1, 1),
  /** FanoutChunkQueue ApproximateAgeOfOldestMessage (Maximum, s): a chunk waiting over 5 minutes, three minutes running */
  chunkQueueOldestSeconds: rule(300, 1, 3),
  /** Lambda Errors (Sum), summed over the functions of a role, up to MAX_ALARM_METRICS per alarm: errors in two 5-minute periods of the last three */
  functionErrors: rule(0, 5, 2, 3),
  /** Lambda Throttles (Sum), summed over the functions of a role, up to MAX_ALARM_METRICS per alarm: throttles in two 5-minute periods of the last three */
  functionThrottles: rule(0, 5, 2, 3),
  /** HTTP API 5xx / Count (%), minutes with at least HTTP_5XX_MIN_REQUESTS requests: over 1 % in 3 of 5 minutes */
  http5xxPercent: rule(1, 1, 3, 5),
  /** WebSocket ExecutionError (Sum per minute): any, in 3 of 5 minutes */
  wsExecutionErrors: rule(0, 1, 3, 5),
  /** WebSocket IntegrationError (Sum per minute): over 10, in 3 of 5 minutes */
  wsIntegrationErrors: rule(10, 1, 3, 5),
  /** Presence NotifyLag p99 (ms), minutes with more than NOTIFY_LAG_MIN_SAMPLES samples: over 2 s in 3 of 5 minutes */
  notifyLagP99Ms: rule(2_000, 1, 3, 5),
} as const satisfies Record<string, AlarmRule>;

/** below this many requests in a minute the HTTP 5xx percentage is not evaluated (one failure would be 10 % or more) */
export const HTTP_5XX_MIN_REQUESTS = 10;
/** the NotifyLag p99 of a minute with this many samples or fewer is not evaluated (it would be the slowest one) */
export const NOTIFY_LAG_MIN_SAMPLES = 10;

export interface PresenceMonitoringProps {
  httpApi: HttpApi;
  /** the HTTP API's stage (`$default`) */
  httpStageName: string;
  webSocketApi: WebSocketApi;
  webSocketStage: WebSocketStage;
  /** every PresenceFunction by route/worker id (lib/routes.ts) */
  functions: Readonly<Record<string, PresenceFunction>>;
  tables: Readonly<Record<string, { table: ITableV2 }>>;
  streamDlq: IQueue;
  fanoutChunkQueue: IQueue;
  fanoutChunkDlq: IQueue;
  /** subscribed to the alarm topic by email (`-c alarmEmail=...`); the address must confirm the subscription */
  alarmEmail?: string;
}

export class PresenceMonitoring extends Construct {
  /** every alarm notifies this topic, on ALARM and on OK */
  readonly topic: Topic;
  readonly facade: MonitoringFacade;
  /** the prefix of every alarm name (the stack name) */
  readonly alarmNamePrefix: string;
  /** every alarm the construct made, by alarm name */
  readonly alarms: ReadonlyMap<string, IAlarm>;

  constructor(scope: Construct, id: string, props: PresenceMonitoringProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const service = stack.stackName;
    this.alarmNamePrefix = service;
    const name = (suffix: string) => `${service}-${suffix}`;

    // ---- the topic ----
    this.topic = new Topic(this, 'AlarmTopic', { displayName: `${service} alarms`, enforceSSL: true });
    // The topic policy replaces SNS's default one (which lets the account publish): CloudWatch needs its own
    // statement, limited to this account's alarms named like this stack's.
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: name('*'), arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
          },
        },
      }),
    );
    if (props.alarmEmail !== undefined) {
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.alarmEmail)) throw new Error(`alarmEmail ${props.alarmEmail}: not an email address`);
      this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    }

    // ---- the facade: one dashboard, every alarm to the topic ----
    const action = new SnsAlarmActionStrategy({ onAlarmTopic: this.topic, onOkTopic: this.topic });
    const facade = new MonitoringFacade(this, 'Facade', {
      alarmFactoryDefaults: { alarmNamePrefix: service, actionsEnabled: true, action, datapointsToAlarm: 1 },
      metricFactoryDefaults: { period: Duration.minutes(1) },
      dashboardFactory: new DefaultDashboardFactory(this, 'Dashboards', {
        dashboardNamePrefix: service,
        createDashboard: true,
        createSummaryDashboard: false,
        createAlarmDashboard: false,
        detailDashboardRange: Duration.hours(3),
      }),
    });
    this.facade = facade;

    /** an alarm's settings for the library: our name, the rule's periods, its runbook section, notBreaching when there is no data */
    const alarm = (alarmName: string, r: AlarmRule, what: string, section: string, extra: Partial<CustomThreshold> = {}) => ({
      alarmNameOverride: name(alarmName),
      alarmDescriptionOverride: `${what} Runbook: ${RUNBOOK}#${section}`,
      period: r.period,
      datapointsToAlarm: r.datapoints,
      evaluationPeriods: r.evaluationPeriods,
      treatMissingDataOverride: TreatMissingData.NOT_BREACHING,
      ...extra,
    });
    const custom = (alarmName: string, r: AlarmRule, what: string, section: string, extra: Partial<CustomThreshold> = {}): CustomThreshold => ({
      ...alarm(alarmName, r, what, section, extra),
      threshold: r.threshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    });

    const presence = (metricName: MetricNameValue, statistic: string, label: string, period = Duration.minutes(1)) =>
      new Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { [METRIC_SERVICE_DIMENSION]: service }, statistic, label, period });
    const wsMetric = (metricName: string, statistic: string, label: string, period = Duration.minutes(1)) =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.webSocketApi.apiId, Stage: props.webSocketStage.stageName },
        statistic,
        label,
        period,
      });
    const httpMetric = (metricName: string, statistic: string, label: string, period = Duration.minutes(1)) =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.httpApi.apiId, Stage: props.httpStageName },
        statistic,
        label,
        period,
      });

    // ---- header: what this is, and every alarm's state (filled in at the end) ----
    const allAlarms: IAlarm[] = [];
    facade.addWidget(
      new TextWidget({
        markdown:
          `# ${service}: presence service\n` +
          `Alarms notify the SNS topic \`${service} alarms\`. What each alarm means, how to confirm it and what to do: \`${RUNBOOK}\` ` +
          `(also how to read this dashboard). Custom metrics: namespace \`${METRICS_NAMESPACE}\`, dimension \`${METRIC_SERVICE_DIMENSION}\`.`,
        width: 24,
        height: 2,
      }),
    );
    // the widget renders its list at synthesis: the array is filled once every alarm exists (below)
    facade.addWidget(new AlarmStatusWidget({ title: 'Alarms', alarms: allAlarms, width: 24, height: 6 }));

    // ---- traffic: HTTP API ----
    facade.addLargeHeader('Traffic');
    facade.monitorApiGatewayV2HttpApi({
      api: props.httpApi,
      apiStage: props.httpStageName,
      humanReadableName: 'HTTP API',
      alarmFriendlyName: 'HttpApi',
    });
    const httpRequests = httpMetric('Count', Stats.SUM, 'requests');
    const http5xx = httpMetric('5xx', Stats.SUM, '5xx');
    facade.monitorCustom({
      humanReadableName: 'HTTP API 5xx rate',
      alarmFriendlyName: 'HttpApi5xx',
      metricGroups: [
        {
          title: `5xx share of requests (%; minutes with at least ${HTTP_5XX_MIN_REQUESTS} requests)`,
          graphWidgetWidth: 12,
          metrics: [
            {
              metric: new MathExpression({
                expression: `IF(requests >= ${HTTP_5XX_MIN_REQUESTS}, 100 * FILL(errors, 0) / requests, 0)`,
                usingMetrics: { requests: httpRequests, errors: http5xx },
                label: '5xx %',
                period: ALARM_RULES.http5xxPercent.period,
              }),
              alarmFriendlyName: 'Http5xxRate',
              addAlarm: {
                Critical: custom(
                  'HttpApi-5xxRate',
                  ALARM_RULES.http5xxPercent,
                  `More than ${ALARM_RULES.http5xxPercent.threshold} % of HTTP API requests answered 5xx (minutes with at least ${HTTP_5XX_MIN_REQUESTS} requests), in 3 of 5 minutes.`,
                  'http-api-5xx-rate',
                ),
              },
            },
          ],
        },
      ],
    });

    // ---- traffic: WebSocket API ----
    const disconnects = props.functions[wsRoutes.find((r) => r.routeKey === '$disconnect')?.id ?? '']?.fn.metricInvocations({
      label: 'closed ($disconnect)',
      period: Duration.minutes(1),
    });
    facade.monitorCustom({
      humanReadableName: `WebSocket API (stage ${props.webSocketStage.stageName})`,
      alarmFriendlyName: 'WebSocketApi',
      metricGroups: [
        {
          title: 'Connections opened / closed',
          metrics: [wsMetric('ConnectCount', Stats.SUM, 'opened (ConnectCount)'), ...(disconnects ? [disconnects] : [])],
        },
        { title: 'Messages (both directions, pushes included)', metrics: [wsMetric('MessageCount', Stats.SUM, 'MessageCount')] },
        {
          title: 'Errors',
          metrics: [
            wsMetric('ClientError', Stats.SUM, 'ClientError (refused before the integration)'),
            {
              metric: wsMetric('IntegrationError', Stats.SUM, 'IntegrationError'),
              alarmFriendlyName: 'IntegrationError',
              addAlarm: {
                Critical: custom(
                  'WebSocket-IntegrationErrors',
                  ALARM_RULES.wsIntegrationErrors,
                  `More than ${ALARM_RULES.wsIntegrationErrors.threshold} WebSocket requests a minute got a 4xx/5xx from their integration, in 3 of 5 minutes.`,
                  'websocket-integration-errors',
                ),
              },
            },
            {
              metric: wsMetric('ExecutionError', Stats.SUM, 'ExecutionError'),
              alarmFriendlyName: 'ExecutionError',
              addAlarm: {
                Critical: custom(
                  'WebSocket-ExecutionErrors',
                  ALARM_RULES.wsExecutionErrors,
                  'API Gateway failed to call a WebSocket integration (ExecutionError) in 3 of 5 minutes.',
                  'websocket-execution-errors',
                ),
              },
            },
          ],
        },
        {
          title: 'Integration latency (ms)',
          metrics: [wsMetric('IntegrationLatency', Stats.p(50), 'p50'), wsMetric('IntegrationLatency', Stats.p(99), 'p99')],
        },
      ],
    });

    // ---- pushes and notify lag (custom metrics) ----
    facade.addLargeHeader('Presence changes and pushes');
    const sum = (m: MetricNameValue, label: string = m) => presence(m, Stats.SUM, label);
    const metricGroups: CustomMetricGroup[] = [
      { title: 'Presence changes', metrics: [sum(MetricName.PresenceChanges), sum(MetricName.RecordsSkipped)] },
      {
        title: 'Pushes',
        metrics: [
          sum(MetricName.PushesSent, 'sent'),
          sum(MetricName.PushesGone, 'gone (410)'),
          sum(MetricName.PushesThrottled, 'throttled'),
          sum(MetricName.PushesRequeued, 'requeued'),
        ],
      },
      {
        title: 'Notify lag: presence write to push posted (ms)',
        metrics: [
          presence(MetricName.NotifyLag, Stats.p(50), 'p50'),
          presence(MetricName.NotifyLag, Stats.p(90), 'p90'),
          {
            metric: presence(MetricName.NotifyLag, Stats.p(99), 'p99'),
            alarmFriendlyName: 'NotifyLagP99',
            addAlarm: {
              Critical: custom(
                'NotifyLag-p99',
                ALARM_RULES.notifyLagP99Ms,
                `Notify lag p99 (presence write to push posted) above ${ALARM_RULES.notifyLagP99Ms.threshold} ms in 3 of 5 minutes (minutes with more than ${NOTIFY_LAG_MIN_SAMPLES} samples).`,
                'notify-lag-p99',
                { minSampleCountToEvaluateDatapoint: NOTIFY_LAG_MIN_SAMPLES },
              ),
            },
          },
        ],
      },
      {
        title: 'Fan-out',
        metrics: [
          sum(MetricName.FanoutRecipients, 'recipients'),
          presence(MetricName.FanoutDuration, Stats.p(50), 'duration p50 (ms)'),
          presence(MetricName.FanoutDuration, Stats.p(99), 'duration p99 (ms)'),
        ],
      },
      {
        title: 'Sweeper, limits, authorizer',
        metrics: [
          sum(MetricName.SweeperUsersOffline, 'users set offline by the sweeper'),
          sum(MetricName.RateLimited, 'rate limited'),
          sum(MetricName.AuthorizerRejections, 'WebSocket tokens rejected'),
        ],
      },
      {
        title: 'Cold starts (all functions)',
        metrics: [
          {
            // SEARCH('{Presence,"service","function_name"} "service"="<stack>" MetricName="ColdStart"', 'Sum', 60): one line per function
            searchQuery: `MetricName="${MetricName.ColdStart}"`,
            namespace: METRICS_NAMESPACE,
            dimensionsMap: { [METRIC_SERVICE_DIMENSION]: service, function_name: undefined as unknown as string },
            statistic: MetricStatistic.SUM,
          },
        ],
      },
    ];
    facade.monitorCustom({ humanReadableName: 'Presence (custom metrics)', alarmFriendlyName: 'Presence', metricGroups });

    // ---- errors and throttles: one graph per role (a line per function), one alarm per role and chunk ----
    facade.addLargeHeader('Lambda errors and throttles');
    const byRole: Record<FunctionRole, [string, PresenceFunction][]> = { http: [], ws: [], worker: [] };
    for (const [id, f] of Object.entries(props.functions)) byRole[roleOf(id)].push([id, f]);
    // one graph per role, a line per function: the Errors and the Throttles of the functions
    const lambdaGraphs: [kind: string, alarmFriendlyName: string, pick: (f: PresenceFunction) => Metric][] = [
      ['errors', 'LambdaByRole', (f) => f.fn.metricErrors({ label: fnLabel(f), period: Duration.minutes(1) })],
      ['throttles', 'LambdaThrottlesByRole', (f) => f.fn.metricThrottles({ label: fnLabel(f), period: Duration.minutes(1) })],
    ];
    for (const [kind, alarmFriendlyName, pick] of lambdaGraphs)
      facade.monitorCustom({
        humanReadableName: `Lambda ${kind} by role (one line per function; one alarm per role and up to ${MAX_ALARM_METRICS} functions)`,
        alarmFriendlyName,
        metricGroups: FUNCTION_ROLES.map((role) => ({
          title: `${kind[0]?.toUpperCase()}${kind.slice(1)}: ${ROLE_TITLE[role]}`,
          graphWidgetWidth: 8,
          metrics: byRole[role].map(([, f]) => pick(f)),
        })),
      });

    // The alarms: for each role, the sum of its functions' Errors (or Throttles) in chunks of at most MAX_ALARM_METRICS
    // functions (the metric math limit of an alarm), each full but the last, the routes in the order of lib/routes.ts:
    // a route added at the end of its table joins the last chunk, and a new chunk starts only when that one is full.
    // WsAuthorizer's Errors are not in the workers' sum: it refuses a token by throwing, so its alarm is its own
    // (Errors - AuthorizerRejections, below). FILL(m, 0): a function without data in a period counts 0 instead of
    // leaving the sum without a value. Not on the dashboard (the graphs above show which function it is); in the alarm
    // status widget like every alarm.
    const groupAlarms: CustomMetricGroup[] = [];
    const groupAlarm = (kind: 'Errors' | 'Throttles', role: FunctionRole, entries: [string, PresenceFunction][]) => {
      const r = kind === 'Errors' ? ALARM_RULES.functionErrors : ALARM_RULES.functionThrottles;
      const chunks = chunked(entries, MAX_ALARM_METRICS);
      chunks.forEach((members, i) => {
        const alarmName = `${kind}-${ROLE_ALARM_NAME[role]}-${i + 1}`;
        const usingMetrics: Record<string, Metric> = {};
        for (const [id, f] of members) {
          usingMetrics[metricIdOf(id)] = kind === 'Errors' ? f.fn.metricErrors({ period: r.period }) : f.fn.metricThrottles({ period: r.period });
        }
        const names = members.map(([id]) => id).join(', ');
        const cause = kind === 'Errors' ? 'an unhandled exception, timeout or out of memory' : 'no concurrency left';
        const what =
          `Lambda ${kind} of ${ROLE_TITLE[role]}, group ${i + 1} of ${chunks.length} (${names}), summed: above ${r.threshold} in 2 of the last 3 five-minute periods (${cause}).` +
          ` Which function: dashboard graph "${kind}: ${ROLE_TITLE[role]}" (a line per function), or each one's AWS/Lambda ${kind} metric.`;
        groupAlarms.push({
          title: alarmName,
          metrics: [
            {
              metric: new MathExpression({
                expression: Object.keys(usingMetrics)
                  .map((m) => `FILL(${m}, 0)`)
                  .join(' + '),
                usingMetrics,
                label: `${kind}: ${names}`,
                period: r.period,
              }),
              alarmFriendlyName: alarmName,
              addAlarm: {
                Critical: custom(alarmName, r, what, kind === 'Errors' ? 'lambda-errors' : 'lambda-throttles'),
              },
            },
          ],
        });
      });
    };
    for (const role of FUNCTION_ROLES) {
      groupAlarm(
        'Errors',
        role,
        byRole[role].filter(([id]) => id !== workers.wsAuthorizer.id),
      );
      groupAlarm('Throttles', role, byRole[role]);
    }
    facade.monitorCustom({
      humanReadableName: 'Lambda errors and throttles, summed by role (alarms only)',
      alarmFriendlyName: 'LambdaGroups',
      metricGroups: groupAlarms,
      addToDetailDashboard: false,
      addToSummaryDashboard: false,
      addToAlarmDashboard: false,
    });

    // ---- workers: a full row each ----
    facade.addLargeHeader('Workers');
    const workerRow = (id: string, f: PresenceFunction) => ({ lambdaFunction: f.fn, alarmFriendlyName: `Fn-${id}`, humanReadableName: `Lambda ${id}` });
    for (const [id, f] of byRole.worker) {
      if (id === workers.wsAuthorizer.id) continue;
      facade.monitorLambdaFunction({
        ...workerRow(id, f),
        ...(id === workers.stream.id
          ? {
              isIterator: true,
              addMaxIteratorAgeAlarm: {
                Critical: {
                  ...alarm(
                    'StreamIteratorAge',
                    ALARM_RULES.streamIteratorAgeMs,
                    `The DynamoDB stream consumer (${id}) is more than ${ALARM_RULES.streamIteratorAgeMs.threshold / 1000} s behind the Presence table (IteratorAge Maximum) for 3 minutes: pushes are late.`,
                    'stream-iterator-age',
                  ),
                  maxAgeInMillis: ALARM_RULES.streamIteratorAgeMs.threshold,
                },
              },
            }
          : { isIterator: false }),
      });
    }
    // the authorizer throws "Unauthorized" to refuse a token, which Lambda counts as an error: its alarm is on the
    // errors that are not refusals (Errors - AuthorizerRejections); its throttles are in the workers' alarm
    const authorizer = props.functions[workers.wsAuthorizer.id];
    if (authorizer) {
      const r = ALARM_RULES.functionErrors;
      facade.monitorLambdaFunction({ ...workerRow(workers.wsAuthorizer.id, authorizer), isIterator: false });
      facade.monitorCustom({
        humanReadableName: `Lambda ${workers.wsAuthorizer.id}: errors that are not token refusals`,
        alarmFriendlyName: `Fn-${workers.wsAuthorizer.id}-Unexpected`,
        metricGroups: [
          {
            title: 'Errors - AuthorizerRejections',
            metrics: [
              {
                metric: new MathExpression({
                  expression: 'FILL(errors, 0) - FILL(rejections, 0)',
                  usingMetrics: {
                    errors: authorizer.fn.metricErrors({ period: r.period }),
                    rejections: presence(MetricName.AuthorizerRejections, Stats.SUM, 'rejections', r.period),
                  },
                  label: 'unexpected errors',
                  period: r.period,
                }),
                alarmFriendlyName: 'UnexpectedErrors',
                addAlarm: {
                  Critical: custom(
                    `Errors-${workers.wsAuthorizer.id}`,
                    r,
                    `Lambda ${workers.wsAuthorizer.id} (worker) failed other than by refusing a token (Errors minus AuthorizerRejections) in 2 of the last 3 five-minute periods.`,
                    'lambda-errors',
                  ),
                },
              },
            ],
          },
        ],
      });
    }

    // ---- queues ----
    facade.addLargeHeader('Queues');
    facade.monitorSqsQueueWithDlq({
      queue: props.fanoutChunkQueue,
      deadLetterQueue: props.fanoutChunkDlq,
      humanReadableName: 'Fan-out chunk queue',
      alarmFriendlyName: 'FanoutChunkQueue',
      addQueueMaxMessageAgeAlarm: {
        Critical: {
          ...alarm(
            'FanoutChunkQueue-OldestMessage',
            ALARM_RULES.chunkQueueOldestSeconds,
            `A fan-out chunk has waited more than ${ALARM_RULES.chunkQueueOldestSeconds.threshold} s in FanoutChunkQueue (ApproximateAgeOfOldestMessage) for 3 minutes: pushes to large audiences are late.`,
            'chunk-queue-oldest-message',
          ),
          maxAgeInSeconds: ALARM_RULES.chunkQueueOldestSeconds.threshold,
        },
      },
      addDeadLetterQueueMaxSizeAlarm: {
        Critical: {
          ...alarm('FanoutChunkDlq-Messages', ALARM_RULES.dlqMessages, 'FanoutChunkDlq holds messages: fan-out chunks that failed 3 receives.', 'chunk-dlq'),
          maxMessageCount: ALARM_RULES.dlqMessages.threshold,
        },
      },
    });
    facade.monitorSqsQueue({
      queue: props.streamDlq,
      humanReadableName: 'Stream fan-out DLQ (on-failure destination of the stream consumer)',
      alarmFriendlyName: 'StreamFanoutDlq',
      addQueueMaxSizeAlarm: {
        Critical: {
          ...alarm(
            'StreamFanoutDlq-Messages',
            ALARM_RULES.dlqMessages,
            'StreamFanoutDlq holds messages: stream batches the consumer gave up on (their changes were never fanned out).',
            'stream-dlq',
          ),
          maxMessageCount: ALARM_RULES.dlqMessages.threshold,
        },
      },
    });

    // ---- DynamoDB ----
    facade.addLargeHeader('DynamoDB');
    for (const [tableId, { table }] of Object.entries(props.tables)) {
      facade.monitorDynamoTable({ table, humanReadableName: `${tableId} table`, alarmFriendlyName: `Table-${tableId}` });
    }

    const made = new Map<string, IAlarm>();
    for (const a of facade.createdAlarms()) made.set(a.alarmName, a.alarm);
    this.alarms = made;
    allAlarms.push(...made.values());
  }
}

/** A function's label on the dashboard: its route/worker id (the tag every PresenceFunction carries). */
function fnLabel(f: PresenceFunction): string {
  return f.node.id;
}
