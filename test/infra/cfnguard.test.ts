/**
 * AWS Control Tower's proactive controls (CloudFormation Guard rules, run by
 * @cdklabs/cdk-validator-cfnguard's bundled cfn-guard binary) on the
 * synthesized PresenceStack, wired as bin/app.ts does (lib/policy-validation.ts,
 * `addPolicyValidation(app)`): synthesis fails on any finding that is not
 * one of the listed exceptions; every exception sits on one resource with a
 * specific reason and matches a finding the rules really report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { CDK_APP_MODE_CONTEXT, type CloudAssembly } from 'aws-cdk-lib/cx-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { addPolicyValidation, CFN_GUARD_PLUGIN, cfnGuardValidator, GUARD_EXCEPTIONS } from '../../lib/policy-validation.ts';
import { PresenceStack, type PresenceStackProps } from '../../lib/presence-stack.ts';
import { facadeRoutes, httpRoutes, wsRoutes } from '../../lib/routes.ts';
import { type Ack, expectSpecificReasons, MIN_REASON_LENGTH } from '../support/acknowledgements.ts';

type ReportedConstruct = { constructPath: string; cloudFormationResource?: { templatePath: string; logicalId: string } };
type ReportedViolation = { ruleName: string; severity: string; violatingConstructs: ReportedConstruct[] };
type SuppressedViolation = ReportedViolation & { acknowledgedId: string; reason?: string; acknowledgedAt?: string };
type PluginReport = { pluginName: string; conclusion: string; violations: ReportedViolation[]; suppressedViolations?: SuppressedViolation[] };

const props: PresenceStackProps = { jwtIssuer: 'https://issuer.test/', jwtAudience: ['presence-api'] };

/**
 * Two variants: environment-agnostic (like `cdk synth` without credentials),
 * and a concrete environment with the stack's own Cognito user pool
 * (`-c auth=cognito`) and without the account-level role (`withCognito:
 * false`: the first only).
 */
function buildApp(withCognito = true): { app: App; stacks: PresenceStack[] } {
  const app = new App({
    context: {
      // findings do not depend on the bundled handler code: skip esbuild for speed
      'aws:cdk:bundling-stacks': [],
      // a failed validation throws with the report (as under `cdk synth` it fails the synth) instead of setting process.exitCode
      [CDK_APP_MODE_CONTEXT]: 'inmemory',
    },
  });
  addPolicyValidation(app);
  const stacks = [new PresenceStack(app, 'PresenceGuardAgnostic', props)];
  if (withCognito) {
    stacks.push(
      new PresenceStack(app, 'PresenceGuardCognito', {
        env: { account: '123456789012', region: 'eu-west-1' },
        auth: 'cognito',
        apiGatewayCloudWatchRole: false,
      }),
    );
  }
  return { app, stacks };
}

/** every cfn-guard acknowledgement in the tree */
function guardAcknowledgements(app: App): Ack[] {
  const out: Ack[] = [];
  for (const c of app.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [key, reason] of Object.entries(entry.data as Record<string, string>)) {
        if (!key.startsWith(`${CFN_GUARD_PLUGIN}::`)) continue;
        out.push({ rule: key.slice(CFN_GUARD_PLUGIN.length + 2), path: c.node.path, reason, stack: Stack.of(c).stackName });
      }
    }
  }
  return out;
}

const resourceKey = (rule: string, templatePath: string, logicalId: string) => `${rule} ${path.basename(templatePath)} ${logicalId}`;

let app: App;
let stacks: PresenceStack[];
let assembly: CloudAssembly | undefined;
let synthError: unknown;
let guard: PluginReport | undefined;
let acks: Ack[];

beforeAll(() => {
  ({ app, stacks } = buildApp());
  try {
    assembly = app.synth();
  } catch (err) {
    synthError = err;
  }
  if (assembly) {
    const report = JSON.parse(readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8')) as { pluginReports: PluginReport[] };
    guard = report.pluginReports.find((r) => r.pluginName === CFN_GUARD_PLUGIN);
  }
  acks = guardAcknowledgements(app);
}, 180_000);

describe('cfn-guard (Control Tower proactive controls) at synth', () => {
  it('the validator is the npm package with its own cfn-guard binary: no install script, nothing downloaded', () => {
    const require = createRequire(import.meta.url);
    const pkgDir = path.dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json'));
    const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    expect(Object.keys(pkg.scripts ?? {}).filter((s) => /^(pre|post)?install$|^prepare$/.test(s))).toEqual([]);
    const binary = (cfnGuardValidator().validator as unknown as { guard: string }).guard;
    expect(binary.startsWith(path.join(pkgDir, 'bin'))).toBe(true);
    expect(existsSync(binary)).toBe(true);
  });

  it('synthesis with the validator registered succeeds and leaves no unacknowledged finding', () => {
    expect(synthError === undefined ? '' : String((synthError as Error).message)).toBe('');
    expect(guard, 'the cfn-guard plugin report').toBeDefined();
    expect(guard!.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} @ ${c.constructPath}`))).toEqual([]);
    expect(guard!.conclusion).toBe('success');
  });

  it('kept findings are exactly the listed exceptions, in the expected numbers per stack', () => {
    const suppressed = guard!.suppressedViolations ?? [];
    expect([...new Set(suppressed.map((v) => v.ruleName))].sort()).toEqual(Object.keys(GUARD_EXCEPTIONS).sort());
    expect(stacks.some((s) => s.cognito)).toBe(true);
    for (const stack of stacks) {
      // the route functions and workers, and the Cognito scope trigger where there is one
      const functions = Object.keys(stack.functions).length + (stack.cognito ? 1 : 0);
      const expected: Record<keyof typeof GUARD_EXCEPTIONS, number> = {
        // every WebSocket route but $connect, and every route of the compatibility facades (their functions verify the token)
        api_gw_v2_authorization_type_configured_check: wsRoutes.length - 1 + facadeRoutes(stack.facades).length,
        // one log group per function, and the two access log groups
        cloudwatch_log_group_retention_period_check: functions + 2,
        cloudwatch_log_group_encrypted_check: functions + 2,
        // one invoke permission per HTTP route (the facades' included), per WebSocket route, and the $connect authorizer
        lambda_function_public_access_prohibited_check: httpRoutes.length + facadeRoutes(stack.facades).length + wsRoutes.length + 1,
        lambda_inside_vpc_check: functions,
        // StreamFanoutDlq, FanoutChunkDlq
        sqs_dlq_check: 2,
      };
      const counts: Record<string, number> = {};
      for (const v of suppressed) {
        for (const c of v.violatingConstructs) if (c.constructPath.startsWith(`${stack.stackName}/`)) counts[v.ruleName] = (counts[v.ruleName] ?? 0) + 1;
      }
      expect(counts, stack.stackName).toEqual(expected);
    }
  });

  it('each exception is acknowledged on the very resource it concerns, never on a parent', () => {
    for (const v of guard!.suppressedViolations ?? []) {
      for (const c of v.violatingConstructs) expect(v.acknowledgedAt, `${v.ruleName} @ ${c.constructPath}`).toBe(c.constructPath);
    }
  });

  it(`each carries a specific reason (>= ${MIN_REASON_LENGTH} characters, not boilerplate, not copied between resources)`, () => {
    expect(acks.length).toBeGreaterThan(0);
    expectSpecificReasons(
      acks,
      stacks.map((s) => s.stackName),
    );
  });

  it('the acknowledgements are exactly the findings cfn-guard reports without them (none stale, none missing)', () => {
    // the validator run directly on a synthesized template knows nothing of acknowledgements
    // (one stack: cfn-guard takes ~20 s a template since the alarms and dashboard of lib/constructs/monitoring.ts
    // roughly tripled it; the other's numbers are checked above)
    const stack = stacks[0]!;
    const templatePaths = [assembly!.getStackByName(stack.stackName).templateFullPath];
    const raw = cfnGuardValidator().validate({ templatePaths, appConstruct: app });
    const rawKeys = raw.violations.flatMap((v) => v.violatingResources.map((r) => resourceKey(v.ruleName, r.templatePath, r.resourceLogicalId!)));
    expect(rawKeys.length).toBeGreaterThan(0);
    const suppressedKeys = (guard!.suppressedViolations ?? []).flatMap((v) =>
      v.violatingConstructs
        .filter((c) => c.constructPath.startsWith(`${stack.stackName}/`))
        .map((c) => resourceKey(v.ruleName, c.cloudFormationResource!.templatePath, c.cloudFormationResource!.logicalId)),
    );
    expect([...new Set(suppressedKeys)].sort()).toEqual([...new Set(rawKeys)].sort());
    // and every acknowledgement recorded in the tree was used by one of them
    const used = new Set((guard!.suppressedViolations ?? []).map((v) => `${v.ruleName} @ ${v.acknowledgedAt}`));
    expect(acks.map((a) => `${a.rule} @ ${a.path}`).filter((a) => !used.has(a))).toEqual([]);
  }, 180_000);

  it('a new finding fails the synth (a queue without a dead-letter queue)', () => {
    const probe = buildApp(false);
    new Queue(probe.stacks[0]!, 'ProbeQueue');
    let message = '';
    try {
      probe.app.synth();
    } catch (err) {
      message = String((err as Error).message);
    }
    expect(message).toMatch(/CT\.SQS\.PR\.1[^\n]*\n\s*PresenceGuardAgnostic\/ProbeQueue\/Resource/);
    // the listed exceptions stay acknowledged: only the probe's findings are reported
    const reported = [...message.matchAll(/^\s*(PresenceGuard\S+)/gm)].map((m) => m[1]!);
    expect(reported.length).toBeGreaterThan(0);
    expect(reported.filter((p) => !p.startsWith('PresenceGuardAgnostic/ProbeQueue/'))).toEqual([]);
  }, 180_000);
});
