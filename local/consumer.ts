/**
 * The stream consumer side of the local stack, run on its own worker thread
 * (on AWS the StreamFanout and FanoutChunk functions are separate processes
 * too, so they never compete with the API's handlers for one event loop):
 * the stream poller feeding the StreamFanout handler, and the in-process
 * chunk queue feeding the FanoutChunk handler. It talks to the main thread
 * (`ConsumerThread` in consumer-thread.ts) over the worker's message port.
 * The CloudWatch metrics its functions write to this thread's stdout (EMF)
 * are counted here and handed over with the DynamoDB counts (local/metrics.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { workers } from '../lib/routes.ts';
import { STREAM_PARALLELIZATION, STREAM_RETRY_ATTEMPTS, streamFilterPatterns } from '../lib/tables.ts';
import { assemblyLoader } from './assembly.ts';
import { CHUNK_QUEUE, type ConsumerConfig, type ConsumerReply, type ConsumerRequest, type QueuedChunk } from './consumer-thread.ts';
import { lambdaContext, loadHandler } from './gateway.ts';
import { CheckLog, enforceIam } from './iam.ts';
import { concurrentInvocations, instrument, invocation } from './metrics.ts';
import { LocalSqs } from './sqs.ts';
import { StreamPoller } from './stream-poller.ts';

if (!parentPort) throw new Error('local/consumer.ts runs on a worker thread (see ConsumerThread)');
const port = parentPort;
const config = workerData as ConsumerConfig;
const log = (line: string) => port.postMessage({ log: line } satisfies ConsumerReply);
// before any handler module loads (the environment came from the main thread)
await concurrentInvocations();

const client = new DynamoDBClient({ endpoint: config.endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
// IAM as on AWS: the handlers' calls with their own roles, the stream reads with StreamFanout's (the event source mapping uses it)
const iamChecks = new CheckLog();
if (config.iam) enforceIam({ ...config.iam, functionOf: () => invocation.getStore(), onCheck: iamChecks.record });
// the fan-out chunk queue: SQS on AWS, here a local SQS endpoint the handlers' own SQS client sends to
const chunkWork = new Set<Promise<unknown>>();
const sqs = new LocalSqs((m) => enqueue({ id: m.id, body: m.body, visibleAt: m.visibleAt }));
await sqs.start();
process.env.AWS_ENDPOINT_URL_SQS = sqs.url;
process.env.FANOUT_QUEUE_URL = sqs.queueUrl(CHUNK_QUEUE);
const load = config.assembly ? await assemblyLoader(config.assembly) : (_id: string, entry: string) => loadHandler(entry);
// the handlers' own DynamoDB client, as loaded on this thread (bundles bring their own: not counted)
const metrics = instrument((await import('../functions/commons/clients.ts')).dynamodb);
const chunkHandler = await load(workers.fanoutChunk.id, workers.fanoutChunk.entry);

/**
 * Like an SQS message, a queued chunk outlives this thread: the main thread
 * keeps it until it is delivered (or dead-lettered) and hands what is left to
 * the thread that replaces this one.
 */
function enqueue(message: QueuedChunk): void {
  port.postMessage({ chunkQueued: message } satisfies ConsumerReply);
  const record = { messageId: message.id, body: message.body, eventSource: 'aws:sqs' };
  const run = async () => {
    // SQS DelaySeconds: the message becomes visible later; queuing it returns at once
    const wait = message.visibleAt - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    for (let attempt = 1; attempt <= 3; attempt++) {
      const res = await metrics.invoke(workers.fanoutChunk.id, () => chunkHandler({ Records: [record] }, lambdaContext(workers.fanoutChunk.id)));
      if (!res?.batchItemFailures?.length) return;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
    log(`[fanout] chunk ${record.messageId} dropped after 3 attempts (dead-letter queue)`);
  };
  const p = run()
    .catch((err) => log(`[fanout] ${(err as Error).stack}`))
    .finally(() => port.postMessage({ chunkDone: message.id } satisfies ConsumerReply));
  chunkWork.add(p);
  void p.finally(() => chunkWork.delete(p));
}
// what the thread this one replaces had queued and not delivered
for (const message of config.chunks ?? []) enqueue(message);

const streamHandler = await load(workers.stream.id, workers.stream.entry);
const poller = new StreamPoller({
  client,
  endpoint: config.endpoint,
  tableName: config.tableName,
  handler: (event) => metrics.invoke(workers.stream.id, () => streamHandler(event, lambdaContext(workers.stream.id))),
  filterPatterns: streamFilterPatterns,
  parallelization: STREAM_PARALLELIZATION,
  maxRetries: STREAM_RETRY_ATTEMPTS,
  intervalMs: config.intervalMs,
  asFunction: (read) => invocation.run(workers.stream.id, read),
  // the main thread keeps the checkpoint (and persists it with the data): it outlives this thread
  onCheckpoint: (checkpoint) => port.postMessage({ checkpoint } satisfies ConsumerReply),
  onLog: (l) => log(`[stream] ${l}`),
});

async function answer(req: ConsumerRequest): Promise<unknown> {
  switch (req.op) {
    case 'metrics':
      return metrics.snapshot();
    case 'resetMetrics':
      return metrics.reset();
    case 'recentBatches':
      return poller.recentBatches;
    case 'iamChecks':
      return iamChecks.list();
    case 'stop':
      await poller.stop();
      await Promise.allSettled([...chunkWork]);
      await sqs.stop();
      client.destroy();
      return undefined;
  }
}

port.on('message', (req: ConsumerRequest) => {
  answer(req).then(
    (result) => port.postMessage({ id: req.id, result } satisfies ConsumerReply),
    (err: Error) => port.postMessage({ id: req.id, error: err.stack ?? String(err) } satisfies ConsumerReply),
  );
});

await poller.start(config.checkpoint ?? 'TRIM_HORIZON');
port.postMessage({ ready: true } satisfies ConsumerReply);
