/**
 * cdk-nag (AwsSolutionsChecks, see bin/app.ts and test/infra/nag.test.ts):
 * the findings the stack keeps on purpose, each acknowledged on the one
 * resource it concerns with the reason it is acceptable. Everything else is
 * fixed in the stack instead (own Lambda roles without AWS managed policies,
 * latest Node.js runtime, POST-only @connections grant, ...).
 *
 * cdk-nag 3.x reads CDK's own acknowledgements (`Validations.of(x).acknowledge`);
 * a finding that carries a detail (IAM4/IAM5) is acknowledged per detail,
 * `AwsSolutions-IAM5[Resource::<the exact wildcard resource>]`, so a new
 * wildcard on the same policy is still reported.
 */
import { type CfnResource, Validations } from 'aws-cdk-lib';
import type { CfnPolicy, Policy } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import type { PresenceFunction } from './constructs/presence-function.ts';
import type { PresenceStack } from './presence-stack.ts';

/** Actions granted on `Resource: *` because the service has no resource-level permissions for them. */
export const RESOURCE_STAR_ACTIONS: Readonly<Record<string, string>> = {
  'xray:PutTraceSegments': 'X-Ray trace upload for Tracing.ACTIVE (xray:PutTraceSegments supports no resource-level permissions, only "*")',
  'xray:PutTelemetryRecords': 'X-Ray telemetry for Tracing.ACTIVE (xray:PutTelemetryRecords supports no resource-level permissions, only "*")',
};

function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * A CloudFormation value as cdk-nag prints it in a finding id
 * (same rules as cdk-nag's flattenCfnReference): `{Ref: X}` -> `<X>`,
 * `{Fn::GetAtt: [X, Y]}` -> `<X.Y>`, `Fn::Join` joined.
 */
export function flattenCfnValue(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof value === 'object' && value !== null) {
    const v = value as Record<string, unknown>;
    if (Array.isArray(v['Fn::Join'])) {
      const [delimiter, items] = v['Fn::Join'] as [string, unknown[]];
      return items.map(flattenCfnValue).join(delimiter);
    }
    if (v['Fn::Sub'] !== undefined) return flattenCfnValue(v['Fn::Sub']);
    if (Array.isArray(v['Fn::GetAtt'])) {
      const [resource, attribute] = v['Fn::GetAtt'] as [unknown, unknown];
      return `<${flattenCfnValue(resource)}.${flattenCfnValue(attribute)}>`;
    }
    if (v['Fn::ImportValue'] !== undefined) return flattenCfnValue(v['Fn::ImportValue']);
    if (v.Ref !== undefined) return `<${flattenCfnValue(v.Ref)}>`;
  }
  return JSON.stringify(value);
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
}
const asArray = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** The default policy (`<role>/DefaultPolicy`) of a function's role: where every grant lands. */
export function defaultPolicyOf(f: PresenceFunction): Policy | undefined {
  return f.role.node.tryFindChild('DefaultPolicy') as Policy | undefined;
}

/**
 * IAM5 on one function's role policy: acknowledges exactly the wildcard
 * resources it knows a reason for; any other wildcard stays a finding.
 */
function acknowledgeFunctionWildcards(stack: PresenceStack, id: string, f: PresenceFunction): void {
  const policy = defaultPolicyOf(f);
  if (!policy) return;
  const cfnPolicy = policy.node.defaultChild as CfnPolicy;

  const known = new Map<string, string>();
  for (const { def, table } of Object.values(stack.tables)) {
    const indexes = def.indexes.map((i) => i.name).join(', ');
    known.set(
      flattenCfnValue(stack.resolve(`${table.tableArn}/index/*`)),
      `${id}: Query on the ${def.id} table's indexes (its access in lib/routes.ts names QueryIndex) ` +
        `covers <table arn>/index/* so Query works on its GSIs (${indexes}); the wildcard stays inside this one table's own indexes`,
    );
  }
  known.set(
    flattenCfnValue(stack.resolve(stack.connectionsArn('POST'))),
    `${id}: PostToConnection to WebSocket clients of the ${stack.webSocketStage.stageName} stage; connection ids are issued by API Gateway at ` +
      'runtime, so @connections/* is the narrowest resource (already limited to this API, this stage and POST)',
  );
  known.set(
    flattenCfnValue(stack.resolve(stack.connectionsArn('GET'))),
    `${id}: GetConnection (LastActiveAt) of WebSocket clients of the ${stack.webSocketStage.stageName} stage, the \`gateway\` heartbeat mode's liveness ` +
      'check; connection ids are issued by API Gateway at runtime, so @connections/* is the narrowest resource (already limited to this API, this stage and GET)',
  );

  const statements = asArray((stack.resolve(policy.document) as { Statement?: Statement[] }).Statement);
  const starActions = new Set<string>();
  const resources = new Set<string>();
  for (const s of statements) {
    if (s.Effect !== 'Allow') continue;
    for (const r of asArray(s.Resource).map(flattenCfnValue)) {
      if (r === '*') for (const a of asArray(s.Action)) starActions.add(a);
      else if (r.includes('*')) resources.add(r);
    }
  }

  // Resource "*": only when every action on it lacks resource-level permissions
  if (starActions.size > 0 && [...starActions].every((a) => RESOURCE_STAR_ACTIONS[a] !== undefined)) {
    const why = [...new Set([...starActions].map((a) => RESOURCE_STAR_ACTIONS[a]))].join('; ');
    acknowledge(cfnPolicy, 'AwsSolutions-IAM5[Resource::*]', `${id}: Resource "*" only for ${[...starActions].sort().join(', ')}: ${why}`);
  }
  for (const r of resources) {
    const reason = known.get(r);
    if (reason) acknowledge(cfnPolicy, `AwsSolutions-IAM5[Resource::${r}]`, reason);
  }
}

/** Why a compatibility facade's route has no gateway authorizer (cdk-nag APIG4, cfn-guard CT.APIGATEWAY.PR.5). */
export const facadeRouteAuthorization = (routeKey: string) =>
  `Compatibility facade route ${routeKey}: its function verifies the bearer token itself (functions/commons/auth.ts verifyToken, the ` +
  "JWT rules of the HTTP API's authorizer, with this stack's issuer, audiences and JWKS) before it reads or changes anything, because " +
  'the API it imitates answers a refused token in its own error shape and an HTTP API JWT authorizer can only answer {"message":"Unauthorized"}';

/** Acknowledges, resource by resource, the cdk-nag findings PresenceStack keeps on purpose. */
export function acknowledgeNagFindings(stack: PresenceStack): void {
  // APIG4: WebSocket routes other than $connect cannot carry an authorizer
  for (const [routeKey, route] of Object.entries(stack.webSocketRoutes)) {
    if (routeKey === '$connect') continue;
    acknowledge(
      route.node.defaultChild as CfnResource,
      'AwsSolutions-APIG4',
      `WebSocket route ${routeKey}: API Gateway accepts an authorizer only on $connect; each invocation of this route belongs to a connection ` +
        'that the Lambda REQUEST authorizer (JWT in ?token=) admitted at $connect, and the handler takes the user from that authorizer context',
    );
  }

  // APIG4: the compatibility facades' routes answer refused tokens themselves, in their API's error shape
  for (const [routeKey, route] of Object.entries(stack.facadeHttpRoutes)) {
    acknowledge(route.node.defaultChild as CfnResource, 'AwsSolutions-APIG4', facadeRouteAuthorization(routeKey));
  }

  // SQS3: the stream DLQ is itself the dead-letter target
  acknowledge(
    stack.streamDlq.node.defaultChild as CfnResource,
    'AwsSolutions-SQS3',
    'StreamFanoutDlq is itself the on-failure destination of the DynamoDB stream event source mapping (batches that exhausted bisect and ' +
      'retries); nothing consumes it automatically, operators inspect or redrive it within its 14-day retention, so a DLQ behind it adds nothing',
  );

  // IAM4: the account-level API Gateway logging role uses the AWS managed policy made for it
  if (stack.apiGatewayCloudWatchRole) {
    acknowledge(
      stack.apiGatewayCloudWatchRole.node.defaultChild as CfnResource,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'Account-wide API Gateway CloudWatch role (AWS::ApiGateway::Account, needed for WebSocket access logs) is shared by every API in the ' +
        'account and region, so it cannot be scoped to this stack; AmazonAPIGatewayPushToCloudWatchLogs is the AWS policy for exactly this ' +
        'role (RestApi cloudWatchRole uses it too). Accounts that configure it elsewhere set apiGatewayCloudWatchRole: false',
    );
  }

  // COG2/COG8: the optional user pool of `-c auth=cognito` (lib/presence-stack.ts createCognitoAuth)
  if (stack.cognito) {
    const pool = stack.cognito.pool.node.defaultChild as CfnResource;
    acknowledge(
      pool,
      'AwsSolutions-COG2',
      'The -c auth=cognito user pool has no self sign-up: its users are service and smoke-test identities created with the IAM-guarded admin ' +
        'API by npm run token -- <user> --stack, which signs them in with ADMIN_USER_PASSWORD_AUTH and a fresh random 32-character password; ' +
        'a required MFA challenge would stop that flow. Production sign-in for people belongs to your own identity provider (-c jwtIssuer)',
    );
    acknowledge(
      pool,
      'AwsSolutions-COG8',
      'The -c auth=cognito user pool uses the Essentials plan, which already allows the access token customization its scope trigger needs; ' +
        'Plus (threat protection) bills every monthly active user with no free tier, while this pool admits no self sign-up and no password ' +
        'sign-in from browsers (only the admin API flow), so the risk-based protections of Plus have no sign-in surface to guard here',
    );
  }

  // IAM5: wildcards that CDK grants inherently produce, per function
  for (const [id, f] of Object.entries(stack.functions)) acknowledgeFunctionWildcards(stack, id, f);
}
