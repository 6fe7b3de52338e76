/**
 * The CloudFormation template `cdk synth` produces for the stack, for the
 * local stack to read what AWS will enforce (each function's role policies,
 * environment, handler, memory, timeout). Synthesized in a child process
 * without bundling (the policies do not depend on the bundles; ~7 s) and
 * cached under node_modules/.cache by a hash of what shapes it (lib/, the
 * route table, the CDK version), so later starts read it at once.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { compatSetting, type Facade, FUNCTION_TAG, facades, HEARTBEAT_ROUTE_KEY, type HeartbeatMode } from '../lib/routes.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CACHE = join(ROOT, 'node_modules', '.cache', 'presence-backend');

export interface CfnResource {
  Type: string;
  Properties?: Record<string, any>;
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
}

/** Everything the template is made of: lib/**, the CDK version, this file. */
function sourceHash(): string {
  const h = createHash('sha256');
  const files = readdirSync(join(ROOT, 'lib'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .sort();
  for (const f of files) h.update(f).update(readFileSync(join(ROOT, 'lib', f)));
  h.update(readFileSync(join(ROOT, 'node_modules', 'aws-cdk-lib', 'package.json')));
  h.update(readFileSync(join(ROOT, 'local', 'synth-template.ts')));
  return h.digest('hex').slice(0, 16);
}

/** The stack's functions (tagged with FUNCTION_TAG) by route/worker id. */
export function functionsById(template: CfnTemplate): Map<string, CfnResource> {
  const out = new Map<string, CfnResource>();
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const id = (r.Properties?.Tags as { Key: string; Value: string }[] | undefined)?.find((t) => t.Key === FUNCTION_TAG)?.Value;
    if (id) out.set(id, r);
  }
  return out;
}

const loaded = new Map<string, CfnTemplate>();

/**
 * The synthesized template of the stack as `npm run synth` makes it (cached),
 * or as `npm run synth -- -c heartbeat=gateway -c compat=<names> -c genericBroadcast=<cap>` does.
 */
export function synthesizedTemplate(heartbeat: HeartbeatMode = 'lambda', compat: readonly Facade[] = facades, genericBroadcast = 0): CfnTemplate {
  const setting = compatSetting(compat);
  const key = `${heartbeat}-${setting}${genericBroadcast > 0 ? `-broadcast${genericBroadcast}` : ''}`;
  const cached = loaded.get(key);
  if (cached) return cached;
  const file = join(CACHE, `template-${sourceHash()}-${key.replace(/,/g, '+')}.json`);
  if (!existsSync(file)) {
    mkdirSync(CACHE, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'local', 'synth-template.ts'), tmp, heartbeat, setting, String(genericBroadcast)], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
    });
    renameSync(tmp, file);
  }
  const template = JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate;
  loaded.set(key, template);
  return template;
}

/** The compatibility facades a template deploys: those whose function it has. */
export function facadesOf(template: CfnTemplate): Facade[] {
  const ids = functionsById(template);
  return facades.filter((f) => ids.has(f.id));
}

/** A template read from a cdk.out assembly directory (`cdk synth` output). */
export function assemblyTemplate(dir: string, stack = 'Presence'): CfnTemplate {
  return JSON.parse(readFileSync(join(dir, `${stack}.template.json`), 'utf8')) as CfnTemplate;
}

/** The heartbeat mode a template was synthesized in: `gateway` when its heartbeat route has a MOCK integration. */
export function heartbeatModeOf(template: CfnTemplate): HeartbeatMode {
  const resources = template.Resources;
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::ApiGatewayV2::Route' || r.Properties?.RouteKey !== HEARTBEAT_ROUTE_KEY) continue;
    const target = String(r.Properties?.Target?.['Fn::Join']?.[1]?.[1]?.Ref ?? '');
    if (resources[target]?.Properties?.IntegrationType === 'MOCK') return 'gateway';
  }
  return 'lambda';
}
