/**
 * Assertions on the synthesized CloudFormation template of PresenceStack:
 * tables, APIs and authorizers, one Lambda per entry of lib/routes.ts with
 * grants derived from the route's `access`, the stream consumer's error
 * handling and filter, the sweeper schedule.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE } from '../../functions/commons/metric-names.ts';
import { FUNCTION_TAG } from '../../lib/constructs/presence-function.ts';
import { PresenceStack } from '../../lib/presence-stack.ts';
import {
  type Access,
  COMPAT_NONE,
  facadeAccess,
  facadeRoutes,
  facades,
  HEARTBEAT_ROUTE_KEY,
  httpRoutes,
  parseCompat,
  routeScopes,
  SCOPES,
  workers,
  wsRoutes,
} from '../../lib/routes.ts';
import { graphTable, presenceTable, STREAM_PARALLELIZATION, STREAM_RETRY_ATTEMPTS, streamFilterPatterns, type TableDef } from '../../lib/tables.ts';

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string };

const ISSUER = 'https://issuer.test/';
const AUDIENCE = ['presence-api', 'second-audience'];

let app: App;
let stack: PresenceStack;
let template: Template;
/** route/worker id -> access, for every function the stack must have */
const accessById = new Map<string, Access>([
  ...httpRoutes.map((r) => [r.id, r.access] as const),
  ...wsRoutes.map((r) => [r.id, r.access] as const),
  ...Object.values(workers).map((w) => [w.id, w.access as Access] as const),
  ...facades.map((f) => [f.id, facadeAccess(f)] as const),
]);
/** one function per HTTP route, WebSocket route, worker and compatibility facade */
const FUNCTION_COUNT = httpRoutes.length + wsRoutes.length + Object.keys(workers).length + facades.length;

/** logical id -> AWS::Lambda::Function carrying our tag, keyed by route/worker id */
let ourFunctions: Map<string, { logicalId: string; resource: Resource }>;
let httpApiId: string;
let wsApiId: string;
let presenceTableId: string;
let graphTableId: string;

const tagValue = (resource: Resource, key: string): string | undefined =>
  (resource.Properties.Tags as { Key: string; Value: string }[] | undefined)?.find((t) => t.Key === key)?.Value;

const roleOf = (fn: Resource): string => {
  const role = fn.Properties.Role as { 'Fn::GetAtt': [string, string] };
  return role['Fn::GetAtt'][0];
};

/** IAM policy documents attached to a function's role */
const policiesOf = (fn: Resource): unknown[] => {
  const role = roleOf(fn);
  return Object.values(template.findResources('AWS::IAM::Policy') as Record<string, Resource>)
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role))
    .map((p) => p.Properties.PolicyDocument);
};

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
const statementsOf = (fn: Resource): Statement[] => policiesOf(fn).flatMap((doc) => (doc as { Statement: Statement[] }).Statement);
const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const mentions = (value: unknown, logicalId: string) => JSON.stringify(value).includes(`"${logicalId}"`);

const tableIdFor = (def: TableDef) => (def.id === 'Presence' ? presenceTableId : graphTableId);

beforeAll(() => {
  app = new App();
  stack = new PresenceStack(app, 'PresenceTest', {
    env: { account: '123456789012', region: 'eu-west-1' },
    jwtIssuer: ISSUER,
    jwtAudience: AUDIENCE,
  });
  template = Template.fromStack(stack);

  ourFunctions = new Map();
  for (const [logicalId, resource] of Object.entries(template.findResources('AWS::Lambda::Function') as Record<string, Resource>)) {
    const id = tagValue(resource, FUNCTION_TAG);
    if (id !== undefined) ourFunctions.set(id, { logicalId, resource });
  }
  httpApiId = stack.getLogicalId(stack.httpApi.node.defaultChild as never);
  wsApiId = stack.getLogicalId(stack.webSocketApi.node.defaultChild as never);
  presenceTableId = stack.getLogicalId(stack.tables.Presence.table.node.defaultChild as never);
  graphTableId = stack.getLogicalId(stack.tables.Graph.table.node.defaultChild as never);
}, 180_000);

const fnById = (id: string) => {
  const f = ourFunctions.get(id);
  if (!f) throw new Error(`no function tagged ${FUNCTION_TAG}=${id}`);
  return f;
};

describe('DynamoDB tables', () => {
  it.each([presenceTable, graphTable])('$id table: on-demand, TTL "ttl", point-in-time recovery, pk/sk string keys, no physical name, retained', (def) => {
    const tables = template.findResources('AWS::DynamoDB::GlobalTable') as Record<string, Resource>;
    const table = tables[tableIdFor(def)];
    expect(table, `table ${def.id}`).toBeDefined();
    if (!table) return;
    const p = table.Properties;
    expect(p.BillingMode).toBe('PAY_PER_REQUEST');
    expect(p.TimeToLiveSpecification).toEqual({ AttributeName: 'ttl', Enabled: true });
    expect(p.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    for (const replica of p.Replicas as { PointInTimeRecoverySpecification?: unknown }[]) {
      expect(replica.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    }
    expect(p.TableName).toBeUndefined();
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
  });

  it.each([presenceTable, graphTable])('$id table: every GSI of lib/tables.ts with its key types and projection', (def) => {
    const p = (template.findResources('AWS::DynamoDB::GlobalTable') as Record<string, Resource>)[tableIdFor(def)]?.Properties;
    expect(p).toBeDefined();
    const gsis = p?.GlobalSecondaryIndexes as { IndexName: string; KeySchema: unknown; Projection: unknown }[];
    expect(gsis.map((g) => g.IndexName).sort()).toEqual(def.indexes.map((i) => i.name).sort());
    for (const index of def.indexes) {
      const gsi = gsis.find((g) => g.IndexName === index.name);
      expect(gsi?.KeySchema).toEqual([
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ]);
      // an empty projection list is KEYS_ONLY (lib/constructs/presence-tables.ts)
      expect(gsi?.Projection).toEqual(
        index.projection === 'ALL'
          ? { ProjectionType: 'ALL' }
          : index.projection.length === 0
            ? { ProjectionType: 'KEYS_ONLY' }
            : { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projection] },
      );
      expect(p?.AttributeDefinitions).toContainEqual({ AttributeName: index.sortKey, AttributeType: index.sortKeyType });
    }
  });

  it('presence table streams NEW_AND_OLD_IMAGES; graph table has no stream', () => {
    const tables = template.findResources('AWS::DynamoDB::GlobalTable') as Record<string, Resource>;
    expect(tables[presenceTableId]?.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(tables[graphTableId]?.Properties.StreamSpecification).toBeUndefined();
  });
});

describe('HTTP API', () => {
  it('has a JWT authorizer with the configured issuer and audiences on the Authorization header', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      ApiId: { Ref: httpApiId },
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: ISSUER, Audience: AUDIENCE },
    });
  });

  it.each(httpRoutes.map((r) => [`${r.method} ${r.path}`, r] as const))('route %s exists behind the JWT authorizer with its scope', (routeKey, route) => {
    const scopes = routeScopes(route);
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      ApiId: { Ref: httpApiId },
      RouteKey: routeKey,
      AuthorizationType: 'JWT',
      AuthorizerId: Match.anyValue(),
      AuthorizationScopes: scopes.length ? scopes : Match.absent(),
    });
  });

  it('sys/admin/app routes carry their AuthorizationScopes (and there is at least one such route, and one open to two scopes)', () => {
    const scoped = httpRoutes.filter((r) => SCOPES[r.auth]);
    expect(scoped.length).toBeGreaterThan(0);
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route') as Record<string, Resource>);
    for (const r of scoped) {
      const found = routes.find((x) => x.Properties.RouteKey === `${r.method} ${r.path}`);
      expect(found?.Properties.AuthorizationScopes, r.id).toEqual(routeScopes(r));
    }
    const online = routes.find((x) => x.Properties.RouteKey === 'GET /v1/admin/presence');
    expect(online?.Properties.AuthorizationScopes).toEqual([SCOPES.admin, SCOPES.app]);
  });

  it('has no routes besides those of lib/routes.ts', () => {
    const keys = Object.values(
      template.findResources('AWS::ApiGatewayV2::Route', { Properties: { ApiId: { Ref: httpApiId } } }) as Record<string, Resource>,
    ).map((r) => r.Properties.RouteKey);
    expect(keys.sort()).toEqual([...httpRoutes.map((r) => `${r.method} ${r.path}`), ...facadeRoutes().map((r) => r.routeKey)].sort());
  });

  it.each(facadeRoutes().map((r) => [r.routeKey, r] as const))(
    'facade route %s: no gateway authorizer (its function verifies the token), integrated with its facade function',
    (routeKey, route) => {
      const [routeResource] = Object.values(
        template.findResources('AWS::ApiGatewayV2::Route', { Properties: { ApiId: { Ref: httpApiId }, RouteKey: routeKey } }) as Record<string, Resource>,
      );
      expect(routeResource?.Properties.AuthorizationType).toBe('NONE');
      expect(routeResource?.Properties.AuthorizerId).toBeUndefined();
      const target = JSON.stringify(routeResource?.Properties.Target);
      const integrations = template.findResources('AWS::ApiGatewayV2::Integration', {
        Properties: { IntegrationUri: { 'Fn::GetAtt': [fnById(route.facade.id).logicalId, 'Arn'] } },
      });
      // one integration per facade, shared by its routes
      expect(Object.keys(integrations)).toHaveLength(1);
      expect(target).toContain(Object.keys(integrations)[0]);
    },
  );

  it('facade functions get the token verifier settings the WebSocket authorizer gets', () => {
    for (const f of facades) {
      const env = fnById(f.id).resource.Properties.Environment.Variables as Record<string, unknown>;
      expect(env, f.id).toMatchObject({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE.join(','), JWT_JWKS_URL: 'https://issuer.test/.well-known/jwks.json' });
    }
  });

  it('-c genericBroadcast: $connect may count and register the connections that hear every change; $connect and the stream get the cap', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const on = new PresenceStack(app, 'PresenceBroadcast', { jwtIssuer: ISSUER, jwtAudience: AUDIENCE, genericBroadcast: 50 });
    const t = Template.fromStack(on);
    const envOf = (id: string) => {
      const fn = Object.values(t.findResources('AWS::Lambda::Function') as Record<string, Resource>).find((r) => tagValue(r, FUNCTION_TAG) === id);
      return fn?.Properties.Environment.Variables as Record<string, unknown>;
    };
    const connect = wsRoutes.find((r) => r.routeKey === '$connect') as (typeof wsRoutes)[number];
    for (const id of [connect.id, workers.stream.id]) expect(envOf(id).GENERIC_BROADCAST_MAX, id).toBe('50');
    expect(envOf(workers.sweeper.id).GENERIC_BROADCAST_MAX).toBeUndefined();
    // off by default: nothing set, and $connect's access as lib/routes.ts declares it
    expect(fnById(connect.id).resource.Properties.Environment.Variables.GENERIC_BROADCAST_MAX).toBeUndefined();
    const graphActions = (template: Template, s: PresenceStack) => {
      const graphArn = JSON.stringify({ 'Fn::GetAtt': [s.getLogicalId(s.tables.Graph.table.node.defaultChild as never), 'Arn'] });
      const fnResource = Object.values(template.findResources('AWS::Lambda::Function') as Record<string, Resource>).find(
        (r) => tagValue(r, FUNCTION_TAG) === connect.id,
      ) as Resource;
      const role = roleOf(fnResource);
      return Object.values(template.findResources('AWS::IAM::Policy') as Record<string, Resource>)
        .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
        .filter((st) => JSON.stringify(st.Resource).includes(graphArn.slice(1, -1)))
        .flatMap(actionsOf)
        .sort();
    };
    expect(graphActions(t, on)).toEqual(['dynamodb:PutItem', 'dynamodb:Query']);
    expect(graphActions(template, stack)).toEqual([]);
    expect(() => new PresenceStack(new App(), 'NoGeneric', { jwtIssuer: ISSUER, jwtAudience: AUDIENCE, genericBroadcast: 5, compat: [] })).toThrow(
      /generic facade/,
    );
  });

  it('-c compat: a facade switched off has no function and no route; none switches every facade off', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const off = Template.fromStack(new PresenceStack(app, 'PresenceNoCompat', { jwtIssuer: ISSUER, jwtAudience: AUDIENCE, compat: parseCompat(COMPAT_NONE) }));
    const routeKeys = Object.values(off.findResources('AWS::ApiGatewayV2::Route') as Record<string, Resource>).map((r) => r.Properties.RouteKey);
    for (const r of facadeRoutes()) expect(routeKeys).not.toContain(r.routeKey);
    expect(routeKeys).toEqual(expect.arrayContaining(httpRoutes.map((r) => `${r.method} ${r.path}`)));
    const ids = Object.values(off.findResources('AWS::Lambda::Function') as Record<string, Resource>).map((r) => tagValue(r, FUNCTION_TAG));
    for (const f of facades) expect(ids).not.toContain(f.id);
    expect(ids.filter((id) => id !== undefined)).toHaveLength(FUNCTION_COUNT - facades.length);
  });

  it('-c agoraOrg / agoraApp: the Agora routes serve that org/app pair as literal segments, and its function is told the same', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const segments = { AGORA_ORG: '5101220107132865', AGORA_APP: 'test' };
    const t = Template.fromStack(
      new PresenceStack(app, 'PresenceAgora', { jwtIssuer: ISSUER, jwtAudience: AUDIENCE, compat: parseCompat('agora'), facadeSegments: segments }),
    );
    const routeKeys = Object.values(t.findResources('AWS::ApiGatewayV2::Route') as Record<string, Resource>).map((r) => r.Properties.RouteKey);
    const agora = routeKeys.filter((k) => k.includes('/users/{uid}/presence'));
    expect(agora.sort()).toEqual(
      facadeRoutes(parseCompat('agora'), segments)
        .map((r) => r.routeKey)
        .sort(),
    );
    expect(agora.every((k) => k.includes(' /5101220107132865/test/users/'))).toBe(true);
    const fn = Object.values(t.findResources('AWS::Lambda::Function') as Record<string, Resource>).find((r) => tagValue(r, FUNCTION_TAG) === 'CompatAgora');
    expect(fn?.Properties.Environment.Variables).toMatchObject(segments);
    // the default: local / presence
    expect(Object.values(template.findResources('AWS::ApiGatewayV2::Route') as Record<string, Resource>).map((r) => r.Properties.RouteKey)).toContain(
      'GET /local/presence/users/{uid}/presence/sublist',
    );
    expect(() => new PresenceStack(app, 'PresenceBadOrg', { jwtIssuer: ISSUER, jwtAudience: AUDIENCE, facadeSegments: { AGORA_ORG: 'a/b' } })).toThrow(
      /AGORA_ORG/,
    );
  });

  it('each route integrates its own Lambda (payload format 2.0)', () => {
    for (const route of httpRoutes) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
        ApiId: { Ref: httpApiId },
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: { 'Fn::GetAtt': [fnById(route.id).logicalId, 'Arn'] },
      });
    }
  });

  it('$default stage auto-deploys with throttling and JSON access logs', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      ApiId: { Ref: httpApiId },
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
    });
    const stage = Object.values(
      template.findResources('AWS::ApiGatewayV2::Stage', { Properties: { ApiId: { Ref: httpApiId } } }) as Record<string, Resource>,
    )[0];
    const format = JSON.parse(stage?.Properties.AccessLogSettings.Format as string) as Record<string, string>;
    expect(Object.keys(format)).toEqual(expect.arrayContaining(['requestId', 'ip', 'routeKey', 'status', 'responseLength', 'integrationError']));
    expect(format.requestId).toBe('$context.requestId');
  });
});

describe('WebSocket API', () => {
  it('selects routes by $request.body.action', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: '$request.body.action',
    });
  });

  it('$connect has a Lambda REQUEST authorizer reading the token query parameter, backed by the ws-authorizer worker', () => {
    const authorizers = template.findResources('AWS::ApiGatewayV2::Authorizer', {
      Properties: { ApiId: { Ref: wsApiId }, AuthorizerType: 'REQUEST', IdentitySource: ['route.request.querystring.token'] },
    });
    const [authorizerId, authorizer] = Object.entries(authorizers)[0] ?? [];
    expect(authorizerId).toBeDefined();
    expect(JSON.stringify(authorizer)).toContain(fnById(workers.wsAuthorizer.id).logicalId);
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      ApiId: { Ref: wsApiId },
      RouteKey: '$connect',
      AuthorizationType: 'CUSTOM',
      AuthorizerId: { Ref: authorizerId },
    });
  });

  it('has exactly the routes of lib/routes.ts, each integrated with its own Lambda', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route', { Properties: { ApiId: { Ref: wsApiId } } }) as Record<string, Resource>);
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(wsRoutes.map((r) => r.routeKey).sort());
    const integrations = Object.values(
      template.findResources('AWS::ApiGatewayV2::Integration', { Properties: { ApiId: { Ref: wsApiId }, IntegrationType: 'AWS_PROXY' } }) as Record<
        string,
        Resource
      >,
    );
    for (const route of wsRoutes) {
      const { logicalId } = fnById(route.id);
      expect(
        integrations.filter((i) => mentions(i.Properties.IntegrationUri, logicalId)),
        route.routeKey,
      ).toHaveLength(1);
    }
  });

  it('routes other than $connect/$disconnect return the handler response to the client, except one-way routes', () => {
    const routes = template.findResources('AWS::ApiGatewayV2::Route', { Properties: { ApiId: { Ref: wsApiId } } }) as Record<string, Resource>;
    const responses = Object.values(template.findResources('AWS::ApiGatewayV2::RouteResponse') as Record<string, Resource>);
    for (const route of wsRoutes) {
      const [routeId, r] = Object.entries(routes).find(([, x]) => x.Properties.RouteKey === route.routeKey) ?? [];
      const hasResponse = responses.some((x) => x.Properties.RouteId?.Ref === routeId && x.Properties.RouteResponseKey === '$default');
      const wantsResponse = route.routeKey !== '$connect' && route.routeKey !== '$disconnect' && !route.oneWay;
      expect(hasResponse, route.routeKey).toBe(wantsResponse);
      if (wantsResponse) expect(r?.Properties.RouteResponseSelectionExpression, route.routeKey).toBe('$default');
      else expect(r?.Properties.RouteResponseSelectionExpression, route.routeKey).toBeUndefined();
    }
    // the heartbeat is one-way: API Gateway sends nothing back unless the function posts an answer
    expect(wsRoutes.find((r) => r.routeKey === HEARTBEAT_ROUTE_KEY)?.oneWay).toBe(true);
  });

  it('stage "live" auto-deploys with throttling and access logs', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      ApiId: { Ref: wsApiId },
      StageName: 'live',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('\\$context\\.requestId') },
    });
    // WebSocket access logging needs the account-level CloudWatch role
    template.resourceCountIs('AWS::ApiGateway::Account', 1);
  });

  it('ws authorizer gets issuer, every audience (comma-separated) and the default JWKS url', () => {
    const env = fnById(workers.wsAuthorizer.id).resource.Properties.Environment.Variables as Record<string, unknown>;
    expect(env.JWT_ISSUER).toBe(ISSUER);
    expect(env.JWT_AUDIENCE).toBe(AUDIENCE.join(','));
    expect(env.JWT_JWKS_URL).toBe('https://issuer.test/.well-known/jwks.json');
  });
});

describe('Lambda functions', () => {
  it('one function per HTTP route, WebSocket route and worker (no more, no fewer)', () => {
    expect(ourFunctions.size).toBe(FUNCTION_COUNT);
    expect([...ourFunctions.keys()].sort()).toEqual([...accessById.keys()].sort());
    const handlerFunctions = template.findResources('AWS::Lambda::Function', {
      Properties: { Handler: 'index.handler', Tags: Match.arrayWith([Match.objectLike({ Key: FUNCTION_TAG })]) },
    });
    expect(Object.keys(handlerFunctions)).toHaveLength(FUNCTION_COUNT);
  });

  it('every Lambda in the template is arm64 on nodejs24.x', () => {
    const all = Object.values(template.findResources('AWS::Lambda::Function') as Record<string, Resource>);
    expect(all.length).toBeGreaterThan(0);
    for (const fn of all) {
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
    }
  });

  it('house defaults: 256 MB, source maps, Powertools configured, explicit log group with retention, 29 s for API routes', () => {
    for (const [id, { resource }] of ourFunctions) {
      const p = resource.Properties;
      expect(p.MemorySize, id).toBe(256);
      expect(p.Environment.Variables.NODE_OPTIONS, id).toBe('--enable-source-maps');
      expect(p.Environment.Variables, id).toMatchObject({
        POWERTOOLS_SERVICE_NAME: stack.stackName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        POWERTOOLS_LOGGER_SAMPLE_RATE: '0.01',
      });
      expect(p.Environment.Variables.PRESENCE_TIMEOUT_SECONDS, id).toBe('120');
      expect(p.Environment.Variables.SWEEP_INTERVAL_SECONDS, id).toBe('15');
      const logGroup = p.LoggingConfig?.LogGroup?.Ref as string;
      expect(logGroup, id).toBeDefined();
      expect((template.findResources('AWS::Logs::LogGroup') as Record<string, Resource>)[logGroup]?.Properties.RetentionInDays, id).toBeGreaterThan(0);
    }
    for (const route of [...httpRoutes, ...wsRoutes, ...facades]) expect(fnById(route.id).resource.Properties.Timeout, route.id).toBe(29);
    expect(fnById(workers.sweeper.id).resource.Properties.Timeout).toBe(90);
  });

  it('X-Ray is off by default: no function is traced, no role may write traces, and the bundles of the traced workers carry no X-Ray SDK', () => {
    for (const [id, { resource }] of ourFunctions) {
      expect(resource.Properties.TracingConfig, id).toBeUndefined();
      expect(resource.Properties.Environment.Variables.POWERTOOLS_TRACE_ENABLED, id).toBe('false');
      expect(
        statementsOf(resource)
          .flatMap(actionsOf)
          .filter((a) => a.startsWith('xray:')),
        id,
      ).toEqual([]);
    }
    // the bundles cdk synth built (the Code's asset): the Tracer's dynamic import was dropped at build time (functions/commons/traced.ts)
    for (const worker of [workers.stream, workers.fanoutChunk, workers.sweeper]) {
      const key = fnById(worker.id).resource.Properties.Code.S3Key as string;
      const source = readFileSync(join(app.outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs'), 'utf8');
      expect(source.length, worker.id).toBeGreaterThan(10_000);
      expect(source, worker.id).not.toContain('AWS_XRAY_DAEMON_ADDRESS');
      expect(source, worker.id).not.toContain('captureAWSv3Client');
    }
  });

  it('-c tracing=on: X-Ray on the traced workers only (stream consumer, chunk worker, sweeper), and their roles alone may write traces', () => {
    const traced = Object.values(workers as Record<string, { id: string; traced?: true }>)
      .filter((w) => w.traced)
      .map((w) => w.id);
    expect(traced.sort()).toEqual([workers.fanoutChunk.id, workers.stream.id, workers.sweeper.id].sort());
    const on = Template.fromStack(
      new PresenceStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'PresenceTraced', { jwtIssuer: ISSUER, jwtAudience: AUDIENCE, tracing: true }),
    );
    const fns = Object.values(on.findResources('AWS::Lambda::Function') as Record<string, Resource>).filter((r) => tagValue(r, FUNCTION_TAG) !== undefined);
    expect(fns).toHaveLength(FUNCTION_COUNT);
    const policies = Object.values(on.findResources('AWS::IAM::Policy') as Record<string, Resource>);
    for (const resource of fns) {
      const id = tagValue(resource, FUNCTION_TAG) as string;
      const isTraced = traced.includes(id);
      expect(resource.Properties.TracingConfig, id).toEqual(isTraced ? { Mode: 'Active' } : undefined);
      expect(resource.Properties.Environment.Variables.POWERTOOLS_TRACE_ENABLED, id).toBe(String(isTraced));
      const xray = policies
        .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleOf(resource)))
        .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
        .flatMap(actionsOf)
        .filter((a) => a.startsWith('xray:'));
      expect(xray.sort(), id).toEqual(isTraced ? ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'] : []);
    }
  });

  it('own execution role per function: no AWS managed policy, logs only to its own log group', () => {
    const roles = template.findResources('AWS::IAM::Role') as Record<string, Resource>;
    const roleIds = new Set<string>();
    for (const [id, { resource }] of ourFunctions) {
      const roleId = roleOf(resource);
      roleIds.add(roleId);
      expect(roles[roleId]?.Properties.ManagedPolicyArns, id).toBeUndefined();
      const logGroup = resource.Properties.LoggingConfig.LogGroup.Ref as string;
      const logStatements = statementsOf(resource).filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
      expect(logStatements, id).toEqual([
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [logGroup, 'Arn'] } },
      ]);
    }
    expect(roleIds.size, 'one role per function').toBe(ourFunctions.size);
  });

  it("table env vars are set exactly for the tables a route's access names", () => {
    for (const [id, access] of accessById) {
      const env = fnById(id).resource.Properties.Environment.Variables as Record<string, unknown>;
      expect(env.PRESENCE_TABLE, id).toEqual(access.presence ? { Ref: presenceTableId } : undefined);
      expect(env.GRAPH_TABLE, id).toEqual(access.graph ? { Ref: graphTableId } : undefined);
    }
  });

  it("least privilege: no IAM statement references a table the route's access does not name", () => {
    for (const [id, access] of accessById) {
      const fn = fnById(id).resource;
      const statements = statementsOf(fn);
      if (!access.graph)
        expect(
          statements.filter((s) => mentions(s.Resource, graphTableId)),
          `${id} must not touch Graph`,
        ).toEqual([]);
      if (!access.presence)
        expect(
          statements.filter((s) => mentions(s.Resource, presenceTableId)),
          `${id} must not touch Presence`,
        ).toEqual([]);
    }
    // the authorizer touches no table at all
    expect(
      statementsOf(fnById(workers.wsAuthorizer.id).resource).filter((s) => mentions(s.Resource, presenceTableId) || mentions(s.Resource, graphTableId)),
    ).toEqual([]);
  });

  it("least privilege: each function has exactly its access's actions: item actions on the table, Query on the indexes only for QueryIndex", () => {
    for (const [id, access] of accessById) {
      const statements = statementsOf(fnById(id).resource);
      for (const [actions, def] of [
        [access.presence, presenceTable],
        [access.graph, graphTable],
      ] as const) {
        if (!actions) continue;
        const tableId = tableIdFor(def);
        const arn = { 'Fn::GetAtt': [tableId, 'Arn'] };
        // (the stream consumer's stream grant is on the table's StreamArn: not a table statement)
        const onTable = statements.filter((s) => JSON.stringify(s.Resource) === JSON.stringify(arn));
        const onIndexes = statements.filter((s) => JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::Join': ['', [arn, '/index/*']] }));
        const itemActions = actions.filter((a) => a !== 'QueryIndex').map((a) => `dynamodb:${a}`);
        expect(onTable.flatMap(actionsOf).sort(), `${id} ${def.id}`).toEqual([...new Set(itemActions)].sort());
        expect(onIndexes.flatMap(actionsOf), `${id} ${def.id} indexes`).toEqual(actions.includes('QueryIndex') ? ['dynamodb:Query'] : []);
      }
    }
  });

  it('only the sweep and the online list query the Presence indexes, and no function may Query its table', () => {
    const queriesPresenceIndex = [...accessById].filter(([, a]) => a.presence?.includes('QueryIndex')).map(([id]) => id);
    // the admin cleanup, and the generic facade's (the same sweep); the online list, and the RingCentral facade's (the same list)
    expect(queriesPresenceIndex.sort()).toEqual(['AdminCleanup', 'CompatGeneric', 'CompatRingCentral', 'GetOnlinePresence', 'Sweeper']);
    expect([...accessById].filter(([, a]) => a.presence?.includes('Query'))).toEqual([]);
  });

  it('no policy in the template grants dynamodb:Scan (or a dynamodb wildcard action)', () => {
    const policies = Object.entries(template.findResources('AWS::IAM::Policy') as Record<string, Resource>);
    expect(policies.length).toBeGreaterThan(0);
    for (const [policyId, p] of policies) {
      const actions = (p.Properties.PolicyDocument.Statement as Statement[]).flatMap(actionsOf);
      expect(
        actions.filter((a) => a === 'dynamodb:Scan' || (a.startsWith('dynamodb:') && a.includes('*'))),
        policyId,
      ).toEqual([]);
    }
  });

  it('no function may DeleteItem or BatchWriteItem on the Presence table (nothing deletes Presence items)', () => {
    const policies = Object.entries(template.findResources('AWS::IAM::Policy') as Record<string, Resource>);
    for (const [policyId, p] of policies) {
      for (const s of p.Properties.PolicyDocument.Statement as Statement[]) {
        if (!mentions(s.Resource, presenceTableId)) continue;
        expect(
          actionsOf(s).filter((a) => a === 'dynamodb:DeleteItem' || a === 'dynamodb:BatchWriteItem'),
          policyId,
        ).toEqual([]);
      }
    }
  });

  it('only functions with access.connections may manage WebSocket connections, on the live stage only', () => {
    for (const [id, access] of accessById) {
      const { resource } = fnById(id);
      const manage = statementsOf(resource).filter((s) => actionsOf(s).includes('execute-api:ManageConnections'));
      const env = resource.Properties.Environment.Variables as Record<string, unknown>;
      if (access.connections) {
        expect(manage, id).toHaveLength(1);
        // PostToConnection only (GET is the gateway heartbeat mode's sweeper): this stage, POST, any connection id
        expect(JSON.stringify(manage[0]?.Resource), id).toMatch(/\/live\/POST\/@connections\/\*"/);
        expect(JSON.stringify(manage[0]?.Resource), id).not.toMatch(/\/(GET|DELETE)\//);
        expect(JSON.stringify(env.WS_CALLBACK_URL), id).toContain(wsApiId);
        expect(JSON.stringify(env.WS_CALLBACK_URL), id).toContain('/live');
      } else {
        expect(manage, id).toEqual([]);
        expect(env.WS_CALLBACK_URL, id).toBeUndefined();
      }
    }
  });
});

describe('stream fan-out', () => {
  it('event source mapping on the presence stream: bounded retries, bisect, max age, partial batch response, DLQ', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2); // the presence stream, and the fan-out chunk queue
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnById(workers.stream.id).logicalId },
      EventSourceArn: { 'Fn::GetAtt': [presenceTableId, 'StreamArn'] },
      StartingPosition: 'LATEST',
      BatchSize: 100,
      ParallelizationFactor: STREAM_PARALLELIZATION,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: STREAM_RETRY_ATTEMPTS,
      MaximumRecordAgeInSeconds: 3600,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [stack.getLogicalId(stack.streamDlq.node.defaultChild as never), 'Arn'] } },
      },
    });
  });

  it('filter criteria are exactly the patterns of lib/tables.ts', () => {
    const [mapping] = Object.values(
      template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { StartingPosition: 'LATEST' } }) as Record<string, Resource>,
    );
    const filters = mapping?.Properties.FilterCriteria?.Filters as { Pattern: string }[];
    expect(filters.map((f) => f.Pattern)).toEqual(streamFilterPatterns.map((p) => JSON.stringify(p)));
  });

  it('DLQ is encrypted, TLS-only and keeps messages 14 days', () => {
    const queueId = stack.getLogicalId(stack.streamDlq.node.defaultChild as never);
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });
});

describe('sweeper', () => {
  it('runs every minute from an EventBridge rule, each run looping for the minute', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [fnById(workers.sweeper.id).logicalId, 'Arn'] },
          Input: JSON.stringify({ loopSeconds: 60 }),
        }),
      ],
    });
  });
});

describe('outputs', () => {
  it('exports the API urls, table names and the DLQ url', () => {
    const outputs = Object.keys(template.findOutputs('*'));
    for (const name of ['HttpApiUrl', 'WebSocketUrl', 'PresenceTableName', 'GraphTableName', 'StreamFanoutDlqUrl', 'SysFunctionName']) {
      expect(outputs).toContain(name);
    }
  });
});

describe('per-route throttling', () => {
  it('sets route-level limits for sys, admin and the heavy user routes on the HTTP stage', async () => {
    const { throttleFor } = await import('../../lib/routes.ts');
    const stages = template.findResources('AWS::ApiGatewayV2::Stage', { Properties: { StageName: '$default' } });
    const settings = (Object.values(stages)[0] as any).Properties.RouteSettings as Record<
      string,
      { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }
    >;
    const throttled = [...httpRoutes, ...facadeRoutes()].filter((r) => throttleFor(r));
    expect(throttled.length).toBeGreaterThan(5);
    expect(settings['POST /admin/cleanup-presence']?.ThrottlingRateLimit).toBe(1);
    for (const r of throttled) {
      const t = throttleFor(r);
      expect(settings[`${r.method} ${r.path}`], `${r.method} ${r.path}`).toEqual({ ThrottlingRateLimit: t?.rateLimit, ThrottlingBurstLimit: t?.burstLimit });
    }
    expect(settings['POST /v1/admin/cleanup-presence']?.ThrottlingRateLimit).toBe(1);
  });
});

describe('chunked fan-out', () => {
  it('sends large audiences through an encrypted SQS queue with a DLQ, consumed with partial batch responses', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 3 }),
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnById(workers.fanoutChunk.id).logicalId },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 200 },
    });
    for (const id of [workers.stream.id, workers.fanoutChunk.id]) {
      const env = fnById(id).resource.Properties.Environment.Variables as Record<string, unknown>;
      expect(env.FANOUT_QUEUE_URL, id).toBeDefined();
      expect(
        statementsOf(fnById(id).resource).some((st) => [st.Action].flat().includes('sqs:SendMessage')),
        `${id} may send to the chunk queue`,
      ).toBe(true);
    }
  });
});
