/**
 * `npm start`: the whole presence system on this machine.
 *   npm start                 data kept in ${PRESENCE_DATA_DIR:-.presence-local}
 *   npm start -- --in-memory  nothing kept
 *   npm start -- --no-iam     do not check the functions' AWS calls against their IAM policies
 *   npm start -- --from-assembly [dir]   run the functions from the bundles `npm run synth` wrote to dir (cdk.out)
 *   npm start -- --heartbeat gateway     heartbeats answered by a MOCK integration, liveness from GetConnection
 *                                        (as `npm run deploy -- -c heartbeat=gateway`; PRESENCE_HEARTBEAT=gateway)
 *   npm start -- --compat generic|none   the compatibility facades served (docs/compat.md; default all of them;
 *                                        as `npm run deploy -- -c compat=...`; PRESENCE_COMPAT=...)
 *   npm start -- --generic-broadcast <cap>   the generic facade's everyone-broadcast, for at most <cap> connections
 *                                        (as `-c genericBroadcast=<cap>`; PRESENCE_GENERIC_BROADCAST; default 0: off)
 * Honours PORT, WS_PORT, DYNAMODB_PORT, PRESENCE_TIMEOUT_SECONDS,
 * SWEEP_INTERVAL_SECONDS, PRESENCE_JWT_SECRET, and PRESENCE_LOCAL_HOST: every
 * server listens on 127.0.0.1 only unless it says otherwise (0.0.0.0: every
 * interface).
 */

import { compatSetting, HEARTBEAT_MODES, type HeartbeatMode, parseCompat } from '../lib/routes.ts';
import { assertValidatorsFresh } from '../lib/validators.ts';
import { newerThanAssembly } from '../local/assembly.ts';
import { bindHost } from '../local/dynamodb.ts';
import { startLocalStack } from '../local/stack.ts';

const args = process.argv.slice(2);
const inMemory = args.includes('--in-memory');
const iam = !args.includes('--no-iam') && process.env.PRESENCE_LOCAL_IAM !== 'off';
const assemblyAt = args.indexOf('--from-assembly');
const fromAssembly = assemblyAt < 0 ? undefined : args[assemblyAt + 1] && !args[assemblyAt + 1]?.startsWith('--') ? args[assemblyAt + 1] : 'cdk.out';
const heartbeatAt = args.indexOf('--heartbeat');
const heartbeatArg = heartbeatAt < 0 ? process.env.PRESENCE_HEARTBEAT || undefined : args[heartbeatAt + 1];
if (heartbeatArg !== undefined && !HEARTBEAT_MODES.includes(heartbeatArg as HeartbeatMode))
  throw new Error(`--heartbeat ${heartbeatArg}: expected ${HEARTBEAT_MODES.join(' or ')}`);
const heartbeat = heartbeatArg as HeartbeatMode | undefined;
const compatAt = args.indexOf('--compat');
const compatArg = compatAt < 0 ? process.env.PRESENCE_COMPAT || undefined : args[compatAt + 1];
// from an assembly, the facades are the ones its template deploys
const compat = compatArg === undefined ? undefined : parseCompat(compatArg);
const broadcastAt = args.indexOf('--generic-broadcast');
const broadcastArg = broadcastAt < 0 ? process.env.PRESENCE_GENERIC_BROADCAST || undefined : args[broadcastAt + 1];
const genericBroadcast = broadcastArg === undefined ? undefined : Number(broadcastArg);
if (genericBroadcast !== undefined && !(Number.isInteger(genericBroadcast) && genericBroadcast >= 0))
  throw new Error(`--generic-broadcast ${broadcastArg}: expected a number of connections (0: off)`);
const verbose = args.includes('--verbose') || process.env.LOG_LEVEL === 'debug';
const env = process.env;
const port = (name: string, fallback: number) => {
  const n = Number(env[name] ?? fallback);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new Error(`${name} must be a TCP port`);
  return n;
};
env.LOG_LEVEL ??= 'warn';
// Node 20 is fine for the local stack; Lambda runs nodejs24.x
env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// the handlers validate with the generated validators: refuse to serve stale ones (npm run build:validators)
if (!fromAssembly) assertValidatorsFresh();
const stale = fromAssembly ? newerThanAssembly(fromAssembly) : undefined;
if (stale) console.warn(`WARNING: ${stale} is newer than the assembly in ${fromAssembly}: run \`npm run synth\` to run what you changed`);
const stack = await startLocalStack({
  httpPort: port('PORT', 3000),
  wsPort: port('WS_PORT', 3001),
  dynamodbPort: port('DYNAMODB_PORT', 8000),
  dataDir: inMemory ? undefined : (env.PRESENCE_DATA_DIR ?? '.presence-local'),
  iam,
  fromAssembly,
  heartbeat,
  compat,
  genericBroadcast,
  onLog: (line) => {
    if (verbose || /error|threw|failed|dropped|exited/i.test(line)) console.error(line);
  },
});

console.log(`presence local stack ready
  live page      ${stack.httpUrl}/
  HTTP API       ${stack.httpUrl}
  WebSocket API  ${stack.wsUrl}
  DynamoDB Local ${stack.dynamodbEndpoint}${inMemory ? ' (in memory)' : ` (data in ${env.PRESENCE_DATA_DIR ?? '.presence-local'})`}
  timeout ${env.PRESENCE_TIMEOUT_SECONDS}s, sweep every ${env.SWEEP_INTERVAL_SECONDS}s, heartbeats ${env.HEARTBEAT_MODE === 'gateway' ? 'answered by the gateway (MOCK; liveness from GetConnection)' : 'through a Lambda (one write)'}
  compat facades ${stack.compat.length ? stack.compat.map((f) => `${f.name} (${f.routes.length} routes)`).join(', ') : 'none'} (docs/compat.md; --compat ${compatSetting(stack.compat)})
  functions      ${fromAssembly ? `from the bundles of the CDK assembly in ${fromAssembly}` : 'from the sources (functions/)'}
  IAM            ${iam ? "each function's AWS calls checked against its policies in the synthesized template (--no-iam: off)" : 'not checked (--no-iam)'}
  token:  npm run token -- <userId> [--scope "presence:sys"]
Ctrl-C to stop.`);
const host = bindHost();
if (!/^(127\.|::1$|localhost$)/.test(host))
  console.warn(`WARNING: PRESENCE_LOCAL_HOST=${host}: the stack and DynamoDB Local listen beyond this machine; anyone who can reach ${host} can use them`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping…`);
  const force = setTimeout(() => process.exit(1), 10_000);
  await stack.stop();
  clearTimeout(force);
  console.log('stopped');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
