/**
 * `cdk deploy -c auth=cognito`: the stack's own Cognito user pool, offline.
 * The synthesized template (pool, app client, scope groups, the V2 pre token
 * generation trigger, both APIs' issuer and audience wired to the pool,
 * outputs), bin/app.ts reading the context, cdk-nag with the pool, the
 * trigger's inline code run on a V2 event, and `npm run token`'s arguments.
 * Nothing here reaches AWS: the admin API flow of `npm run token -- --stack`
 * is not exercised (README, Deploy).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runInNewContext } from 'node:vm';
import { App, type CfnElement, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseTokenArgs, randomPassword } from '../../bin/token.ts';
import { PresenceStack } from '../../lib/presence-stack.ts';
import { SCOPES } from '../../lib/routes.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SCOPE_NAMES = Object.values(SCOPES).filter((s): s is string => s !== null);

/** an app that skips esbuild (the handlers' code does not matter here) */
const newApp = (context: Record<string, unknown> = {}) => new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });

let stack: PresenceStack;
let template: Template;
let poolId: string;
let clientId: string;
let issuer: unknown;
/** logical id of the scope trigger function */
const triggerId = () => stack.getLogicalId(stack.cognito!.scopeTrigger.node.defaultChild as CfnElement);

beforeAll(() => {
  const app = newApp();
  stack = new PresenceStack(app, 'PresenceCognito', { env: { account: '123456789012', region: 'eu-west-1' }, auth: 'cognito' });
  template = Template.fromStack(stack);
  poolId = Object.keys(template.findResources('AWS::Cognito::UserPool'))[0]!;
  clientId = Object.keys(template.findResources('AWS::Cognito::UserPoolClient'))[0]!;
  issuer = { 'Fn::Join': ['', ['https://cognito-idp.eu-west-1.amazonaws.com/', { Ref: poolId }]] };
}, 120_000);

describe('auth: cognito template', () => {
  it('one user pool: admin-created users only, strong passwords, Essentials plan, the V2 scope trigger, removed with the stack', () => {
    template.resourceCountIs('AWS::Cognito::UserPool', 1);
    const trigger = triggerId();
    template.hasResource('AWS::Cognito::UserPool', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
        UserPoolTier: 'ESSENTIALS',
        MfaConfiguration: 'OFF',
        Policies: {
          PasswordPolicy: Match.objectLike({ MinimumLength: 16, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true }),
        },
        LambdaConfig: { PreTokenGenerationConfig: { LambdaArn: { 'Fn::GetAtt': [trigger, 'Arn'] }, LambdaVersion: 'V2_0' } },
      }),
    });
  });

  it('one app client: ADMIN_USER_PASSWORD_AUTH (and refresh) only, no secret, no OAuth/hosted UI', () => {
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      UserPoolId: { Ref: poolId },
      ExplicitAuthFlows: ['ALLOW_ADMIN_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      GenerateSecret: false,
      AllowedOAuthFlowsUserPoolClient: false,
      PreventUserExistenceErrors: 'ENABLED',
    });
  });

  it('a group named like each scope of lib/routes.ts', () => {
    const groups = Object.values(template.findResources('AWS::Cognito::UserPoolGroup')).map((g) => g.Properties);
    expect(groups.map((g) => g.GroupName).sort()).toEqual([...SCOPE_NAMES].sort());
    for (const g of groups) expect(g.UserPoolId).toEqual({ Ref: poolId });
  });

  it('the HTTP API JWT authorizer takes the pool as issuer and the app client as audience', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: issuer, Audience: [{ Ref: clientId }] },
    });
  });

  it('the WebSocket $connect authorizer verifies the same issuer and audience against the pool JWKS', () => {
    const env = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((f) => f.Properties.Environment?.Variables)
      .find((v) => v?.JWT_ISSUER !== undefined);
    expect(env).toMatchObject({
      JWT_ISSUER: issuer,
      JWT_AUDIENCE: { Ref: clientId },
      JWT_JWKS_URL: { 'Fn::Join': ['', ['https://cognito-idp.eu-west-1.amazonaws.com/', { Ref: poolId }, '/.well-known/jwks.json']] },
    });
  });

  it('outputs the pool id, the client id and the issuer (read by npm run token -- --stack)', () => {
    template.hasOutput('UserPoolId', { Value: { Ref: poolId } });
    template.hasOutput('UserPoolClientId', { Value: { Ref: clientId } });
    template.hasOutput('JwtIssuer', { Value: issuer });
  });

  it('the trigger runs Node.js 24 with its own role that may only write its own log group, and only Cognito may invoke it', () => {
    const fnId = triggerId();
    const fn = template.toJSON().Resources[fnId];
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler' });
    const role = fn.Properties.Role['Fn::GetAtt'][0];
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) => p.Properties.Roles.some((r: any) => r.Ref === role));
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ScopeTriggerLogs/), 'Arn'] },
      },
    ]);
    expect(template.toJSON().Resources[role].Properties.ManagedPolicyArns).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
      Principal: 'cognito-idp.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [poolId, 'Arn'] },
    });
  });

  it('without auth: cognito there is no user pool, and cognito refuses a jwtIssuer too', () => {
    const plain = Template.fromStack(new PresenceStack(newApp(), 'PresencePlain', { jwtIssuer: 'https://issuer.test/', jwtAudience: ['presence'] }));
    expect(Object.keys(plain.findResources('AWS::Cognito::UserPool'))).toEqual([]);
    expect(plain.toJSON().Outputs.UserPoolId).toBeUndefined();
    expect(() => new PresenceStack(newApp(), 'Both', { auth: 'cognito', jwtIssuer: 'https://issuer.test/' })).toThrow(/do not pass jwtIssuer/);
    expect(() => new PresenceStack(newApp(), 'Neither', {})).toThrow(/jwtIssuer and jwtAudience are required/);
  });
});

describe('the scope trigger (pre token generation V2), its deployed inline code run on Cognito events', () => {
  const runTrigger = async (groups: string[] | undefined) => {
    const fnId = triggerId();
    const source: string = template.toJSON().Resources[fnId].Properties.Code.ZipFile;
    const module = { exports: {} as { handler: (e: unknown) => Promise<any> } };
    runInNewContext(source, { exports: module.exports, module });
    const event = {
      version: '2',
      triggerSource: 'TokenGeneration_Authentication',
      request: { userAttributes: { sub: 'x' }, groupConfiguration: groups === undefined ? undefined : { groupsToOverride: groups }, scopes: [] },
      response: { claimsAndScopeOverrideDetails: null },
    };
    return (await module.exports.handler(event)).response;
  };

  it('adds the scopes named by the user groups, and nothing else', async () => {
    expect(await runTrigger(['presence:sys', 'other', 'presence:admin'])).toEqual({
      claimsAndScopeOverrideDetails: { accessTokenGeneration: { scopesToAdd: ['presence:sys', 'presence:admin'] } },
    });
    expect(await runTrigger(['presence:admin'])).toEqual({ claimsAndScopeOverrideDetails: { accessTokenGeneration: { scopesToAdd: ['presence:admin'] } } });
    expect(await runTrigger([])).toEqual({ claimsAndScopeOverrideDetails: { accessTokenGeneration: { scopesToAdd: [] } } });
    expect(await runTrigger(undefined)).toEqual({ claimsAndScopeOverrideDetails: { accessTokenGeneration: { scopesToAdd: [] } } });
  });
});

describe('cdk-nag with the user pool', () => {
  it('no unacknowledged finding; the pool itself carries only the COG2 (MFA) and COG8 (Plus plan) acknowledgements', () => {
    const app = newApp();
    const s = new PresenceStack(app, 'PresenceCognitoNag', { auth: 'cognito' });
    const violations = new AwsSolutionsChecks().validateScope(app).violations;
    expect(violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} @ ${r.constructPath}`))).toEqual([]);
    const pool = s.cognito!.pool.node.defaultChild!;
    const acks = pool.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY).flatMap((m) => Object.keys(m.data as object));
    expect(acks.map((k) => k.replace(/^annotation::/i, '')).sort()).toEqual(['AwsSolutions-COG2', 'AwsSolutions-COG8']);
  });
});

describe('bin/app.ts reads -c auth', () => {
  /** bin/app.ts as `cdk synth -c …` runs it (CDK_CONTEXT_JSON, CDK_OUTDIR), skipping the bundling; the template it wrote */
  const synth = (context: Record<string, unknown>) => {
    const out = mkdtempSync(join(tmpdir(), 'presence-cognito-'));
    try {
      const res = spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, CDK_OUTDIR: out, CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [], ...context }) },
      });
      if (res.status !== 0) return { error: res.stderr };
      return { template: JSON.parse(readFileSync(join(out, 'Presence.template.json'), 'utf8')) };
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  };

  it('-c auth=cognito synthesizes the pool (cdk-nag runs as in cdk synth) and wires it', () => {
    const { template: t, error } = synth({ auth: 'cognito' });
    expect(error).toBeUndefined();
    expect(Object.values(t.Resources).filter((r: any) => r.Type === 'AWS::Cognito::UserPool')).toHaveLength(1);
    expect(Object.keys(t.Outputs)).toEqual(expect.arrayContaining(['UserPoolId', 'UserPoolClientId', 'JwtIssuer', 'HttpApiUrl', 'WebSocketUrl']));
    // a full synth runs cdk-nag and cfn-guard on a template that the alarms and dashboard made ~3x larger: 30-90 s on a busy machine
  }, 240_000);

  it('refuses an unknown auth and auth=cognito with a jwtIssuer', () => {
    expect(synth({ auth: 'okta' }).error).toContain('-c auth=okta: expected cognito');
    expect(synth({ auth: 'cognito', jwtIssuer: 'https://issuer.test/' }).error).toContain('drop -c jwtIssuer/jwtAudience/jwksUrl');
  }, 120_000);
});

describe('npm run token arguments (bin/token.ts)', () => {
  it('local tokens: <userId> [scope], --scope, --ttl', () => {
    expect(parseTokenArgs(['alice'])).toEqual({ userId: 'alice', scopes: [], ttlSeconds: 86_400 });
    expect(parseTokenArgs(['ops', 'presence:admin'])).toEqual({ userId: 'ops', scopes: ['presence:admin'], ttlSeconds: 86_400 });
    expect(parseTokenArgs(['be', '--scope', 'presence:sys presence:admin', '--ttl', '60'])).toEqual({
      userId: 'be',
      scopes: ['presence:sys', 'presence:admin'],
      ttlSeconds: 60,
    });
  });

  it('--stack: the Cognito pool of stack Presence, or --stack-name; as a token command (`<cmd> <user> [scope]` after --stack)', () => {
    expect(parseTokenArgs(['alice', '--stack'])).toEqual({ userId: 'alice', scopes: [], ttlSeconds: 86_400, stackName: 'Presence' });
    expect(parseTokenArgs(['--stack', 'smoke-1-sys', 'presence:sys'])).toMatchObject({
      userId: 'smoke-1-sys',
      scopes: ['presence:sys'],
      stackName: 'Presence',
    });
    expect(parseTokenArgs(['--stack', '--stack-name', 'PresenceStaging', 'bob'])).toMatchObject({ userId: 'bob', stackName: 'PresenceStaging' });
  });

  it.each([
    [[], 'missing <userId>'],
    [['bad id!'], 'not a valid userId'],
    [['a', 'b', 'c'], 'too many arguments'],
    [['alice', '--nope'], 'unknown option --nope'],
    [['alice', '--ttl', '0'], '--ttl takes whole seconds'],
    [['alice', '--scope'], '--scope needs a value'],
    [['alice', '--stack-name', 'X'], '--stack-name goes with --stack'],
    [['alice', '--stack', '--ttl', '60'], '--ttl is for local tokens'],
    [['alice', 'presence:root', '--stack'], 'the user pool grants only presence:sys, presence:admin, presence:app, not presence:root'],
  ])('refuses %j with the usage', (argv, message) => {
    expect(() => parseTokenArgs(argv)).toThrow(message);
    expect(() => parseTokenArgs(argv)).toThrow('usage: npm run token');
  });

  it('passwords it sets meet the pool policy (16+ characters, lower and upper case, digits, symbols) and differ each time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const p = randomPassword();
      expect(p.length).toBeGreaterThanOrEqual(16);
      for (const re of [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/]) expect(p).toMatch(re);
      seen.add(p);
    }
    expect(seen.size).toBe(50);
  });
});
