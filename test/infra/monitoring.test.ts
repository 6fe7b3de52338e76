/**
 * Alarms, alarm topic and dashboard of PresenceStack (lib/constructs/monitoring.ts):
 * each alarm with its metric, statistic, period and threshold, every alarm
 * notifying the one SNS topic (on ALARM and OK), the topic TLS-only and open
 * to CloudWatch alarms of this stack only, the email subscription only when
 * asked for, one dashboard showing traffic, pushes, errors, queues and
 * DynamoDB, and every alarm's runbook section present in docs/operations.md.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { METRIC_SERVICE_DIMENSION, METRICS_NAMESPACE, MetricName } from '../../functions/commons/metric-names.ts';
import {
  ALARM_RULES,
  FUNCTION_ROLES,
  type FunctionRole,
  HTTP_5XX_MIN_REQUESTS,
  MAX_ALARM_METRICS,
  NOTIFY_LAG_MIN_SAMPLES,
  ROLE_ALARM_NAME,
  ROLE_TITLE,
  RUNBOOK,
  roleOf,
} from '../../lib/constructs/monitoring.ts';
import { PresenceStack, type PresenceStackProps } from '../../lib/presence-stack.ts';
import { FUNCTION_TAG, facades, HEARTBEAT_ROUTE_KEY, httpRoutes, workers, wsRoutes } from '../../lib/routes.ts';

type Resource = { Type: string; Properties: Record<string, any> };
type MetricRef = { namespace: string; name: string; stat: string; period: number; dims: Record<string, unknown> };
type AlarmView = {
  name: string;
  props: Record<string, any>;
  metrics: MetricRef[];
  /** the expression the alarm watches, if it is metric math */
  expression?: string;
};

const props: PresenceStackProps = { jwtIssuer: 'https://issuer.test/', jwtAudience: ['presence-api'] };
const EMAIL = 'ops@example.com';
// findings and alarms do not depend on the bundled handler code: skip esbuild for speed
const newApp = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

let stack: PresenceStack;
let template: Template;
let alarms: Map<string, AlarmView>;
let gatewayStack: PresenceStack;
let gatewayTemplate: Template;

/** an alarm's metrics, whether it is a single-metric alarm or metric math */
function viewOf(p: Record<string, any>): AlarmView {
  const dims = (list: { Name: string; Value: unknown }[] | undefined) => Object.fromEntries((list ?? []).map((d) => [d.Name, d.Value]));
  if (p.Metrics) {
    const metrics = (p.Metrics as any[])
      .filter((m) => m.MetricStat)
      .map((m) => ({
        namespace: m.MetricStat.Metric.Namespace,
        name: m.MetricStat.Metric.MetricName,
        stat: m.MetricStat.Stat,
        period: m.MetricStat.Period,
        dims: dims(m.MetricStat.Metric.Dimensions),
      }));
    const returned = (p.Metrics as any[]).find((m) => m.ReturnData !== false);
    return { name: p.AlarmName, props: p, metrics, expression: returned?.Expression };
  }
  return {
    name: p.AlarmName,
    props: p,
    metrics: [{ namespace: p.Namespace, name: p.MetricName, stat: p.Statistic ?? p.ExtendedStatistic, period: p.Period, dims: dims(p.Dimensions) }],
  };
}

/** every function of a template (the ones tagged FUNCTION_TAG, so a CDK helper function is not counted): route/worker id by logical id */
const functionsOf = (t: Template) =>
  new Map(
    Object.entries(t.findResources('AWS::Lambda::Function') as Record<string, { Properties: { Tags?: { Key: string; Value: string }[] } }>).flatMap(
      ([logicalId, r]) => {
        const id = r.Properties.Tags?.find((tag) => tag.Key === FUNCTION_TAG)?.Value;
        return id === undefined ? [] : [[logicalId, id] as const];
      },
    ),
  );

/** the functions lib/routes.ts declares, for a heartbeat mode (the gateway mode has no heartbeat Lambda) */
const declaredFunctions = (mode: 'lambda' | 'gateway') =>
  [...httpRoutes, ...wsRoutes.filter((r) => mode === 'lambda' || r.routeKey !== HEARTBEAT_ROUTE_KEY), ...Object.values(workers), ...facades].map((f) => f.id);

const GROUP_ALARM = /-(Errors|Throttles)-(Http|Ws|Workers)-(\d+)$/;
const roleOfAlarmName = Object.fromEntries(Object.entries(ROLE_ALARM_NAME).map(([role, n]) => [n, role])) as Record<string, FunctionRole>;

/**
 * The functions a group alarm sums, in its expression's order: the expression must be `FILL(<id>, 0) + ...`, each id
 * once, each id a query of the Lambda metric `metricName` (Sum, 5 minutes) of one function of the template, and no
 * other metric read.
 */
function membersOf(a: AlarmView, metricName: 'Errors' | 'Throttles', fns: ReadonlyMap<string, string>): string[] {
  const ids = (a.expression ?? '').split(' + ').map((term) => term.match(/^FILL\(([a-z][A-Za-z0-9_]*), 0\)$/)?.[1]);
  expect(
    ids.every((id) => id !== undefined),
    `${a.name}: ${a.expression}`,
  ).toBe(true);
  expect(new Set(ids).size, `${a.name}: a metric summed twice`).toBe(ids.length);
  const queries = (a.props.Metrics as any[]).filter((m) => m.MetricStat);
  expect(queries.map((q) => q.Id).sort(), `${a.name}: metrics read = metrics summed`).toEqual([...ids].sort());
  return ids.map((id) => {
    const q = queries.find((m) => m.Id === id);
    expect(q.MetricStat.Metric.Namespace, `${a.name} ${id}`).toBe('AWS/Lambda');
    expect(q.MetricStat.Metric.MetricName, `${a.name} ${id}`).toBe(metricName);
    expect(q.MetricStat.Stat, `${a.name} ${id}`).toBe('Sum');
    expect(q.MetricStat.Period, `${a.name} ${id}`).toBe(300);
    const dims = q.MetricStat.Metric.Dimensions as { Name: string; Value: { Ref: string } }[];
    expect(
      dims.map((d) => d.Name),
      `${a.name} ${id}`,
    ).toEqual(['FunctionName']);
    const fn = fns.get(dims[0]?.Value.Ref as string);
    expect(fn, `${a.name} ${id}: not a function of the stack`).toBeDefined();
    return fn as string;
  });
}

/**
 * Checks the Lambda errors/throttles alarms of a template: every function in exactly one Errors alarm (WsAuthorizer:
 * its own, errors minus refusals) and one Throttles alarm; each group alarm sums at most MAX_ALARM_METRICS functions of
 * its role, its groups numbered 1..n, all full but the last, its description naming its functions. Returns the names
 * of the group alarms.
 */
function checkGroupAlarms(t: Template, stackName: string, mode: 'lambda' | 'gateway'): string[] {
  const fns = functionsOf(t);
  expect([...fns.values()].sort(), 'the functions of the template are those of lib/routes.ts').toEqual(declaredFunctions(mode).sort());
  const all = alarmsOf(t);
  const covered = { Errors: new Map<string, string[]>(), Throttles: new Map<string, string[]>() };
  const cover = (kind: 'Errors' | 'Throttles', fn: string, alarmName: string) => covered[kind].set(fn, [...(covered[kind].get(fn) ?? []), alarmName]);
  /** `<kind>-<role>`: the size of each numbered group (index = number - 1) */
  const sizes = new Map<string, number[]>();
  for (const a of all.values()) {
    const m = a.name.match(GROUP_ALARM);
    if (!m || !a.name.startsWith(`${stackName}-`)) continue;
    const [, kind, roleName, n] = m as unknown as [string, 'Errors' | 'Throttles', string, string];
    const role = roleOfAlarmName[roleName] as FunctionRole;
    const members = membersOf(a, kind, fns);
    expect(members.length, a.name).toBeGreaterThan(0);
    expect(members.length, a.name).toBeLessThanOrEqual(MAX_ALARM_METRICS);
    for (const fn of members) {
      expect(roleOf(fn), `${a.name}: ${fn}`).toBe(role);
      cover(kind, fn, a.name);
    }
    expectRule(a, kind === 'Errors' ? ALARM_RULES.functionErrors : ALARM_RULES.functionThrottles);
    expect(a.props.Threshold, a.name).toBe(0);
    // the description names the group's functions (where to look) and the role's graph
    const listed = (a.props.AlarmDescription as string).match(/ of \d+ \(([^)]*)\), summed/)?.[1]?.split(', ');
    expect(listed, a.name).toEqual(members);
    expect(a.props.AlarmDescription, a.name).toContain(`dashboard graph "${kind}: ${ROLE_TITLE[role]}"`);
    const groupSizes = sizes.get(`${kind}-${roleName}`) ?? [];
    groupSizes[Number(n) - 1] = members.length;
    sizes.set(`${kind}-${roleName}`, groupSizes);
  }
  // WsAuthorizer: its own errors alarm (Errors - AuthorizerRejections)
  const authorizer = all.get(`${stackName}-Errors-${workers.wsAuthorizer.id}`);
  expect(authorizer?.expression).toBe('FILL(errors, 0) - FILL(rejections, 0)');
  const authorizerFn = [...fns].find(([, id]) => id === workers.wsAuthorizer.id)?.[0];
  expect(authorizer?.metrics[0]).toEqual({ namespace: 'AWS/Lambda', name: 'Errors', stat: 'Sum', period: 300, dims: { FunctionName: { Ref: authorizerFn } } });
  cover('Errors', workers.wsAuthorizer.id, authorizer?.name as string);
  // every function: exactly one errors alarm and one throttles alarm
  for (const kind of ['Errors', 'Throttles'] as const) {
    for (const fn of fns.values()) expect(covered[kind].get(fn), `${kind} of ${fn}`).toHaveLength(1);
    expect([...covered[kind].keys()].sort(), kind).toEqual([...fns.values()].sort());
  }
  // groups numbered 1..n (no gap), each full (MAX_ALARM_METRICS functions) but the last
  for (const [key, groupSizes] of sizes) {
    expect(
      [...groupSizes.keys()].every((i) => groupSizes[i] !== undefined),
      `${key}: numbered 1..${groupSizes.length}`,
    ).toBe(true);
    expect(
      groupSizes.slice(0, -1).every((size) => size === MAX_ALARM_METRICS),
      `${key}: ${groupSizes}`,
    ).toBe(true);
  }
  return [...all.keys()].filter((n) => GROUP_ALARM.test(n));
}

const alarmsOf = (t: Template) =>
  new Map(
    Object.values(t.findResources('AWS::CloudWatch::Alarm') as Record<string, Resource>).map((r) => {
      const v = viewOf(r.Properties);
      return [v.name, v] as const;
    }),
  );

beforeAll(() => {
  stack = new PresenceStack(newApp(), 'PresenceMon', { ...props, env: { account: '123456789012', region: 'eu-west-1' }, alarmEmail: EMAIL });
  template = Template.fromStack(stack);
  alarms = alarmsOf(template);
  gatewayStack = new PresenceStack(newApp(), 'PresenceMonGw', { ...props, heartbeat: 'gateway' });
  gatewayTemplate = Template.fromStack(gatewayStack);
}, 180_000);

const ref = (construct: { node: { defaultChild?: unknown } }) => ({ Ref: stack.getLogicalId(construct.node.defaultChild as never) });
const alarm = (suffix: string): AlarmView => {
  const a = alarms.get(`${stack.stackName}-${suffix}`);
  if (!a) throw new Error(`no alarm ${stack.stackName}-${suffix} (have: ${[...alarms.keys()].join(', ')})`);
  return a;
};
/** the rule's evaluation, as the template states it */
const expectRule = (a: AlarmView, r: { threshold: number; period: { toSeconds(): number }; datapoints: number; evaluationPeriods: number }) => {
  expect(a.props.Threshold, a.name).toBe(r.threshold);
  expect(a.props.ComparisonOperator, a.name).toBe('GreaterThanThreshold');
  expect(a.props.DatapointsToAlarm, a.name).toBe(r.datapoints);
  expect(a.props.EvaluationPeriods, a.name).toBe(r.evaluationPeriods);
  for (const m of a.metrics) expect(m.period, `${a.name} ${m.name}`).toBe(r.period.toSeconds());
};

describe('alarm topic', () => {
  it('one SNS topic, TLS-only, which CloudWatch may publish to for this account and alarms named after the stack only', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    const topic = ref(stack.monitoring.topic);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topic],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: topic,
            Condition: {
              StringEquals: { 'aws:SourceAccount': '123456789012' },
              ArnLike: {
                'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:cloudwatch:eu-west-1:123456789012:alarm:${stack.stackName}-*`]] },
              },
            },
          }),
        ]),
      },
    });
  });

  it('the email subscription exists when an address is given, and only then', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: EMAIL, TopicArn: ref(stack.monitoring.topic) });
    gatewayTemplate.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('refuses something that is not an email address', () => {
    expect(() => new PresenceStack(newApp(), 'PresenceBadEmail', { ...props, alarmEmail: 'not-an-address' })).toThrow(/alarmEmail/);
  });

  it('every alarm notifies the topic on ALARM and on OK, with actions enabled, and is named after the stack', () => {
    expect(alarms.size).toBeGreaterThan(0);
    template.resourceCountIs('AWS::CloudWatch::CompositeAlarm', 0);
    const topic = ref(stack.monitoring.topic);
    for (const a of alarms.values()) {
      expect(a.name.startsWith(`${stack.stackName}-`), a.name).toBe(true);
      expect(a.props.AlarmActions, a.name).toEqual([topic]);
      expect(a.props.OKActions, a.name).toEqual([topic]);
      expect(a.props.ActionsEnabled ?? true, a.name).toBe(true);
      expect(a.props.TreatMissingData, a.name).toBe('notBreaching');
    }
  });
});

describe('alarms', () => {
  const fn = (id: string) => {
    const f = stack.functions[id];
    if (!f) throw new Error(`no function ${id}`);
    return ref(f.fn);
  };

  it('stream iterator age: StreamFanout IteratorAge Maximum over 60 s, 3 one-minute periods running', () => {
    const a = alarm('StreamIteratorAge');
    expect(a.metrics).toEqual([{ namespace: 'AWS/Lambda', name: 'IteratorAge', stat: 'Maximum', period: 60, dims: { FunctionName: fn(workers.stream.id) } }]);
    expectRule(a, ALARM_RULES.streamIteratorAgeMs);
    expect(a.props.Threshold).toBe(60_000);
  });

  it('stream DLQ and chunk DLQ: any visible message (ApproximateNumberOfMessagesVisible Maximum > 0)', () => {
    for (const [suffix, queue] of [
      ['StreamFanoutDlq-Messages', stack.streamDlq],
      ['FanoutChunkDlq-Messages', stack.fanoutChunkDlq],
    ] as const) {
      const a = alarm(suffix);
      expect(a.metrics, suffix).toEqual([
        {
          namespace: 'AWS/SQS',
          name: 'ApproximateNumberOfMessagesVisible',
          stat: 'Maximum',
          period: 60,
          dims: { QueueName: { 'Fn::GetAtt': [stack.getLogicalId(queue.node.defaultChild as never), 'QueueName'] } },
        },
      ]);
      expectRule(a, ALARM_RULES.dlqMessages);
      expect(a.props.Threshold).toBe(0);
    }
  });

  it('chunk queue: ApproximateAgeOfOldestMessage Maximum over 300 s, 3 one-minute periods running', () => {
    const a = alarm('FanoutChunkQueue-OldestMessage');
    expect(a.metrics).toEqual([
      {
        namespace: 'AWS/SQS',
        name: 'ApproximateAgeOfOldestMessage',
        stat: 'Maximum',
        period: 60,
        dims: { QueueName: { 'Fn::GetAtt': [stack.getLogicalId(stack.fanoutChunkQueue.node.defaultChild as never), 'QueueName'] } },
      },
    ]);
    expectRule(a, ALARM_RULES.chunkQueueOldestSeconds);
    expect(a.props.Threshold).toBe(300);
  });

  it('Lambda errors and throttles: per role, one alarm per group of at most 10 functions summing each once (Sum per 5 minutes > 0, 2 of 3); every function in one errors and one throttles alarm', () => {
    const names = checkGroupAlarms(template, stack.stackName, 'lambda');
    // 22 HTTP route functions in 3 groups, 11 WebSocket ones in 2, 4 workers (5 for throttles) in 1
    const expected = (['Errors', 'Throttles'] as const).flatMap((kind) =>
      FUNCTION_ROLES.flatMap((role) => {
        const n = Object.keys(stack.functions).filter((id) => roleOf(id) === role && !(kind === 'Errors' && id === workers.wsAuthorizer.id)).length;
        return Array.from({ length: Math.ceil(n / MAX_ALARM_METRICS) }, (_, i) => `${stack.stackName}-${kind}-${ROLE_ALARM_NAME[role]}-${i + 1}`);
      }),
    );
    expect(names.sort()).toEqual(expected.sort());
    expect(names.length).toBe(12);
  });

  it("the WebSocket authorizer's error alarm leaves out token refusals (Errors - AuthorizerRejections); its Errors are in no group alarm", () => {
    const a = alarm(`Errors-${workers.wsAuthorizer.id}`);
    expect(a.expression).toBe('FILL(errors, 0) - FILL(rejections, 0)');
    expect(a.metrics[1]).toEqual({
      namespace: METRICS_NAMESPACE,
      name: MetricName.AuthorizerRejections,
      stat: 'Sum',
      period: 300,
      dims: { [METRIC_SERVICE_DIMENSION]: stack.stackName },
    });
    expectRule(a, ALARM_RULES.functionErrors);
    expect(a.props.Threshold).toBe(0);
    const authorizer = fn(workers.wsAuthorizer.id);
    for (const g of alarms.values()) {
      if (g.name.includes('-Errors-') && g !== a)
        expect(
          g.metrics.map((m) => m.dims.FunctionName),
          g.name,
        ).not.toContainEqual(authorizer);
    }
  });

  it(`no alarm reads more than ${MAX_ALARM_METRICS} metrics (the metric math limit of an alarm), and every description fits (1024 characters)`, () => {
    for (const a of alarms.values()) {
      expect(a.metrics.length, a.name).toBeLessThanOrEqual(MAX_ALARM_METRICS);
      expect((a.props.AlarmDescription as string).length, a.name).toBeLessThanOrEqual(1024);
    }
  });

  it('HTTP API 5xx rate: 5xx / Count over 1 % in 3 of 5 minutes, minutes with fewer than 10 requests not counted', () => {
    const a = alarm('HttpApi-5xxRate');
    expect(a.expression).toBe(`IF(requests >= ${HTTP_5XX_MIN_REQUESTS}, 100 * FILL(errors, 0) / requests, 0)`);
    const dims = { ApiId: ref(stack.httpApi), Stage: '$default' };
    expect(a.metrics).toEqual([
      { namespace: 'AWS/ApiGateway', name: 'Count', stat: 'Sum', period: 60, dims },
      { namespace: 'AWS/ApiGateway', name: '5xx', stat: 'Sum', period: 60, dims },
    ]);
    expectRule(a, ALARM_RULES.http5xxPercent);
    expect(a.props.Threshold).toBe(1);
  });

  it('WebSocket ExecutionError (any, 3 of 5 minutes) and IntegrationError (over 10 a minute, 3 of 5) on the live stage', () => {
    const dims = { ApiId: ref(stack.webSocketApi), Stage: 'live' };
    const exec = alarm('WebSocket-ExecutionErrors');
    expect(exec.metrics).toEqual([{ namespace: 'AWS/ApiGateway', name: 'ExecutionError', stat: 'Sum', period: 60, dims }]);
    expectRule(exec, ALARM_RULES.wsExecutionErrors);
    const integration = alarm('WebSocket-IntegrationErrors');
    expect(integration.metrics).toEqual([{ namespace: 'AWS/ApiGateway', name: 'IntegrationError', stat: 'Sum', period: 60, dims }]);
    expectRule(integration, ALARM_RULES.wsIntegrationErrors);
    expect(integration.props.Threshold).toBe(10);
  });

  it('notify lag: Presence NotifyLag p99 over 2 s in 3 of 5 minutes, minutes with more than 10 samples', () => {
    const a = alarm('NotifyLag-p99');
    expect(a.expression).toBe(`IF(sampleCount > ${NOTIFY_LAG_MIN_SAMPLES}, metric)`);
    const dims = { [METRIC_SERVICE_DIMENSION]: stack.stackName };
    expect(a.metrics).toEqual([
      { namespace: 'Presence', name: 'NotifyLag', stat: 'p99', period: 60, dims },
      { namespace: 'Presence', name: 'NotifyLag', stat: 'SampleCount', period: 60, dims },
    ]);
    expectRule(a, ALARM_RULES.notifyLagP99Ms);
    expect(a.props.Threshold).toBe(2_000);
  });

  it('no other alarm: exactly the ones above', () => {
    const fixed = [
      'StreamIteratorAge',
      'StreamFanoutDlq-Messages',
      'FanoutChunkDlq-Messages',
      'FanoutChunkQueue-OldestMessage',
      'HttpApi-5xxRate',
      'WebSocket-ExecutionErrors',
      'WebSocket-IntegrationErrors',
      'NotifyLag-p99',
    ];
    const groups = [...alarms.keys()].filter((n) => GROUP_ALARM.test(n));
    expect([...alarms.keys()].sort()).toEqual([...[...fixed, `Errors-${workers.wsAuthorizer.id}`].map((s) => `${stack.stackName}-${s}`), ...groups].sort());
    // 21 alarms; with an alarm per function it was 84 (2 per function + the 8 above)
    expect(alarms.size).toBe(21);
    expect(alarms.size).toBeLessThan(2 * Object.keys(stack.functions).length + fixed.length);
  });

  it('the gateway heartbeat mode has no heartbeat Lambda, so no alarm sums it; every other function is covered as in the default mode', () => {
    const names = checkGroupAlarms(gatewayTemplate, gatewayStack.stackName, 'gateway');
    // its 10 WebSocket route functions fit one group
    expect(names.filter((n) => n.includes('-Ws-')).sort()).toEqual([`${gatewayStack.stackName}-Errors-Ws-1`, `${gatewayStack.stackName}-Throttles-Ws-1`]);
    expect(alarmsOf(gatewayTemplate).size).toBe(19);
  });

  it("each alarm's description names its runbook section, and docs/operations.md has that section", () => {
    const doc = readFileSync(resolve(import.meta.dirname, '../..', RUNBOOK), 'utf8');
    const anchors = new Set(
      [...doc.matchAll(/^#{1,6}\s+(.+?)\s*$/gm)].map((m) =>
        (m[1] as string)
          .toLowerCase()
          .replace(/[^\p{L}\p{N}\s_-]/gu, '')
          .replace(/\s/g, '-'),
      ),
    );
    for (const a of alarms.values()) {
      const section = (a.props.AlarmDescription as string).match(new RegExp(`Runbook: ${RUNBOOK}#([a-z0-9-]+)`))?.[1];
      expect(section, a.name).toBeDefined();
      expect(anchors.has(section as string), `${a.name}: ${RUNBOOK}#${section}`).toBe(true);
    }
  });
});

describe('dashboard', () => {
  let body: string;
  beforeAll(() => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard') as Record<string, Resource>);
    expect(dashboards.length).toBe(1);
    expect(dashboards[0]?.Properties.DashboardName).toBe(stack.stackName);
    // the body is an Fn::Join of literal JSON and references: its literal parts are enough here
    body = JSON.stringify(dashboards[0]?.Properties.DashboardBody);
  });

  it('is the one dashboard of the stack, named after it', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('shows traffic: HTTP requests, WebSocket messages and connections', () => {
    for (const m of ['\\"Count\\"', '\\"MessageCount\\"', '\\"ConnectCount\\"', '\\"IntegrationLatency\\"']) expect(body, m).toContain(m);
  });

  it('shows every custom metric (pushes, notify lag, fan-out, sweeper, limits, cold starts)', () => {
    for (const name of Object.values(MetricName)) expect(body, name).toContain(name);
    expect(body).toContain(`\\"${METRICS_NAMESPACE}\\"`);
  });

  it('shows errors, queue depths and ages, DynamoDB consumed capacity and throttles', () => {
    for (const m of [
      'Errors',
      'Throttles',
      'ExecutionError',
      'ApproximateNumberOfMessagesVisible',
      'ApproximateAgeOfOldestMessage',
      'ConsumedReadCapacityUnits',
      'ConsumedWriteCapacityUnits',
      'ReadThrottleEvents',
      'WriteThrottleEvents',
      'IteratorAge',
    ])
      expect(body, m).toContain(`\\"${m}\\"`);
  });

  it('lists every alarm in its alarm status widget (at most 100, the widget limit)', () => {
    expect(body).toContain('\\"type\\":\\"alarm\\"');
    expect(alarms.size).toBeLessThanOrEqual(100);
    const alarmIds = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
    const listed = alarmIds.filter((id) => body.includes(JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] })));
    expect(listed.sort()).toEqual(alarmIds.sort());
  });
});

describe('roles', () => {
  it('a compatibility facade function serves HTTP routes: role http, grouped and alarmed with them', () => {
    for (const f of facades) expect(roleOf(f.id), f.id).toBe('http');
    expect(roleOf(httpRoutes[0]?.id as string)).toBe('http');
    expect(roleOf(workers.sweeper.id)).toBe('worker');
  });
});
