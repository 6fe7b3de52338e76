/**
 * cdk-nag AwsSolutionsChecks on the synthesized PresenceStack, wired as in
 * bin/app.ts (a CDK validation plugin): no finding may be left
 * unacknowledged, errors and warnings alike; every acknowledgement
 * (lib/nag-suppressions.ts) sits on one resource, carries a specific reason
 * and matches a finding the checks really report; wildcard acknowledgements
 * stay as narrow as the grants that cause them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App, CfnResource, type PolicyViolation, Stack, Validations } from 'aws-cdk-lib';
import { CfnPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { RESOURCE_STAR_ACTIONS } from '../../lib/nag-suppressions.ts';
import { PresenceStack, type PresenceStackProps } from '../../lib/presence-stack.ts';
import { type Ack, expectSpecificReasons, MIN_REASON_LENGTH } from '../support/acknowledgements.ts';

type Finding = { rule: string; path: string; severity: string };
type Statement = { Effect: string; Action: string | string[]; Resource?: unknown };

const props: PresenceStackProps = { jwtIssuer: 'https://issuer.test/', jwtAudience: ['presence-api'] };

/**
 * Two variants, so both renderings of region/account in ARNs are covered:
 * environment-agnostic (like `cdk synth` without credentials) and a concrete
 * environment without the account-level API Gateway role.
 */
function buildApp(): { app: App; stacks: PresenceStack[] } {
  // findings do not depend on the bundled handler code: skip esbuild for speed
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stacks = [
    new PresenceStack(app, 'PresenceNagAgnostic', props),
    new PresenceStack(app, 'PresenceNagEnv', { ...props, env: { account: '123456789012', region: 'eu-west-1' }, apiGatewayCloudWatchRole: false }),
  ];
  return { app, stacks };
}

const findingsOf = (violations: PolicyViolation[]): Finding[] =>
  violations.flatMap((v) => v.violatingResources.map((r) => ({ rule: v.ruleName, path: r.constructPath ?? '?', severity: v.severity ?? '?' })));
const show = (f: Finding[]) => f.map((x) => `${x.severity} ${x.rule} @ ${x.path}`).sort();

/** every `Validations.of(x).acknowledge(...)` in the tree */
function acknowledgementsIn(app: App): { ack: Ack; construct: unknown }[] {
  const out: { ack: Ack; construct: unknown }[] = [];
  for (const c of app.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [key, reason] of Object.entries(entry.data as Record<string, string>)) {
        const stack = c === app ? '(app)' : Stack.of(c).stackName;
        out.push({ ack: { rule: key.replace(/^annotation::/i, ''), path: c.node.path, reason, stack }, construct: c });
      }
    }
  }
  return out;
}

/** the same checks, blind to acknowledgements: every finding the stack would have without lib/nag-suppressions.ts */
function unacknowledgedRun(app: App): Finding[] {
  const raw = new AwsSolutionsChecks();
  // NagPack's (private) acknowledgement lookup; if a cdk-nag upgrade renames it, this run reports
  // nothing and the "none stale" test below fails loudly instead of passing silently
  (raw as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
  return findingsOf(raw.validateScope(app).violations);
}

let app: App;
let stacks: PresenceStack[];
let checks: AwsSolutionsChecks;
let assembly: CloudAssembly | undefined;
let synthError: unknown;
let acks: Ack[];

beforeAll(() => {
  ({ app, stacks } = buildApp());
  checks = new AwsSolutionsChecks(app, { verbose: true });
  Validations.of(app).addPlugins(checks);
  try {
    assembly = app.synth();
  } catch (err) {
    synthError = err;
  }
  acks = acknowledgementsIn(app).map((a) => a.ack);
}, 180_000);

describe('cdk-nag AwsSolutionsChecks', () => {
  it('synthesis with the checks registered as a validation plugin succeeds and reports nothing', () => {
    expect(synthError === undefined ? '' : String((synthError as Error).message)).toBe('');
    const report = JSON.parse(readFileSync(path.join(assembly!.directory, 'validation-report.json'), 'utf8')) as {
      pluginReports: { pluginName: string; violations: unknown[] }[];
    };
    expect(report.pluginReports.filter((r) => r.violations.length > 0)).toEqual([]);
  });

  it('no unacknowledged finding, errors and warnings alike', () => {
    const { violations } = checks.validateScope(app);
    expect(show(findingsOf(violations))).toEqual([]);
  });

  it('the checks do catch a new finding (an unencrypted queue, a new wildcard grant)', () => {
    const probe = buildApp();
    const [stack] = probe.stacks as [PresenceStack];
    new Queue(stack, 'ProbeQueue', { encryption: QueueEncryption.UNENCRYPTED });
    stack.functions.Heartbeat!.fn.addToRolePolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::probe-bucket/*'] }));
    const found = show(findingsOf(new AwsSolutionsChecks().validateScope(probe.app).violations));
    // only the probe's own findings count here (the rest is covered by the tests above)
    expect(found.filter((f) => /ProbeQueue|probe-bucket/.test(f))).toEqual([
      'error AwsSolutions-IAM5[Resource::arn:aws:s3:::probe-bucket/*] @ PresenceNagAgnostic/Heartbeat/ServiceRole/DefaultPolicy/Resource',
      'error AwsSolutions-SQS2 @ PresenceNagAgnostic/ProbeQueue/Resource',
      'error AwsSolutions-SQS3 @ PresenceNagAgnostic/ProbeQueue/Resource',
      'error AwsSolutions-SQS4 @ PresenceNagAgnostic/ProbeQueue/Resource',
    ]);
  });
});

describe('acknowledgements (lib/nag-suppressions.ts)', () => {
  it('exist for both stacks', () => {
    for (const stack of stacks) expect(acks.filter((a) => a.stack === stack.stackName).length, stack.stackName).toBeGreaterThan(0);
  });

  it('name one AwsSolutions rule (one detail for IAM4/IAM5) and sit on a single CloudFormation resource, never on a stack or the app', () => {
    for (const { ack, construct } of acknowledgementsIn(app)) {
      expect(ack.rule, ack.path).toMatch(/^AwsSolutions-[A-Z]+\d+(\[(Resource|Policy)::.+\])?$/);
      if (/^AwsSolutions-IAM[45]$/.test(ack.rule)) throw new Error(`${ack.path}: ${ack.rule} must name the exact policy or resource`);
      expect(CfnResource.isCfnResource(construct), `${ack.path} is a CfnResource`).toBe(true);
    }
  });

  it(`carry a specific reason (>= ${MIN_REASON_LENGTH} characters, not boilerplate, not copied between resources)`, () => {
    // within a stack, one rule on two resources gets two reasons (each names its route/function)
    expectSpecificReasons(
      acks,
      stacks.map((s) => s.stackName),
    );
  });

  it('each matches a finding the checks report without it, and together they are exactly those findings (none stale)', () => {
    const raw = unacknowledgedRun(app).map((f) => `${f.rule} @ ${f.path}`);
    expect(raw.length).toBeGreaterThan(0);
    expect(acks.map((a) => `${a.rule} @ ${a.path}`).sort()).toEqual([...new Set(raw)].sort());
  });

  it("APIG4 only on WebSocket routes other than $connect and on the compatibility facades' routes; the contract's HTTP routes and $connect have authorizers", () => {
    for (const stack of stacks) {
      const apig4 = acks.filter((a) => a.stack === stack.stackName && a.rule === 'AwsSolutions-APIG4').map((a) => a.path);
      const expected = [
        ...Object.entries(stack.webSocketRoutes)
          .filter(([key]) => key !== '$connect')
          .map(([, route]) => route),
        // a facade's function verifies the token itself (functions/commons/facade.ts)
        ...Object.values(stack.facadeHttpRoutes),
      ].map((route) => (route.node.defaultChild as CfnResource).node.path);
      expect(Object.keys(stack.facadeHttpRoutes).length).toBeGreaterThan(0);
      expect(apig4.sort()).toEqual(expected.sort());
    }
  });

  it('IAM wildcards: never on actions; Resource "*" only for actions without resource-level permissions; otherwise GSIs and @connections', () => {
    for (const ack of acks.filter((a) => a.rule.startsWith('AwsSolutions-IAM5'))) {
      const resource = ack.rule.replace(/^AwsSolutions-IAM5\[Resource::(.*)\]$/, '$1');
      expect(resource, `${ack.path}: ${ack.rule}`).toMatch(/^\*$|^<(Presence|Graph)[0-9A-F]{8}\.Arn>\/index\/\*$|\/live\/POST\/@connections\/\*$/);
    }
    // the IAM5[Resource::*] acknowledgement covers a whole policy: check what is on "*" in every policy
    const policies = app.node.findAll().filter((c): c is CfnPolicy => c instanceof CfnPolicy);
    expect(policies.length).toBeGreaterThan(0);
    for (const policy of policies) {
      const doc = Stack.of(policy).resolve(policy.policyDocument) as { Statement: Statement[] };
      for (const s of doc.Statement) {
        const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
        expect(
          actions.filter((a) => a.includes('*')),
          `${policy.node.path}: action wildcards`,
        ).toEqual([]);
        if (s.Resource === '*' || (Array.isArray(s.Resource) && s.Resource.includes('*'))) {
          expect(
            actions.filter((a) => RESOURCE_STAR_ACTIONS[a] === undefined),
            `${policy.node.path}: actions on Resource "*" that have resource-level permissions`,
          ).toEqual([]);
        }
      }
    }
  });

  it('IAM4 (AWS managed policy) only on the account-level API Gateway CloudWatch role', () => {
    const iam4 = acks.filter((a) => a.rule.startsWith('AwsSolutions-IAM4'));
    expect(iam4.map((a) => a.path)).toEqual(['PresenceNagAgnostic/ApiGatewayCloudWatchRole/Resource']);
  });
});
