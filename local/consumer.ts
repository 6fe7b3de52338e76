/**
 * The stream consumer side of the local stack, run on its own worker thread
 * (on AWS the StreamFanout and FanoutChunk functions are separate processes
 * too, so they never compete with the API's handlers for one event loop):
 * the stream poller feeding the StreamFanout handler, and the in-process
 * chunk queue feeding the FanoutChunk handler. It talks to the main thread
 * (`ConsumerThread` in consumer-thread.ts) over the worker's message port.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { workers } from '../lib/routes.ts';
import { STREAM_PARALLELIZATION, STREAM_RETRY_ATTEMPTS, streamFilterPatterns } from '../lib/tables.ts';
import type { ConsumerConfig, ConsumerReply, ConsumerRequest } from './consumer-thread.ts';
import { loadHandler } from './gateway.ts';
import { instrument } from './metrics.ts';
import { StreamPoller } from './stream-poller.ts';

const port = parentPort;
if (!port) throw new Error('local/consumer.ts runs on a worker thread (see ConsumerThread)');
const config = workerData as ConsumerConfig;
const log = (line: string) => port.postMessage({ log: line } satisfies ConsumerReply);

const client = new DynamoDBClient({ endpoint: config.endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
// the handlers' own DynamoDB client, as loaded on this thread
const metrics = instrument((await import('../functions/commons/clients.ts')).dynamodb);

// the fan-out chunk queue: SQS on AWS, here an in-process queue feeding the same chunk handler
const chunkHandler = await loadHandler(workers.fanoutChunk.entry);
const { useLocalChunkQueue } = await import('../functions/commons/chunk-queue.ts');
const chunkWork = new Set<Promise<unknown>>();
let chunkSeq = 0;
useLocalChunkQueue(async (chunks, delaySeconds = 0) => {
  for (const chunk of chunks) {
    const record = { messageId: `local-${++chunkSeq}`, body: JSON.stringify(chunk), eventSource: 'aws:sqs' };
    const run = async () => {
      // SQS DelaySeconds: the message becomes visible later; queuing it returns at once
      if (delaySeconds > 0) await new Promise((r) => setTimeout(r, delaySeconds * 1000));
      for (let attempt = 1; attempt <= 3; attempt++) {
        const res = await metrics.invoke(workers.fanoutChunk.id, () => chunkHandler({ Records: [record] }, {}));
        if (!res?.batchItemFailures?.length) return;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
      log(`[fanout] chunk ${record.messageId} dropped after 3 attempts (dead-letter queue)`);
    };
    const p = run().catch((err) => log(`[fanout] ${(err as Error).stack}`));
    chunkWork.add(p);
    void p.finally(() => chunkWork.delete(p));
  }
});

const streamHandler = await loadHandler(workers.stream.entry);
const poller = new StreamPoller({
  client,
  endpoint: config.endpoint,
  tableName: config.tableName,
  handler: (event) => metrics.invoke(workers.stream.id, () => streamHandler(event, {})),
  filterPatterns: streamFilterPatterns,
  parallelization: STREAM_PARALLELIZATION,
  maxRetries: STREAM_RETRY_ATTEMPTS,
  intervalMs: config.intervalMs,
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
    case 'stop':
      await poller.stop();
      await Promise.allSettled([...chunkWork]);
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
