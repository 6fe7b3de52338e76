/**
 * CDK app: `npx cdk synth` / `npx cdk deploy`.
 *
 * Context (cdk.json or `-c key=value`):
 *   jwtIssuer    token issuer, e.g. https://auth.example.com/ (default: a placeholder that synthesizes offline)
 *   jwtAudience  comma-separated accepted audiences (default: presence)
 *   jwksUrl      optional, default `${jwtIssuer}/.well-known/jwks.json`
 */
import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PresenceStack } from '../lib/presence-stack.ts';

const app = new App();

// cdk-nag: any unacknowledged AwsSolutions finding (error or warning) fails `cdk synth`.
// The findings kept on purpose are acknowledged with their reasons in lib/nag-suppressions.ts;
// writeSuppressionsToCloudFormation copies those reasons into each resource's template Metadata (cdk_nag).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }));

const context = (key: string): string | undefined => {
  const v: unknown = app.node.tryGetContext(key);
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
};

const jwtIssuer = context('jwtIssuer') ?? 'https://auth.example.com/';
const jwtAudience = (context('jwtAudience') ?? 'presence')
  .split(',')
  .map((a) => a.trim())
  .filter((a) => a !== '');

new PresenceStack(app, 'Presence', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Presence service: HTTP + WebSocket APIs, Lambda, DynamoDB',
  jwtIssuer,
  jwtAudience,
  jwksUrl: context('jwksUrl'),
});

Tags.of(app).add('app', 'presence');
