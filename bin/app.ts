/**
 * CDK app: `npx cdk synth` / `npx cdk deploy`.
 *
 * Context (cdk.json or `-c key=value`):
 *   jwtIssuer    token issuer, e.g. https://auth.example.com/ (default: a placeholder that synthesizes offline)
 *   jwtAudience  comma-separated accepted audiences (default: presence)
 *   jwksUrl      optional, default `${jwtIssuer}/.well-known/jwks.json`
 *   auth         `cognito`: the stack creates its own Cognito user pool and app client and accepts
 *                their tokens instead (jwtIssuer/jwtAudience/jwksUrl may not be given then);
 *                `npm run token -- <user> --stack` signs users in through it
 *   heartbeat    `gateway`: WebSocket heartbeats answered by a MOCK integration (no Lambda, no write),
 *                liveness read by the sweeper from GetConnection's LastActiveAt (default `lambda`;
 *                see docs/cost.md for why gateway is not the default)
 *   compat       the compatibility facades to deploy (docs/compat.md): a comma list of their names
 *                (generic, ringcentral), `none`, or `all` (the default)
 *   genericBroadcast  the generic facade's everyone-broadcast: at most this many `format=generic`
 *                connections hear every change (default 0: off; docs/compat.md)
 *   alarmEmail   an email address subscribed to the alarm topic (it must confirm the subscription);
 *                every alarm notifies the topic either way (docs/operations.md)
 */
import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { addPolicyValidation } from '../lib/policy-validation.ts';
import { PresenceStack } from '../lib/presence-stack.ts';
import { facades, HEARTBEAT_MODES, type HeartbeatMode, parseCompat } from '../lib/routes.ts';
import { assertValidatorsFresh } from '../lib/validators.ts';

// the bundles carry the generated validators: refuse to build them from stale ones (npm run build:validators)
assertValidatorsFresh();

const app = new App();

// cdk-nag: any unacknowledged AwsSolutions finding (error or warning) fails `cdk synth`.
// The findings kept on purpose are acknowledged with their reasons in lib/nag-suppressions.ts;
// writeSuppressionsToCloudFormation copies those reasons into each resource's template Metadata (cdk_nag).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }));
// AWS Control Tower's proactive controls (cfn-guard, offline): the findings kept on purpose are in lib/policy-validation.ts
addPolicyValidation(app);

const context = (key: string): string | undefined => {
  const v: unknown = app.node.tryGetContext(key);
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
};

const auth = context('auth') ?? 'jwt';
if (auth !== 'jwt' && auth !== 'cognito') throw new Error(`-c auth=${auth}: expected cognito (or jwt, the default)`);
const jwtKeys = ['jwtIssuer', 'jwtAudience', 'jwksUrl'] as const;
if (auth === 'cognito' && jwtKeys.some((k) => context(k) !== undefined))
  throw new Error("-c auth=cognito takes the issuer and audience from the stack's user pool: drop -c jwtIssuer/jwtAudience/jwksUrl");

const heartbeat = context('heartbeat') ?? 'lambda';
if (!HEARTBEAT_MODES.includes(heartbeat as HeartbeatMode)) throw new Error(`-c heartbeat=${heartbeat}: expected ${HEARTBEAT_MODES.join(' or ')}`);

// X-Ray on the stream consumer, the chunk worker and the sweeper (-c tracing=on); default off (lib/presence-stack.ts `tracing`)
const tracing = context('tracing') ?? 'off';
if (tracing !== 'on' && tracing !== 'off') throw new Error(`-c tracing=${tracing}: expected on or off (the default)`);

new PresenceStack(app, 'Presence', {
  heartbeat: heartbeat as HeartbeatMode,
  tracing: tracing === 'on',
  compat: parseCompat(context('compat')),
  genericBroadcast: Number(context('genericBroadcast') ?? 0),
  // the facades' fixed path segments (Agora's org and app): -c agoraOrg=… -c agoraApp=…
  facadeSegments: Object.fromEntries(facades.flatMap((f) => f.segments ?? []).map((s) => [s.env, context(s.context)])),
  alarmEmail: context('alarmEmail'),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Presence service: HTTP + WebSocket APIs, Lambda, DynamoDB',
  ...(auth === 'cognito'
    ? { auth }
    : {
        jwtIssuer: context('jwtIssuer') ?? 'https://auth.example.com/',
        jwtAudience: (context('jwtAudience') ?? 'presence')
          .split(',')
          .map((a) => a.trim())
          .filter((a) => a !== ''),
        jwksUrl: context('jwksUrl'),
      }),
});

Tags.of(app).add('app', 'presence');
