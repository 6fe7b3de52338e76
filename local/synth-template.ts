/**
 * Writes the stack's CloudFormation template to the file named by argv[2]
 * (argv[3]: the heartbeat mode, default lambda; argv[4]: the compat setting, default all;
 * argv[5]: the generic facade's broadcast cap, default 0),
 * synthesized as bin/app.ts does but without bundling the functions (the
 * local stack reads policies and settings from it; see local/template.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { PresenceStack } from '../lib/presence-stack.ts';
import { HEARTBEAT_MODES, type HeartbeatMode, parseCompat } from '../lib/routes.ts';

const out = process.argv[2];
const heartbeat = (process.argv[3] ?? 'lambda') as HeartbeatMode;
if (!out || !HEARTBEAT_MODES.includes(heartbeat)) throw new Error('usage: synth-template.ts <output file> [lambda|gateway] [compat setting]');
const compat = parseCompat(process.argv[4]);
const genericBroadcast = Number(process.argv[5] ?? 0);
const outdir = mkdtempSync(join(tmpdir(), 'presence-synth-'));
try {
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  // the facades' path segments as the local gateway resolves them (env AGORA_ORG / AGORA_APP)
  new PresenceStack(app, 'Presence', {
    jwtIssuer: 'https://auth.example.com/',
    jwtAudience: ['presence'],
    heartbeat,
    compat,
    genericBroadcast,
    facadeSegments: process.env,
  });
  writeFileSync(out, JSON.stringify(app.synth().getStackByName('Presence').template));
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
