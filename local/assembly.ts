/**
 * Runs the functions as `cdk synth` built them (`npm start -- --from-assembly
 * [cdk.out]`): each function's bundle is the asset its template resource
 * points at (Code.S3Key → the assets manifest → `asset.<hash>/`), loaded with
 * the handler the template names, under exactly the environment variables
 * the template gives that function plus what Lambda's runtime sets, with the
 * template's placeholders (table names, the callback URL, the chunk queue's
 * URL) resolved to their local equivalents and only those; memory and
 * timeout as the template says (the timeout is enforced, memory is reported
 * to the handler but not limited: one process runs them all).
 *
 * The bundle is imported with `process.env` set to that environment alone,
 * so what it reads at module scope (the house rule) is exactly what Lambda
 * would give it: a variable the template does not set is missing here too,
 * and an import the bundle does not carry fails to load here too (only
 * `@aws-sdk/*` is external, as the nodejs24.x runtime provides it).
 *
 * The identity provider is a placeholder as well: the WebSocket authorizer's
 * JWT_ISSUER / JWT_AUDIENCE / JWT_JWKS_URL (your issuer, which the local
 * stack cannot reach) become the local identity provider's: no issuer,
 * audience or JWKS, and PRESENCE_JWT_SECRET, the key of the local HS256
 * tokens (the one variable added to a function's environment).
 *
 * Observability as the local stack runs it from the sources: POWERTOOLS_SERVICE_NAME
 * (the stack name) becomes the local stack's `service`, and a traced
 * function's tracing is off (POWERTOOLS_TRACE_ENABLED=false: there is no
 * X-Ray daemon here, and the function then loads no X-Ray SDK, whose async
 * hook would slow down every function of the process).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LOCAL_REGION } from './iam.ts';
import { invocation, LOCAL_SERVICE_NAME } from './metrics.ts';
import { assemblyTemplate, type CfnTemplate, functionsById } from './template.ts';

type Handler = (event: any, context: any) => Promise<any>;

const REPO_ROOT = resolve(import.meta.dirname, '..');

/** What the consumer thread and the main thread need to load the same bundles. */
export interface AssemblyConfig {
  dir: string;
  tables: { Presence: string; Graph: string };
  /** the local `@connections` endpoint */
  wsCallbackUrl: string;
  dynamodbEndpoint: string;
  jwtSecret: string;
}

export interface AssemblyFunction {
  id: string;
  /** the bundle's file and the export the template's Handler names */
  file: string;
  exportName: string;
  env: Record<string, unknown>;
  memoryMb: number;
  timeoutSeconds: number;
}

/** A file of functions/ or lib/ newer than the assembly (run `npm run synth` again), if any. */
export function newerThanAssembly(dir: string): string | undefined {
  const built = statSync(join(resolve(dir), 'Presence.template.json')).mtimeMs;
  for (const folder of ['functions', 'lib'])
    for (const f of readdirSync(join(REPO_ROOT, folder), { recursive: true }).map(String))
      if (f.endsWith('.ts') && statSync(join(REPO_ROOT, folder, f)).mtimeMs > built) return `${folder}/${f}`;
  return undefined;
}

/** Every function of the assembly, by route/worker id. */
export function assemblyFunctions(dir: string): { template: CfnTemplate; functions: Map<string, AssemblyFunction> } {
  const root = resolve(dir);
  const manifest = join(root, 'Presence.assets.json');
  if (!existsSync(manifest)) throw new Error(`${root} holds no CDK assembly of the stack: run \`npm run synth\` first`);
  const assets = (JSON.parse(readFileSync(manifest, 'utf8')) as { files: Record<string, { source: { path: string } }> }).files;
  const template = assemblyTemplate(root);
  const functions = new Map<string, AssemblyFunction>();
  for (const [id, r] of functionsById(template)) {
    const p = r.Properties ?? {};
    const hash = String(p.Code?.S3Key ?? '').replace(/\.zip$/, '');
    const asset = assets[hash];
    if (!asset) throw new Error(`function ${id}: its code asset ${hash} is not in ${manifest}`);
    const [base, exportName] = String(p.Handler).split('.') as [string, string];
    const folder = join(root, asset.source.path);
    const file = ['.mjs', '.js', '.cjs'].map((ext) => join(folder, base + ext)).find(existsSync);
    if (!file) throw new Error(`function ${id}: no ${base}.mjs/.js in ${folder}`);
    functions.set(id, { id, file, exportName, env: p.Environment?.Variables ?? {}, memoryMb: p.MemorySize ?? 128, timeoutSeconds: p.Timeout ?? 3 });
  }
  return { template, functions };
}

/** The environment Lambda gives the function: the template's variables (placeholders resolved locally) and the runtime's own. */
export function lambdaEnvironment(fn: AssemblyFunction, cfg: AssemblyConfig): Record<string, string> {
  const placeholders: Record<string, string | undefined> = {
    PRESENCE_TABLE: cfg.tables.Presence,
    GRAPH_TABLE: cfg.tables.Graph,
    WS_CALLBACK_URL: cfg.wsCallbackUrl,
    // the local SQS endpoint of the thread that loads the stream and chunk functions
    FANOUT_QUEUE_URL: process.env.FANOUT_QUEUE_URL,
  };
  const env: Record<string, string> = {};
  // the identity provider is a placeholder too (your issuer, or the stack's own Cognito pool): the local stack is
  // its own, with HS256 tokens and no issuer, audience or JWKS
  const identity = ['JWT_ISSUER', 'JWT_AUDIENCE', 'JWT_JWKS_URL'].some((name) => name in fn.env);
  for (const [name, value] of Object.entries(fn.env)) {
    if (identity && name.startsWith('JWT_')) env[name] = '';
    else if (typeof value === 'string') env[name] = value;
    else if (placeholders[name] !== undefined) env[name] = placeholders[name] as string;
    else throw new Error(`function ${fn.id}: ${name} is ${JSON.stringify(value)} in the template, and the local stack has no equivalent`);
  }
  if (identity) env.PRESENCE_JWT_SECRET = cfg.jwtSecret;
  if ('POWERTOOLS_SERVICE_NAME' in env) env.POWERTOOLS_SERVICE_NAME = LOCAL_SERVICE_NAME;
  if (env.POWERTOOLS_TRACE_ENABLED === 'true') env.POWERTOOLS_TRACE_ENABLED = 'false';
  return {
    ...env,
    // what Lambda's runtime sets (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime)
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_LAMBDA_FUNCTION_NAME: fn.id,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    LAMBDA_TASK_ROOT: resolve(fn.file, '..'),
    _HANDLER: `${fn.file.replace(/^.*\//, '').replace(/\.[cm]?js$/, '')}.${fn.exportName}`,
    TZ: ':UTC',
    // the SDK's own endpoint variables: where DynamoDB and SQS are, locally
    AWS_ENDPOINT_URL_DYNAMODB: cfg.dynamodbEndpoint,
    ...(process.env.AWS_ENDPOINT_URL_SQS ? { AWS_ENDPOINT_URL_SQS: process.env.AWS_ENDPOINT_URL_SQS } : {}),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    PATH: process.env.PATH ?? '',
  };
}

/** Imports a module with `process.env` set to exactly `env` while its top level runs. */
async function importWithEnvironment(file: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, env);
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } finally {
    for (const k of Object.keys(process.env)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/**
 * Where the bundles run: a copy of each asset outside the repository, next to
 * a node_modules holding `@aws-sdk` alone (what the nodejs24.x runtime
 * provides), so a bundle finds nothing else, as on Lambda: a package it does
 * not carry fails to load here too.
 */
function lambdaTaskRoots(functions: Map<string, AssemblyFunction>): Map<string, AssemblyFunction> {
  const root = mkdtempSync(join(tmpdir(), 'presence-lambda-'));
  mkdirSync(join(root, 'node_modules'));
  symlinkSync(join(REPO_ROOT, 'node_modules', '@aws-sdk'), join(root, 'node_modules', '@aws-sdk'), 'dir');
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  const moved = new Map<string, AssemblyFunction>();
  for (const [id, fn] of functions) {
    const asset = dirname(fn.file);
    const task = join(root, basename(asset));
    if (!existsSync(task)) cpSync(asset, task, { recursive: true });
    moved.set(id, { ...fn, file: join(task, basename(fn.file)) });
  }
  return moved;
}

/** Loads functions by route/worker id from the assembly's bundles (one at a time: each import owns process.env meanwhile). */
export async function assemblyLoader(cfg: AssemblyConfig): Promise<(id: string, entry?: string) => Promise<Handler>> {
  const functions = lambdaTaskRoots(assemblyFunctions(cfg.dir).functions);
  let loading: Promise<unknown> = Promise.resolve();
  return async (id) => {
    const fn = functions.get(id);
    if (!fn) throw new Error(`function ${id} is not in the assembly ${cfg.dir}`);
    // a module's top level runs as the function, with its role (AWS calls at load time are checked too)
    const load = loading.then(() => invocation.run(fn.id, () => importWithEnvironment(fn.file, lambdaEnvironment(fn, cfg))));
    loading = load.catch(() => {});
    const handler = (await load)[fn.exportName];
    if (typeof handler !== 'function') throw new Error(`function ${id}: ${fn.file} exports no ${fn.exportName}`);
    return (event, context) => {
      const deadline = Date.now() + fn.timeoutSeconds * 1000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, fail) => {
        timer = setTimeout(() => fail(new Error(`Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`)), fn.timeoutSeconds * 1000);
      });
      const run = (handler as Handler)(event, {
        ...context,
        functionName: fn.id,
        memoryLimitInMB: String(fn.memoryMb),
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      });
      return Promise.race([run, timeout]).finally(() => clearTimeout(timer));
    };
  };
}
