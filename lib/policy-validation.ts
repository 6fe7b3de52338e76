/**
 * Template checks beyond cdk-nag: AWS Control Tower's proactive controls,
 * written in CloudFormation Guard, run on every synthesized template by
 * `@cdklabs/cdk-validator-cfnguard` (a CDK validation plugin).
 *
 * Offline: the package ships the rules (rules/control-tower/cfn-guard) and a
 * statically linked `cfn-guard` binary for Linux and macOS (x86_64 and
 * aarch64) inside the npm tarball; it has no install script and downloads
 * nothing, at install or at synth.
 *
 * Like cdk-nag (lib/nag-suppressions.ts), every finding the stack keeps on
 * purpose is acknowledged on the one resource it concerns, with its reason
 * (`Validations.of(resource).acknowledge`, id `cdk-validator-cfnguard::<rule>`:
 * CDK matches it by construct path and leaves every other finding an error).
 * Any new finding fails the synth; test/infra/cfnguard.test.ts checks both.
 *
 * Wiring (bin/app.ts): `addPolicyValidation(app);` registers the plugin and
 * acknowledges the kept findings of every PresenceStack in the app.
 */

import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import {
  type App,
  Aspects,
  type CfnResource,
  type IAspect,
  type IPolicyValidationContextBeta1,
  type IPolicyValidationPluginBeta1,
  type PolicyValidationPluginReportBeta1,
  type Stack,
  Validations,
} from 'aws-cdk-lib';
import type { CfnRoute } from 'aws-cdk-lib/aws-apigatewayv2';
import type { CfnPolicy } from 'aws-cdk-lib/aws-iam';
import { type CfnFunction, CfnPermission } from 'aws-cdk-lib/aws-lambda';
import { CfnLogGroup } from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { defaultPolicyOf, facadeRouteAuthorization } from './nag-suppressions.ts';
import { PresenceStack } from './presence-stack.ts';

/** The plugin's name: the namespace of its rule ids in acknowledgements and in the validation report. */
export const CFN_GUARD_PLUGIN = 'cdk-validator-cfnguard';

/** The Control Tower rules (cfn-guard rule names) this stack keeps findings of, with what the finding is about. */
export const GUARD_EXCEPTIONS = {
  api_gw_v2_authorization_type_configured_check:
    'CT.APIGATEWAY.PR.5: WebSocket routes other than $connect, and the HTTP routes of the compatibility facades, have no authorization type',
  cloudwatch_log_group_retention_period_check: 'CT.CLOUDWATCH.PR.2: log groups kept one month, not a year',
  cloudwatch_log_group_encrypted_check: 'CT.CLOUDWATCH.PR.3: log groups encrypted by CloudWatch Logs, not with a customer KMS key',
  lambda_function_public_access_prohibited_check: 'CT.LAMBDA.PR.2: API Gateway invoke permissions whose SourceArn is an Fn::Join',
  lambda_inside_vpc_check: 'CT.LAMBDA.PR.3: functions outside a VPC',
  sqs_dlq_check: 'CT.SQS.PR.1: the dead-letter queues have no dead-letter queue of their own',
} as const;
export type GuardException = keyof typeof GUARD_EXCEPTIONS;

/**
 * CfnGuardValidator, with one fix: its violations carry no severity. CDK
 * prints those as errors, but once any acknowledgement exists in the app it
 * recomputes the plugin's success as "no violation of severity error", so
 * an unacknowledged cfn-guard finding would no longer fail the synth
 * (test/infra/cfnguard.test.ts, "a new finding fails the synth", shows it).
 * Every violation without a severity is reported as an error here.
 */
export class CfnGuardPlugin implements IPolicyValidationPluginBeta1 {
  readonly name = CFN_GUARD_PLUGIN;
  readonly version?: string;
  readonly ruleIds?: string[];
  /** every Control Tower rule the package ships, none disabled (exceptions are per resource, below, never per rule) */
  readonly validator = new CfnGuardValidator({ controlTowerRulesEnabled: true, disabledRules: [] });

  constructor() {
    this.version = this.validator.version;
    this.ruleIds = this.validator.ruleIds;
  }

  validate(context: IPolicyValidationContextBeta1): PolicyValidationPluginReportBeta1 {
    const report = this.validator.validate(context);
    return { ...report, violations: report.violations.map((v) => ({ ...v, severity: v.severity ?? 'error' })) };
  }
}

/** The validator to register on the app (addPolicyValidation does it). */
export function cfnGuardValidator(): CfnGuardPlugin {
  return new CfnGuardPlugin();
}

function acknowledge(resource: IConstruct, rule: GuardException, reason: string): void {
  Validations.of(resource).acknowledge({ id: `${CFN_GUARD_PLUGIN}::${rule}`, reason });
}

const SERVICE_NAMES: Record<string, string> = {
  dynamodb: 'DynamoDB',
  sqs: 'SQS',
  'execute-api': 'the API Gateway @connections API',
  xray: 'X-Ray',
  logs: 'CloudWatch Logs',
  lambda: 'Lambda',
};

/** The AWS services a function's role lets it call, from the actions of its synthesized policy. */
function servicesCalledBy(stack: PresenceStack, id: string): string[] {
  const policy = defaultPolicyOf(stack.functions[id]!);
  if (!policy) return [];
  const doc = stack.resolve((policy.node.defaultChild as CfnPolicy).policyDocument) as { Statement?: { Action: string | string[] }[] };
  const prefixes = new Set<string>();
  for (const s of doc.Statement ?? []) for (const a of Array.isArray(s.Action) ? s.Action : [s.Action]) prefixes.add(a.split(':')[0]!);
  return [...prefixes].sort().map((p) => SERVICE_NAMES[p] ?? p);
}

/** true when `value` (a resolved CloudFormation value) is a Join over a literal execute-api ARN prefix and a Ref to `apiLogicalId` */
function isExecuteApiArnOf(value: unknown, apiLogicalId: string): boolean {
  const json = JSON.stringify(value);
  return json.includes(':execute-api:') && json.includes(JSON.stringify({ Ref: apiLogicalId }));
}

/** Acknowledges, resource by resource, the Control Tower (cfn-guard) findings PresenceStack keeps on purpose. */
export function acknowledgeGuardFindings(stack: PresenceStack): void {
  // CT.APIGATEWAY.PR.5: an authorizer is possible on $connect only
  for (const [routeKey, route] of Object.entries(stack.webSocketRoutes)) {
    if (routeKey === '$connect') continue;
    acknowledge(
      route.node.defaultChild as CfnRoute,
      'api_gw_v2_authorization_type_configured_check',
      `WebSocket route ${routeKey}: API Gateway WebSocket APIs take an authorizer on the $connect route only; every message routed here ` +
        'arrives on a connection the Lambda REQUEST authorizer (JWT in ?token=) admitted at $connect, and the handler takes the user ' +
        'from that authorizer context, so the route needs no authorization type of its own',
    );
  }

  // CT.APIGATEWAY.PR.5: the compatibility facades' routes, whose functions verify the token themselves
  for (const [routeKey, route] of Object.entries(stack.facadeHttpRoutes)) {
    acknowledge(route.node.defaultChild as CfnRoute, 'api_gw_v2_authorization_type_configured_check', facadeRouteAuthorization(routeKey));
  }

  // CT.CLOUDWATCH.PR.2 and PR.3: the log groups the stack creates, each named with what it holds
  // (a log group not listed here stays a finding until it gets its own reason)
  const logGroups = new Map<CfnLogGroup, { what: string; holds: string }>();
  for (const [id, f] of Object.entries(stack.functions)) {
    logGroups.set(f.logGroup.node.defaultChild as CfnLogGroup, { what: `Lambda ${id} log group`, holds: 'user ids and connection ids' });
  }
  const accessLogs: [string, string][] = [
    ['WebSocketAccessLogs', 'client IP addresses and connection ids'],
    ['HttpApiAccessLogs', 'client IP addresses'],
  ];
  for (const [id, holds] of accessLogs) {
    const child = stack.node.tryFindChild(id)?.node.defaultChild;
    if (child instanceof CfnLogGroup) logGroups.set(child, { what: `API Gateway access log group ${id}`, holds });
  }
  const triggerLogs = stack.node.tryFindChild('ScopeTriggerLogs')?.node.defaultChild;
  if (stack.cognito && triggerLogs instanceof CfnLogGroup) {
    logGroups.set(triggerLogs, { what: 'Cognito scope trigger log group', holds: 'the errors of a sign-in trigger whose events carry Cognito user names' });
  }
  for (const [logGroup, { what, holds }] of logGroups) {
    const days = logGroup.retentionInDays;
    if (days !== undefined && days < 365) {
      acknowledge(
        logGroup,
        'cloudwatch_log_group_retention_period_check',
        `${what}: operational logs holding ${holds} (personal data) are kept ${days} days; a year would keep personal data far ` +
          'longer than running the service needs. A deployment under an audit rule that asks for a year sets a longer retention',
      );
    }
    if (logGroup.kmsKeyId === undefined) {
      acknowledge(
        logGroup,
        'cloudwatch_log_group_encrypted_check',
        `${what}: CloudWatch Logs encrypts every log group at rest (server-side, service-managed keys); a customer-managed KMS key would ` +
          'add a key, a key policy for the Logs service principal and KMS charges per log group, while read access to these logs is ' +
          'already limited by IAM to the account',
      );
    }
  }

  // CT.LAMBDA.PR.2: API Gateway invoke permissions are scoped by SourceArn, which the rule cannot read as a Join
  const apiIds = [stack.httpApi, stack.webSocketApi].map((api) => stack.getLogicalId(api.node.defaultChild as CfnResource));
  for (const c of stack.node.findAll()) {
    if (!(c instanceof CfnPermission) || c.principal !== 'apigateway.amazonaws.com') continue;
    const sourceArn = stack.resolve(c.sourceArn);
    const apiId = apiIds.find((id) => isExecuteApiArnOf(sourceArn, id));
    if (apiId === undefined) continue; // anything else stays a finding
    const route = c.node.scope?.node.id ?? c.node.path;
    acknowledge(
      c,
      'lambda_function_public_access_prohibited_check',
      `API Gateway's permission to invoke the function of ${route}: it is not public, SourceArn limits it to this stack's API ${apiId} ` +
        '(arn:<partition>:execute-api:<region>:<account>:<api id>/...), but CDK renders that ARN as an Fn::Join and the rule accepts only a ' +
        'literal string or a bare Ref/GetAtt',
    );
  }

  // CT.LAMBDA.PR.3: no function reaches a private network resource
  for (const [id, f] of Object.entries(stack.functions)) {
    const services = servicesCalledBy(stack, id);
    const cfnFunction = f.fn.node.defaultChild as CfnFunction;
    const variables = (stack.resolve(cfnFunction.environment) as { variables?: Record<string, unknown> } | undefined)?.variables ?? {};
    const jwks = variables.JWT_JWKS_URL !== undefined;
    acknowledge(
      cfnFunction,
      'lambda_inside_vpc_check',
      `Lambda ${id} calls only AWS APIs on their public, IAM-authenticated endpoints (${services.join(', ')})` +
        `${jwks ? ' and the identity provider JWKS URL on the internet' : ''}, and no resource in a private network; inside a VPC it would ` +
        'need a NAT gateway or one interface endpoint per service and zone, for nothing a VPC protects here',
    );
  }

  if (stack.cognito) {
    acknowledge(
      stack.cognito.scopeTrigger.node.defaultChild as CfnResource,
      'lambda_inside_vpc_check',
      "ScopeTrigger, Cognito's pre token generation trigger: a few lines of inline code that copy the user's group names into the " +
        'access token scopes; it calls no AWS API and nothing on any network, so a VPC would have nothing to protect',
    );
  }

  // CT.SQS.PR.1: the dead-letter queues themselves
  acknowledge(
    stack.streamDlq.node.defaultChild as CfnResource,
    'sqs_dlq_check',
    'StreamFanoutDlq is itself the on-failure destination of the DynamoDB stream event source mapping (batches that exhausted bisect and ' +
      'retries); nothing consumes it, operators inspect or redrive it within its 14-day retention, so a queue behind it would add nothing',
  );
  acknowledge(
    stack.fanoutChunkDlq.node.defaultChild as CfnResource,
    'sqs_dlq_check',
    'FanoutChunkDlq is itself the dead-letter queue of FanoutChunkQueue (maxReceiveCount 3); nothing consumes it, operators inspect or ' +
      'redrive it within its 14-day retention, so a dead-letter queue of its own would add nothing',
  );
}

/** Runs acknowledgeGuardFindings once on every PresenceStack of the app, whenever it was created. */
class AcknowledgeGuardFindings implements IAspect {
  private readonly done = new WeakSet<Stack>();
  visit(node: IConstruct): void {
    if (node instanceof PresenceStack && !this.done.has(node)) {
      this.done.add(node);
      acknowledgeGuardFindings(node);
    }
  }
}

/**
 * Registers the cfn-guard validator on the app (any unacknowledged finding
 * fails `cdk synth`, like cdk-nag) and acknowledges the findings every
 * PresenceStack keeps on purpose. Call it once, before or after the stacks
 * are created.
 */
export function addPolicyValidation(app: App): CfnGuardPlugin {
  const validator = cfnGuardValidator();
  Validations.of(app).addPlugins(validator);
  Aspects.of(app).add(new AcknowledgeGuardFindings());
  return validator;
}
