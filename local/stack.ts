/**
 * The whole system on one machine: DynamoDB Local, the tables of the stack,
 * the local API Gateway (HTTP + WebSocket + @connections), the stream
 * consumer fed by a poller and the sweeper on a timer, all running the
 * handler modules that are deployed to Lambda.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { METRICS_NAMESPACE } from '../functions/commons/metric-names.ts';
import { signUserToken } from '../functions/core/jwt.ts';
import { type Facade, facades, type HeartbeatMode, workers } from '../lib/routes.ts';
import { tables } from '../lib/tables.ts';
import { type AssemblyConfig, assemblyLoader } from './assembly.ts';
import { CHUNK_QUEUE, type ConsumerConfig, ConsumerThread, STREAM_CHECKPOINT_FILE } from './consumer-thread.ts';
import { bindHost, DynamoDbLocal, urlHost } from './dynamodb.ts';
import { LocalGateway, lambdaContext, loadHandler } from './gateway.ts';
import { type Checked, CheckLog, enforceIam, type LocalNames, withPlaceholders } from './iam.ts';
import { concurrentInvocations, emptyMetrics, instrument, invocation, LOCAL_SERVICE_NAME, type LocalMetricsSnapshot, mergeMetrics } from './metrics.ts';
import { ensureTable } from './tables.ts';
import { assemblyTemplate, type CfnTemplate, facadesOf, heartbeatModeOf, synthesizedTemplate } from './template.ts';
import { LocalWebPage } from './web.ts';

export const DEV_JWT_SECRET = 'local-dev-secret';
/** the WebSocket API id of the local gateway (in its events and in `@connections` ARNs) */
export const LOCAL_API_ID = 'local';

/**
 * Writes the SDK calls this stack checked against IAM to PRESENCE_IAM_USAGE_DIR
 * (the test run collects them to tell which grants the suite used).
 */
async function writeIamUsage(checks: Checked[], names: LocalNames | undefined): Promise<void> {
  const dir = process.env.PRESENCE_IAM_USAGE_DIR;
  if (!dir || !names || checks.length === 0) return;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${process.pid}-${randomUUID()}.json`), JSON.stringify(checks.map((c) => withPlaceholders(c, names))));
}

export interface LocalStackOptions {
  httpPort?: number;
  wsPort?: number;
  dynamodbPort?: number;
  /** use an already running DynamoDB (tests share one); otherwise DynamoDB Local is started */
  dynamodbEndpoint?: string;
  /** persistent data directory; undefined = in memory */
  dataDir?: string;
  presenceTimeoutSeconds?: number;
  sweepIntervalSeconds?: number;
  jwtSecret?: string;
  /** table name prefix (tests isolate themselves with it) */
  tablePrefix?: string;
  /**
   * how often the stream is polled (default 100 ms; Lambda's event source mapping "polls shards in your
   * DynamoDB stream for records at a base rate of 4 times per second",
   * https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html#dynamodb-polling-and-batching: 250 ms
   * was tried on 2026-12-03 and failed the notify budgets, README performance)
   */
  streamPollMs?: number;
  idleTimeoutSeconds?: number;
  maxConnectionSeconds?: number;
  /**
   * whether the live page may get tokens by user id (POST /__local/token); default: only when the
   * stack runs with the documented dev secret, never with a secret of your own
   */
  pageTokens?: boolean;
  /**
   * IAM enforced from the synthesized template (default: on; off with
   * `npm start -- --no-iam` or PRESENCE_LOCAL_IAM=off): every AWS SDK call a
   * function makes is checked against its role's policies
   */
  iam?: boolean;
  /** the template whose policies are enforced (default: the stack as `npm run synth` makes it) */
  template?: CfnTemplate;
  /**
   * run every function from the bundle this CDK assembly (`npm run synth`: cdk.out) holds for it, with
   * the template's environment, handler, memory and timeout (local/assembly.ts); default: the sources
   */
  fromAssembly?: string;
  /**
   * how WebSocket heartbeats keep devices live (lib/routes.ts HeartbeatMode; default
   * `lambda`; `npm start -- --heartbeat gateway`); from an assembly, what its template says
   */
  heartbeat?: HeartbeatMode;
  /**
   * the compatibility facades served (lib/routes.ts parseCompat; default every facade;
   * `npm start -- --compat <names|none>`, PRESENCE_COMPAT); from an assembly, the ones its template has
   */
  compat?: readonly Facade[];
  /**
   * the generic facade's everyone-broadcast cap (GENERIC_BROADCAST_MAX; default 0, off;
   * `npm start -- --generic-broadcast <cap>`, PRESENCE_GENERIC_BROADCAST); from an assembly, its template's
   */
  genericBroadcast?: number;
  onLog?: (line: string) => void;
}

export interface LocalMetrics {
  snapshot(): Promise<LocalMetricsSnapshot>;
  reset(): Promise<void>;
  /** runs one handler invocation of the main thread attributed to `fn` */
  invoke<T>(fn: string, run: () => Promise<T>): Promise<T>;
}

export interface LocalStack {
  httpUrl: string;
  wsUrl: string;
  dynamodbEndpoint: string;
  tableNames: Record<string, string>;
  dynamodb: DynamoDbLocal | undefined;
  gateway: LocalGateway;
  /** the compatibility facades the HTTP API serves */
  compat: readonly Facade[];
  /** the stream consumer's thread (its poller's recent batches; crash() for tests) */
  consumer: ConsumerThread;
  /** DynamoDB requests and capacity units per function, and the functions' CloudWatch metrics (EMF), on every thread (local instrumentation) */
  metrics: LocalMetrics;
  /** runs one sweep now (what the timer does) */
  sweepNow(): Promise<unknown>;
  /** the SDK calls checked against the functions' IAM policies so far, on every thread (none when IAM is off) */
  iamChecks(): Promise<Checked[]>;
  stop(): Promise<void>;
}

/**
 * Sets the environment the handlers read at module scope. Must run before the
 * first handler module is imported (the gateway imports them on start).
 */
function configureEnvironment(
  opts: Required<Pick<LocalStackOptions, 'httpPort' | 'wsPort'>> & LocalStackOptions,
  endpoint: string,
  names: Record<string, string>,
) {
  const env = process.env;
  env.AWS_REGION ??= 'local';
  env.AWS_ACCESS_KEY_ID ??= 'local';
  env.AWS_SECRET_ACCESS_KEY ??= 'local';
  // the SDK's standard per-service endpoint variable: the handlers' code knows nothing of DynamoDB Local
  env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
  // the @connections API of the local gateway, where it listens (PRESENCE_LOCAL_HOST, loopback by default)
  env.WS_CALLBACK_URL = `http://${urlHost(bindHost())}:${opts.wsPort}`;
  env.PRESENCE_JWT_SECRET = opts.jwtSecret ?? env.PRESENCE_JWT_SECRET ?? DEV_JWT_SECRET;
  env.PRESENCE_TIMEOUT_SECONDS = String(opts.presenceTimeoutSeconds ?? env.PRESENCE_TIMEOUT_SECONDS ?? 120);
  env.SWEEP_INTERVAL_SECONDS = String(opts.sweepIntervalSeconds ?? env.SWEEP_INTERVAL_SECONDS ?? 15);
  env.HEARTBEAT_MODE = opts.heartbeat ?? 'lambda';
  env.GENERIC_BROADCAST_MAX = String(opts.genericBroadcast ?? 0);
  for (const t of tables) env[t.envVar] = names[t.id];
  // Powertools (functions/commons/logger.ts, metrics.ts, tracing.ts) as the stack configures it, except:
  // `service` names the local stack, and no tracing (no X-Ray daemon: the traced workers load no X-Ray SDK)
  env.POWERTOOLS_SERVICE_NAME = LOCAL_SERVICE_NAME;
  env.POWERTOOLS_METRICS_NAMESPACE = METRICS_NAMESPACE;
  env.POWERTOOLS_TRACE_ENABLED = 'false';
  // what Lambda's runtime sets, and Powertools reads to report a cold start (ColdStart, cold_start)
  env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const opts = { httpPort: 3000, wsPort: 3001, dynamodbPort: 8000, ...options };
  opts.heartbeat ??= options.fromAssembly ? heartbeatModeOf(assemblyTemplate(options.fromAssembly)) : 'lambda';
  if (options.fromAssembly) {
    const built = facadesOf(assemblyTemplate(options.fromAssembly));
    const missing = (opts.compat ?? built).filter((f) => !built.includes(f));
    if (missing.length > 0)
      throw new Error(`the assembly in ${options.fromAssembly} has no ${missing.map((f) => f.name).join(', ')} facade: synthesize it with that -c compat`);
    opts.compat ??= built;
  }
  opts.compat ??= facades;
  const log = opts.onLog ?? (() => {});
  let dynamodb: DynamoDbLocal | undefined;
  let endpoint = opts.dynamodbEndpoint;
  if (!endpoint) {
    dynamodb = new DynamoDbLocal({ port: opts.dynamodbPort, dataDir: opts.dataDir, onLog: (l) => log(`[dynamodb] ${l}`) });
    await dynamodb.start();
    endpoint = dynamodb.endpoint;
  }
  const tableNames: Record<string, string> = {};
  for (const t of tables) tableNames[t.id] = `${opts.tablePrefix ?? ''}${t.id}`;
  configureEnvironment(opts, endpoint, tableNames);
  await concurrentInvocations();

  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  for (const t of tables) await ensureTable(client, t, tableNames[t.id] as string);

  // IAM as AWS enforces it, from the synthesized template (this thread; the consumer thread does the same)
  const iamChecks = new CheckLog();
  let iam: ConsumerConfig['iam'];
  let stopIam = () => {};
  if (opts.iam ?? process.env.PRESENCE_LOCAL_IAM !== 'off') {
    const presence = await client.send(new DescribeTableCommand({ TableName: tableNames.Presence }));
    const names: LocalNames = {
      tables: {
        Presence: { name: tableNames.Presence as string, streamArn: presence.Table?.LatestStreamArn },
        Graph: { name: tableNames.Graph as string },
      },
      apiId: LOCAL_API_ID,
      chunkQueue: CHUNK_QUEUE,
    };
    iam = {
      template:
        opts.template ?? (opts.fromAssembly ? assemblyTemplate(opts.fromAssembly) : synthesizedTemplate(opts.heartbeat, opts.compat, opts.genericBroadcast)),
      names,
    };
    stopIam = enforceIam({ ...iam, functionOf: () => invocation.getStore(), onCheck: iamChecks.record });
  }

  // the functions: from the sources, or from the bundles of a CDK assembly
  const assembly: AssemblyConfig | undefined = opts.fromAssembly
    ? {
        dir: resolve(opts.fromAssembly),
        tables: { Presence: tableNames.Presence as string, Graph: tableNames.Graph as string },
        wsCallbackUrl: process.env.WS_CALLBACK_URL as string,
        dynamodbEndpoint: endpoint,
        jwtSecret: process.env.PRESENCE_JWT_SECRET as string,
      }
    : undefined;
  const loadFunction = assembly ? await assemblyLoader(assembly) : (_id: string, entry: string) => loadHandler(entry);

  // imported only now: config reads the environment set above (the gateway's JWT authorizer, as API Gateway's)
  const { verifyToken } = await import('../functions/commons/auth.ts');
  const local = instrument((await import('../functions/commons/clients.ts')).dynamodb);
  let consumer: ConsumerThread | undefined;
  const metrics: LocalMetrics = {
    invoke: local.invoke,
    // while a crashed consumer thread restarts, its counters are gone with it: the main thread's still count
    snapshot: async () => mergeMetrics(local.snapshot(), (await consumer?.metrics().catch(emptyMetrics)) ?? emptyMetrics()),
    async reset() {
      local.reset();
      await consumer?.resetMetrics().catch(() => {});
    },
  };
  const gateway = new LocalGateway({
    httpPort: opts.httpPort,
    wsPort: opts.wsPort,
    verifyToken,
    metrics,
    page: new LocalWebPage({
      wsPort: opts.wsPort,
      issueToken:
        (opts.pageTokens ?? process.env.PRESENCE_JWT_SECRET === DEV_JWT_SECRET)
          ? (sub) => signUserToken(sub, process.env.PRESENCE_JWT_SECRET as string, { ttlSeconds: 86_400 })
          : undefined,
    }),
    loadFunction,
    idleTimeoutSeconds: opts.idleTimeoutSeconds,
    maxConnectionSeconds: opts.maxConnectionSeconds,
    heartbeat: opts.heartbeat,
    facades: opts.compat,
    onLog: (l) => log(`[gateway] ${l}`),
  });
  await gateway.start();

  // the stream consumer (StreamFanout + FanoutChunk) on its own thread, as on AWS it is its own function
  // its stream checkpoint is kept with the data (in memory: only for the life of this process)
  const checkpointFile = opts.dataDir ? join(resolve(opts.dataDir), STREAM_CHECKPOINT_FILE) : undefined;
  const thread = await ConsumerThread.start(
    { endpoint, tableName: tableNames.Presence as string, intervalMs: opts.streamPollMs ?? 100, checkpointFile, iam, assembly },
    log,
  );
  /** the SDK calls both threads checked against IAM (the consumer's are lost with it while it restarts) */
  const iamChecksOfAllThreads = async () => [...iamChecks.list(), ...(await thread.iamChecks().catch(() => []))];
  consumer = thread;

  const sweeper = await loadFunction(workers.sweeper.id, workers.sweeper.entry);
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweepNow = () => {
    sweeping = sweeping
      .then(() => metrics.invoke(workers.sweeper.id, () => sweeper({}, lambdaContext(workers.sweeper.id))))
      .catch((err) => log(`[sweeper] ${(err as Error).stack}`));
    return sweeping;
  };
  const sweepMs = Number(process.env.SWEEP_INTERVAL_SECONDS) * 1000;
  const timer = setInterval(() => void sweepNow(), sweepMs);

  let stopped: Promise<void> | undefined;
  return {
    httpUrl: gateway.httpUrl,
    wsUrl: gateway.wsUrl,
    dynamodbEndpoint: endpoint,
    tableNames,
    dynamodb,
    gateway,
    compat: opts.compat,
    consumer: thread,
    metrics,
    sweepNow,
    iamChecks: iamChecksOfAllThreads,
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        await gateway.stop();
        await sweeping;
        await writeIamUsage(await iamChecksOfAllThreads(), iam?.names);
        await thread.stop();
        stopIam();
        delete process.env.AWS_LAMBDA_MAX_CONCURRENCY;
        client.destroy();
        await dynamodb?.stop();
      })();
      return stopped;
    },
  };
}
