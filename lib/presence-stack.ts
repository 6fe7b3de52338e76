/**
 * The presence service on AWS: HTTP API (JWT authorizer) and WebSocket API
 * (Lambda REQUEST authorizer on $connect), one Lambda per route of
 * lib/routes.ts with grants derived from the route's `access`, the tables of
 * lib/tables.ts, the stream fan-out worker and the scheduled sweeper.
 */
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AccessLogFormat, CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import {
  type CfnStage,
  HttpApi,
  type HttpRoute as HttpApiRoute,
  HttpMethod,
  LogGroupLogDestination,
  type ThrottleSettings,
  WebSocketApi,
  type WebSocketRoute,
  WebSocketStage,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer, WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration, WebSocketLambdaIntegration, WebSocketMockIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AccountRecovery, FeaturePlan, LambdaVersion, Mfa, UserPool, type UserPoolClient, UserPoolOperation } from 'aws-cdk-lib/aws-cognito';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';

/** one scheduled sweeper invocation sweeps repeatedly for this long */
const SWEEPER_LOOP_SECONDS = 60;

import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Grant, ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Code, FilterCriteria, Function as LambdaFunctionResource, Runtime, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { PresenceMonitoring } from './constructs/monitoring.ts';
import { PresenceFunction } from './constructs/presence-function.ts';
import { type BoundTable, createTables } from './constructs/presence-tables.ts';
import { acknowledgeNagFindings } from './nag-suppressions.ts';
import {
  type Access,
  connectionsMethods,
  type Facade,
  facadeAccess,
  facadeRoutes,
  facades,
  HEARTBEAT_MODES,
  HEARTBEAT_ROUTE_KEY,
  type HeartbeatMode,
  httpRouteAccess,
  httpRoutes,
  routeScopes,
  SCOPES,
  type SegmentValues,
  segmentEnv,
  sweeperAccess,
  throttleFor,
  workers,
  wsRouteAccess,
  wsRoutes,
} from './routes.ts';
import { STREAM_PARALLELIZATION, STREAM_RETRY_ATTEMPTS, streamFilterPatterns } from './tables.ts';

export interface PresenceStackProps extends StackProps {
  /**
   * how WebSocket heartbeats keep devices live (`-c heartbeat=gateway`):
   * `lambda` (default) a Lambda and one write per heartbeat; `gateway` a MOCK
   * integration (no Lambda, no write) and the sweeper extends live devices from
   * GetConnection's LastActiveAt. See HeartbeatMode in lib/routes.ts and docs/cost.md.
   */
  heartbeat?: HeartbeatMode;
  /**
   * 'cognito': the stack creates its own Cognito user pool and app client
   * (`cdk deploy -c auth=cognito`) and accepts their tokens; jwtIssuer,
   * jwtAudience and jwksUrl are then derived from the pool and may not be
   * given. Default: the identity provider named by jwtIssuer/jwtAudience.
   */
  auth?: 'jwt' | 'cognito';
  /** JWT issuer (`iss`) accepted by both APIs (required unless auth is 'cognito') */
  jwtIssuer?: string;
  /**
   * accepted audiences, on both APIs alike: the token's `aud` must name one of
   * them, or, for a token without `aud` (Cognito access tokens), its `client_id`
   * (required unless auth is 'cognito')
   */
  jwtAudience?: string[];
  /** default: `${jwtIssuer}/.well-known/jwks.json` */
  jwksUrl?: string;
  /** PRESENCE_TIMEOUT_SECONDS for every function (default 120) */
  presenceTimeoutSeconds?: number;
  /** SWEEP_INTERVAL_SECONDS for every function (default 15) */
  sweepIntervalSeconds?: number;
  /**
   * WebSocket access logs need the account-wide API Gateway CloudWatch role
   * (HTTP APIs do not). Set false when the account already configures it
   * elsewhere; it is one setting per account and region. Default: true.
   */
  apiGatewayCloudWatchRole?: boolean;
  /**
   * the compatibility facades to deploy (`-c compat=generic,...`, `-c compat=none`; lib/routes.ts
   * parseCompat): one function each, with its routes. Default: every facade. A facade left out has no
   * routes at all (API Gateway answers its paths 404).
   */
  compat?: readonly Facade[];
  /**
   * the generic facade's everyone-broadcast (`-c genericBroadcast=<cap>`, docs/compat.md): at most
   * this many `format=generic` connections hear every change, followed or not. Default 0: off (they
   * hear what they follow). Needs the generic facade.
   */
  genericBroadcast?: number;
  /**
   * the facades' deployment path segments by env name (lib/routes.ts FacadeSegment: Agora's
   * `AGORA_ORG`/`AGORA_APP`, from `-c agoraOrg=` / `-c agoraApp=`); unset ones take their fallback
   */
  facadeSegments?: SegmentValues;
  /**
   * email address subscribed to the alarm topic (`-c alarmEmail=ops@example.com`);
   * it must confirm the subscription. Default: none (subscribe later to the topic).
   */
  alarmEmail?: string;
  /**
   * X-Ray on the workers marked `traced` in lib/routes.ts (StreamFanout, FanoutChunk, Sweeper):
   * active tracing and Powertools Tracer with every AWS SDK call a subsegment (`-c tracing=on`).
   * Default: off, and then their bundles carry no X-Ray SDK (functions/commons/traced.ts): the
   * Tracer costs each of them about 30 ms of cold init and, through its process-wide async hook,
   * CPU on every SDK call (docs/observability.md).
   */
  tracing?: boolean;
}

const API_THROTTLE: ThrottleSettings = { rateLimit: 1000, burstLimit: 2000 };
const WS_STAGE_NAME = 'live';

export class PresenceStack extends Stack {
  readonly httpApi: HttpApi;
  readonly webSocketApi: WebSocketApi;
  readonly webSocketStage: WebSocketStage;
  /** every WebSocket route by route key */
  readonly webSocketRoutes: Record<string, WebSocketRoute> = {};
  /** the compatibility facades deployed (props.compat) */
  readonly facades: readonly Facade[];
  /** every HTTP route of a compatibility facade by route key (no gateway authorizer: the facade function verifies the token) */
  readonly facadeHttpRoutes: Record<string, HttpApiRoute> = {};
  /** the account-level API Gateway CloudWatch role, unless `apiGatewayCloudWatchRole: false` */
  readonly apiGatewayCloudWatchRole?: Role;
  readonly tables: Record<'Presence' | 'Graph', BoundTable>;
  readonly streamDlq: Queue;
  /** chunks of large audiences, one per message (consumed by the FanoutChunk worker) */
  readonly fanoutChunkQueue: Queue;
  /** dead letters of the chunked fan-out queue */
  readonly fanoutChunkDlq: Queue;
  /** every PresenceFunction by route/worker id */
  readonly functions: Record<string, PresenceFunction> = {};
  /** with `auth: 'cognito'`: the stack's user pool, its app client and the trigger that turns groups into scopes */
  readonly cognito?: CognitoAuth;
  /** alarms (one SNS topic) and the dashboard: lib/constructs/monitoring.ts, docs/operations.md */
  readonly monitoring: PresenceMonitoring;

  constructor(scope: Construct, id: string, props: PresenceStackProps) {
    super(scope, id, props);

    let issuer: string;
    let audiences: string[];
    if (props.auth === 'cognito') {
      if (props.jwtIssuer !== undefined || props.jwtAudience !== undefined || props.jwksUrl !== undefined)
        throw new Error("auth 'cognito' takes the issuer and audience from the stack's user pool: do not pass jwtIssuer, jwtAudience or jwksUrl");
      this.cognito = createCognitoAuth(this);
      issuer = this.cognito.issuer;
      audiences = [this.cognito.client.userPoolClientId];
    } else {
      if (props.jwtIssuer === undefined || props.jwtAudience === undefined) throw new Error('jwtIssuer and jwtAudience are required (or auth: cognito)');
      issuer = props.jwtIssuer;
      audiences = props.jwtAudience;
    }
    if (audiences.length === 0) throw new Error('jwtAudience needs at least one audience');
    // the WebSocket authorizer reads them as one comma-separated variable
    if (audiences.some((a) => a.includes(','))) throw new Error('an audience may not contain a comma');
    const jwksUrl = props.jwksUrl ?? `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;

    const tables = createTables(this);
    this.tables = tables;
    this.facades = props.compat ?? facades;
    const segments = props.facadeSegments ?? {};
    const compatRoutes = facadeRoutes(this.facades, segments);
    const genericBroadcast = props.genericBroadcast ?? 0;
    if (!Number.isInteger(genericBroadcast) || genericBroadcast < 0) throw new Error('genericBroadcast must be a non-negative integer');
    if (genericBroadcast > 0 && !this.facades.some((f) => f.name === 'generic')) throw new Error('genericBroadcast needs the generic facade (-c compat)');
    const broadcastEnv = (f: PresenceFunction) => (genericBroadcast > 0 ? f.addEnvironment('GENERIC_BROADCAST_MAX', String(genericBroadcast)) : f);

    // ---- WebSocket API (first: some functions need its stage's callback URL) ----
    const wsAccessLogs = new LogGroup(this, 'WebSocketAccessLogs', { retention: RetentionDays.ONE_MONTH });
    this.webSocketApi = new WebSocketApi(this, 'WebSocketApi', {
      routeSelectionExpression: '$request.body.action',
      description: 'Presence WebSocket API',
    });
    this.webSocketStage = new WebSocketStage(this, 'WebSocketStage', {
      webSocketApi: this.webSocketApi,
      stageName: WS_STAGE_NAME,
      autoDeploy: true,
      throttle: API_THROTTLE,
      accessLogSettings: {
        destination: new LogGroupLogDestination(wsAccessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            connectionId: '$context.connectionId',
            eventType: '$context.eventType',
            routeKey: '$context.routeKey',
            status: '$context.status',
            integrationError: '$context.integration.error',
            authorizerError: '$context.authorizer.error',
          }),
        ),
      },
    });
    if (props.apiGatewayCloudWatchRole ?? true) {
      // No L2 exists for this account-level setting (RestApi's cloudWatchRole builds the same pair).
      const role = new Role(this, 'ApiGatewayCloudWatchRole', {
        assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
        managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
      });
      const account = new CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
      this.webSocketStage.node.addDependency(account);
      this.apiGatewayCloudWatchRole = role;
    }

    const heartbeat = props.heartbeat ?? 'lambda';
    if (!HEARTBEAT_MODES.includes(heartbeat)) throw new Error(`heartbeat ${heartbeat}: expected ${HEARTBEAT_MODES.join(' or ')}`);
    const common: Record<string, string> = {
      PRESENCE_TIMEOUT_SECONDS: String(props.presenceTimeoutSeconds ?? 120),
      SWEEP_INTERVAL_SECONDS: String(props.sweepIntervalSeconds ?? 15),
      HEARTBEAT_MODE: heartbeat,
    };
    const make = (id: string, entry: string, access: Access, timeout?: Duration, traced = false): PresenceFunction => {
      const tracing = traced && props.tracing === true;
      const f = new PresenceFunction(this, id, { entry, timeout, tracing, environment: common, description: `presence ${id}` });
      f.bindAccess(access, tables);
      const methods = connectionsMethods(access);
      if (methods.length > 0) {
        f.addEnvironment('WS_CALLBACK_URL', this.webSocketStage.callbackUrl);
        // execute-api:ManageConnections for exactly the methods the code calls (POST: PostToConnection,
        // GET: GetConnection) on this stage's connections only (grantManagementApiAccess would allow all)
        Grant.addToPrincipal({ grantee: f.fn, actions: ['execute-api:ManageConnections'], resourceArns: methods.map((m) => this.connectionsArn(m)) });
      }
      this.functions[id] = f;
      return f;
    };

    // ---- HTTP API ----
    const httpAccessLogs = new LogGroup(this, 'HttpApiAccessLogs', { retention: RetentionDays.ONE_MONTH });
    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'Presence HTTP API',
      // the $default stage is added below with throttling and access logs
      createDefaultStage: false,
    });
    const httpStage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: API_THROTTLE,
      accessLogSettings: {
        destination: new LogGroupLogDestination(httpAccessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
          }),
        ),
      },
    });
    // per-route throttling: the L2 stage only takes the stage default, so set the route settings on its CfnStage
    // (CfnStage.routeSettings is a JSON map: CloudFormation's own property names)
    const routeSettings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
    for (const route of [...httpRoutes, ...compatRoutes]) {
      const t = throttleFor(route);
      if (t) routeSettings[`${route.method} ${route.path}`] = { ThrottlingRateLimit: t.rateLimit, ThrottlingBurstLimit: t.burstLimit };
    }
    (httpStage.node.defaultChild as CfnStage).routeSettings = routeSettings;
    const jwtAuthorizer = new HttpJwtAuthorizer('JwtAuthorizer', issuer, {
      jwtAudience: audiences,
      identitySource: ['$request.header.Authorization'],
    });
    for (const route of httpRoutes) {
      const f = make(route.id, route.entry, httpRouteAccess(route, heartbeat));
      const scopes = routeScopes(route);
      this.httpApi.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration: new HttpLambdaIntegration(`${route.id}Integration`, f.fn),
        authorizer: jwtAuthorizer,
        // the token must carry one of them (API Gateway's rule for a route's authorization scopes)
        authorizationScopes: scopes.length ? scopes : undefined,
      });
    }

    // the token verifier's settings (functions/commons/auth.ts), for the functions that verify tokens themselves
    const verifiesTokens = (f: PresenceFunction) =>
      f.addEnvironment('JWT_ISSUER', issuer).addEnvironment('JWT_AUDIENCE', audiences.join(',')).addEnvironment('JWT_JWKS_URL', jwksUrl);

    // ---- compatibility facades: one function per facade, its routes without a gateway authorizer ----
    // (the function verifies the bearer token itself, to answer a refused one in its API's error shape:
    // functions/commons/facade.ts says why an HTTP API JWT authorizer cannot)
    for (const facade of this.facades) {
      const f = verifiesTokens(make(facade.id, facade.entry, facadeAccess(facade, heartbeat)));
      for (const [name, value] of Object.entries(segmentEnv(facade, segments))) f.addEnvironment(name, value);
      const integration = new HttpLambdaIntegration(`${facade.id}Integration`, f.fn);
      for (const route of compatRoutes.filter((r) => r.facade === facade)) {
        const [added] = this.httpApi.addRoutes({ path: route.path, methods: [HttpMethod[route.method]], integration });
        this.facadeHttpRoutes[route.routeKey] = added as HttpApiRoute;
      }
    }

    // ---- WebSocket routes ----
    const authorizerFn = verifiesTokens(make(workers.wsAuthorizer.id, workers.wsAuthorizer.entry, workers.wsAuthorizer.access, Duration.seconds(10)));
    const wsAuthorizer = new WebSocketLambdaAuthorizer('ConnectAuthorizer', authorizerFn.fn, {
      identitySource: ['route.request.querystring.token'],
    });
    for (const route of wsRoutes) {
      if (heartbeat === 'gateway' && route.routeKey === HEARTBEAT_ROUTE_KEY) {
        // no Lambda, no write: API Gateway itself takes the message (one-way: nothing is sent back),
        // and it moves the connection's LastActiveAt, which the sweeper reads
        const integration = new WebSocketMockIntegration('HeartbeatMockIntegration', {
          requestTemplates: { 'application/json': JSON.stringify({ statusCode: 200 }) },
          templateSelectionExpression: '\\$default',
        });
        this.webSocketRoutes[route.routeKey] = this.webSocketApi.addRoute(route.routeKey, { integration });
        continue;
      }
      const f = make(route.id, route.entry, wsRouteAccess(route, heartbeat, genericBroadcast > 0));
      if (route.routeKey === '$connect') broadcastEnv(f);
      const integration = new WebSocketLambdaIntegration(`${route.id}Integration`, f.fn);
      if (route.routeKey === '$connect') {
        this.webSocketRoutes[route.routeKey] = this.webSocketApi.addRoute(route.routeKey, { integration, authorizer: wsAuthorizer });
      } else if (route.routeKey === '$disconnect') {
        this.webSocketRoutes[route.routeKey] = this.webSocketApi.addRoute(route.routeKey, { integration });
      } else {
        // two-way (a route response) unless the route answers through @connections itself
        this.webSocketRoutes[route.routeKey] = this.webSocketApi.addRoute(route.routeKey, { integration, returnResponse: !route.oneWay });
      }
    }

    // ---- stream fan-out ----
    const streamDlq = new Queue(this, 'StreamFanoutDlq', {
      enforceSSL: true,
      encryption: QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
    });
    this.streamDlq = streamDlq;
    const stream = broadcastEnv(make(workers.stream.id, workers.stream.entry, workers.stream.access, Duration.seconds(60), workers.stream.traced));
    stream.fn.addEventSource(
      new DynamoEventSource(tables.Presence.table, {
        startingPosition: StartingPosition.LATEST,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(0),
        parallelizationFactor: STREAM_PARALLELIZATION,
        bisectBatchOnError: true,
        retryAttempts: STREAM_RETRY_ATTEMPTS,
        maxRecordAge: Duration.hours(1),
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(streamDlq),
        // FilterCriteria.filter is JSON.stringify: the DynamoDB-JSON patterns pass through unchanged
        filters: streamFilterPatterns.map((pattern) => FilterCriteria.filter(pattern)),
      }),
    );

    // ---- chunked fan-out: audiences above FANOUT_CHUNK_SIZE go through SQS, one chunk per message ----
    const chunkDlq = new Queue(this, 'FanoutChunkDlq', {
      enforceSSL: true,
      encryption: QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
    });
    this.fanoutChunkDlq = chunkDlq;
    const chunkQueue = new Queue(this, 'FanoutChunkQueue', {
      enforceSSL: true,
      encryption: QueueEncryption.SQS_MANAGED,
      // a change older than this is stale: newer versions have been pushed since
      retentionPeriod: Duration.hours(1),
      visibilityTimeout: Duration.seconds(6 * 60),
      deadLetterQueue: { queue: chunkDlq, maxReceiveCount: 3 },
    });
    this.fanoutChunkQueue = chunkQueue;
    const chunkFn = make(workers.fanoutChunk.id, workers.fanoutChunk.entry, workers.fanoutChunk.access, Duration.seconds(60), workers.fanoutChunk.traced);
    chunkFn.fn.addEventSource(new SqsEventSource(chunkQueue, { batchSize: 1, reportBatchItemFailures: true, maxConcurrency: 200 }));
    // the stream consumer queues large audiences; the chunk function re-queues recipients whose pushes failed
    for (const sender of [stream, chunkFn]) {
      // SendMessage only (grantSendMessages would add GetQueueAttributes and GetQueueUrl, which the code never calls)
      Grant.addToPrincipal({ grantee: sender.fn, actions: ['sqs:SendMessage'], resourceArns: [chunkQueue.queueArn] });
      sender.fn.addEnvironment('FANOUT_QUEUE_URL', chunkQueue.queueUrl);
    }

    // ---- sweeper ----
    // EventBridge fires at most once a minute: each invocation loops, sweeping every
    // SWEEP_INTERVAL_SECONDS for SWEEPER_LOOP_SECONDS (see functions/workers/sweeper.ts),
    // so offline stays within timeout + SWEEP_INTERVAL_SECONDS on AWS too.
    const sweeper = make(
      workers.sweeper.id,
      workers.sweeper.entry,
      sweeperAccess(heartbeat),
      Duration.seconds(SWEEPER_LOOP_SECONDS + 30),
      workers.sweeper.traced,
    );
    new Rule(this, 'SweeperSchedule', {
      description: 'Runs the presence sweeper (timely offline); each run sweeps repeatedly for a minute',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(sweeper.fn, { retryAttempts: 0, event: RuleTargetInput.fromObject({ loopSeconds: SWEEPER_LOOP_SECONDS }) })],
    });

    // ---- sys operations for cloud functions in the account (IAM invoke; no HTTP, no token) ----
    const sysInvoke = make(workers.sysInvoke.id, workers.sysInvoke.entry, workers.sysInvoke.access, Duration.seconds(29));

    // ---- alarms and dashboard ----
    this.monitoring = new PresenceMonitoring(this, 'Monitoring', {
      httpApi: this.httpApi,
      httpStageName: httpStage.stageName,
      webSocketApi: this.webSocketApi,
      webSocketStage: this.webSocketStage,
      functions: this.functions,
      tables,
      streamDlq,
      fanoutChunkQueue: chunkQueue,
      fanoutChunkDlq: chunkDlq,
      alarmEmail: props.alarmEmail,
    });

    // ---- outputs ----
    new CfnOutput(this, 'HttpApiUrl', { value: httpStage.url });
    new CfnOutput(this, 'WebSocketUrl', { value: this.webSocketStage.url });
    new CfnOutput(this, 'WebSocketCallbackUrl', { value: this.webSocketStage.callbackUrl });
    new CfnOutput(this, 'PresenceTableName', { value: tables.Presence.table.tableName });
    new CfnOutput(this, 'GraphTableName', { value: tables.Graph.table.tableName });
    new CfnOutput(this, 'StreamFanoutDlqUrl', { value: streamDlq.queueUrl });
    new CfnOutput(this, 'FanoutChunkDlqUrl', { value: chunkDlq.queueUrl });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn });
    new CfnOutput(this, 'SysFunctionName', {
      value: sysInvoke.fn.functionName,
      description: 'aws lambda invoke --function-name <this> --payload {"op":"initializePresence",...}',
    });
    if (this.cognito) {
      // read by `npm run token -- <user> --stack` (bin/token.ts)
      new CfnOutput(this, 'UserPoolId', { value: this.cognito.pool.userPoolId });
      new CfnOutput(this, 'UserPoolClientId', { value: this.cognito.client.userPoolClientId });
      new CfnOutput(this, 'JwtIssuer', { value: issuer });
    }

    // ---- cdk-nag: the findings that stay, each with its reason (lib/nag-suppressions.ts) ----
    acknowledgeNagFindings(this);
  }

  /** ARN of the @connections management API of the WebSocket stage, for one HTTP method and any connection id */
  connectionsArn(method: 'POST' | 'GET' | 'DELETE'): string {
    return this.formatArn({
      service: 'execute-api',
      resource: this.webSocketApi.apiId,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      resourceName: `${this.webSocketStage.stageName}/${method}/@connections/*`,
    });
  }
}

/** The stack's own identity provider (`auth: 'cognito'`, `cdk deploy -c auth=cognito`). */
export interface CognitoAuth {
  pool: UserPool;
  /** the app client whose id is the accepted audience (`client_id` of its access tokens) */
  client: UserPoolClient;
  /** `https://cognito-idp.<region>.amazonaws.com/<pool id>`: the `iss` of the pool's tokens */
  issuer: string;
  /** pre token generation trigger (V2): a member of the group named like a scope gets that scope in its access token */
  scopeTrigger: LambdaFunctionResource;
  /** the groups named like the scopes (`presence:sys`, `presence:admin`) */
  scopeGroups: string[];
}

/**
 * A Cognito user pool for the deployment's own users, back ends and smoke
 * tests: no self sign-up, users created by an administrator with the admin
 * API (`npm run token -- <user> --stack` does it), one app client allowed
 * ADMIN_USER_PASSWORD_AUTH and nothing else (no hosted UI, no client secret).
 * Its access tokens carry `client_id` (the accepted audience) and no `aud`,
 * which both APIs accept. Cognito puts a resource server's scopes in tokens
 * as `<server>/<scope>`, never `presence:sys`, so the scopes come from groups
 * instead: a pre token generation trigger (event V2, access token
 * customization, Essentials feature plan) adds to the access token's `scope`
 * each group of the user that is named like one of SCOPES.
 */
function createCognitoAuth(stack: Stack): CognitoAuth {
  const scopeGroups = Object.values(SCOPES).filter((s): s is string => s !== null);
  const pool = new UserPool(stack, 'UserPool', {
    selfSignUpEnabled: false,
    signInAliases: { username: true },
    passwordPolicy: { minLength: 16, requireLowercase: true, requireUppercase: true, requireDigits: true, requireSymbols: true },
    mfa: Mfa.OFF,
    accountRecovery: AccountRecovery.NONE,
    // access token customization (the scope trigger below) needs Essentials or Plus
    featurePlan: FeaturePlan.ESSENTIALS,
    // users are made by `npm run token -- <user> --stack`, nothing to keep after `cdk destroy`
    removalPolicy: RemovalPolicy.DESTROY,
    deletionProtection: false,
  });
  const client = pool.addClient('AppClient', {
    authFlows: { adminUserPassword: true },
    generateSecret: false,
    disableOAuth: true,
    preventUserExistenceErrors: true,
    accessTokenValidity: Duration.hours(1),
    idTokenValidity: Duration.hours(1),
    refreshTokenValidity: Duration.days(1),
  });
  for (const scope of scopeGroups)
    pool.addGroup(`ScopeGroup${scope.replace(/[^A-Za-z0-9]/g, '')}`, {
      groupName: scope,
      description: `members get the ${scope} scope in their access tokens`,
    });

  const logGroup = new LogGroup(stack, 'ScopeTriggerLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
  const role = new Role(stack, 'ScopeTriggerRole', {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: 'execution role of the Cognito scope trigger: writes its own log group only',
  });
  logGroup.grantWrite(role);
  const scopeTrigger = new LambdaFunctionResource(stack, 'ScopeTrigger', {
    description: 'Cognito pre token generation (V2): adds the presence scopes named by the user groups to the access token',
    runtime: Runtime.NODEJS_24_X,
    architecture: Architecture.ARM_64,
    memorySize: 128,
    timeout: Duration.seconds(5),
    role,
    logGroup,
    handler: 'index.handler',
    code: Code.fromInline(scopeTriggerSource(scopeGroups)),
  });
  pool.addTrigger(UserPoolOperation.PRE_TOKEN_GENERATION_CONFIG, scopeTrigger, LambdaVersion.V2_0);

  const issuer = `https://cognito-idp.${stack.region}.amazonaws.com/${pool.userPoolId}`;
  return { pool, client, issuer, scopeTrigger, scopeGroups };
}

/** The trigger's code (CommonJS, inline: a few lines with no dependencies). */
export function scopeTriggerSource(scopes: string[]): string {
  return `const SCOPES = new Set(${JSON.stringify(scopes)});
exports.handler = async (event) => {
  const groups = (event.request && event.request.groupConfiguration && event.request.groupConfiguration.groupsToOverride) || [];
  event.response = { claimsAndScopeOverrideDetails: { accessTokenGeneration: { scopesToAdd: groups.filter((g) => SCOPES.has(g)) } } };
  return event;
};
`;
}
