/**
 * The `gateway` heartbeat mode's template (`cdk synth -c heartbeat=gateway`):
 * the heartbeat route is a one-way MOCK integration (no Lambda behind it),
 * and only the sweeper may read connections (GetConnection), nothing more.
 * bin/app.ts's synth in that mode also takes `-c alarmEmail` (lib/constructs/monitoring.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { PresenceStack } from '../../lib/presence-stack.ts';
import { FUNCTION_TAG, HEARTBEAT_ROUTE_KEY, type HeartbeatMode, workers, wsRoutes } from '../../lib/routes.ts';
import { type CfnTemplate, functionsById, heartbeatModeOf } from '../../local/template.ts';

type Resource = { Type: string; Properties: Record<string, any> };
const templates = {} as Record<HeartbeatMode, Template>;

beforeAll(() => {
  for (const heartbeat of ['lambda', 'gateway'] as const) {
    const stack = new PresenceStack(new App(), `Hb${heartbeat}`, { jwtIssuer: 'https://auth.example.com/', jwtAudience: ['presence'], heartbeat });
    templates[heartbeat] = Template.fromStack(stack);
  }
}, 180_000);

const json = (t: Template) => t.toJSON() as CfnTemplate;
const heartbeatRoute = (t: Template) =>
  Object.values(t.findResources('AWS::ApiGatewayV2::Route') as Record<string, Resource>).find((r) => r.Properties.RouteKey === HEARTBEAT_ROUTE_KEY);
const statementsOf = (t: Template, id: string): { Action: string | string[]; Resource: unknown }[] => {
  const fn = functionsById(json(t)).get(id) as Resource | undefined;
  const role = fn?.Properties.Role['Fn::GetAtt'][0];
  return Object.values(t.findResources('AWS::IAM::Policy') as Record<string, Resource>)
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === role))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
};
const managedBy = (t: Template, id: string): string[] =>
  statementsOf(t, id)
    .filter((s: { Action: string | string[] }) => [s.Action].flat().includes('execute-api:ManageConnections'))
    .map((s: { Resource: unknown }) => JSON.stringify(s.Resource));
/** the DynamoDB actions a function may take on the Graph table */
const graphActions = (t: Template, id: string): string[] =>
  statementsOf(t, id)
    .filter((s) => JSON.stringify(s.Resource).includes('"Graph'))
    .flatMap((s) => [s.Action].flat())
    .sort();

describe('heartbeat modes in the template', () => {
  it('gateway: the heartbeat route is a one-way MOCK integration and no heartbeat Lambda exists', () => {
    const t = templates.gateway;
    const route = heartbeatRoute(t) as Resource;
    expect(route.Properties.RouteResponseSelectionExpression).toBeUndefined();
    const integrationId = route.Properties.Target['Fn::Join'][1][1].Ref as string;
    expect(json(t).Resources[integrationId]?.Properties?.IntegrationType).toBe('MOCK');
    const heartbeatFn = wsRoutes.find((r) => r.routeKey === HEARTBEAT_ROUTE_KEY)?.id as string;
    expect(functionsById(json(t)).has(heartbeatFn)).toBe(false);
    expect(heartbeatModeOf(json(t))).toBe('gateway');
  });

  it('lambda (default): the heartbeat route invokes its Lambda, one-way (answered through @connections)', () => {
    const t = templates.lambda;
    const route = heartbeatRoute(t) as Resource;
    expect(route.Properties.RouteResponseSelectionExpression).toBeUndefined();
    const integrationId = route.Properties.Target['Fn::Join'][1][1].Ref as string;
    expect(json(t).Resources[integrationId]?.Properties?.IntegrationType).toBe('AWS_PROXY');
    expect(heartbeatModeOf(json(t))).toBe('lambda');
    const heartbeatFn = wsRoutes.find((r) => r.routeKey === HEARTBEAT_ROUTE_KEY)?.id as string;
    expect(managedBy(t, heartbeatFn)).toEqual([expect.stringMatching(/\/live\/POST\/@connections\/\*"/)]);
  });

  it('only the gateway mode lets the sweeper read connections (GET, nothing else) and tells it the mode', () => {
    for (const mode of ['lambda', 'gateway'] as const) {
      const fn = functionsById(json(templates[mode])).get(workers.sweeper.id) as Resource;
      expect(fn.Properties.Environment.Variables.HEARTBEAT_MODE).toBe(mode);
      expect(fn.Properties.Tags.some((tag: { Key: string }) => tag.Key === FUNCTION_TAG)).toBe(true);
    }
    expect(managedBy(templates.lambda, workers.sweeper.id)).toEqual([]);
    expect(managedBy(templates.gateway, workers.sweeper.id)).toEqual([expect.stringMatching(/\/live\/GET\/@connections\/\*"/)]);
  });

  it('gateway: the routes that (re)add a connection device write its liveness entry, and the sweeper reads and moves the wheel', () => {
    for (const id of ['WsConnect', 'WsDefault', 'WsSetPresence']) {
      expect(graphActions(templates.gateway, id)).toContain('dynamodb:BatchWriteItem');
    }
    expect(graphActions(templates.lambda, 'WsConnect')).toEqual([]);
    expect(graphActions(templates.gateway, 'WsDisconnect')).toEqual(graphActions(templates.lambda, 'WsDisconnect'));
    const sweeper = graphActions(templates.gateway, workers.sweeper.id);
    for (const action of ['Query', 'BatchWriteItem', 'GetItem', 'PutItem']) expect(sweeper).toContain(`dynamodb:${action}`);
    expect(graphActions(templates.lambda, workers.sweeper.id)).not.toContain('dynamodb:BatchWriteItem');
  });

  it("`cdk synth -c heartbeat=gateway -c alarmEmail=…` passes cdk-nag (the sweeper's GetConnection grant is acknowledged with its reason) and subscribes the address to the alarm topic", () => {
    const out = mkdtempSync(join(tmpdir(), 'presence-gateway-'));
    try {
      const context = { 'aws:cdk:bundling-stacks': [], heartbeat: 'gateway', alarmEmail: 'ops@example.com' };
      const res = spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
        cwd: resolve(import.meta.dirname, '../..'),
        encoding: 'utf8',
        env: { ...process.env, CDK_OUTDIR: out, CDK_CONTEXT_JSON: JSON.stringify(context) },
      });
      expect(res.stderr).not.toContain('AwsSolutions-IAM5');
      expect(res.status).toBe(0);
      const synthesized = Template.fromJSON(JSON.parse(readFileSync(join(out, 'Presence.template.json'), 'utf8')));
      synthesized.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
    // a full synth runs cdk-nag and cfn-guard on a template that the alarms and dashboard made ~3x larger
  }, 240_000);
});
