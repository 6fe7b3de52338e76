/**
 * The fan-out chunk queue: SQS on AWS (FANOUT_QUEUE_URL), or the in-process
 * queue the local stack registers. Without either, large audiences are
 * delivered inline.
 */
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { config } from './config.ts';
import type { ChunkQueue, FanoutChunk } from './fanout.ts';

const sqs = config.fanoutQueueUrl ? new SQSClient({}) : undefined;

const toSqs: ChunkQueue = async (chunks, delaySeconds) => {
  for (let i = 0; i < chunks.length; i += 10) {
    const batch = chunks.slice(i, i + 10);
    const out = await sqs?.send(
      new SendMessageBatchCommand({
        QueueUrl: config.fanoutQueueUrl,
        Entries: batch.map((c, j) => ({
          Id: String(j),
          MessageBody: JSON.stringify(c),
          ...(delaySeconds ? { DelaySeconds: Math.min(900, delaySeconds) } : {}),
        })),
      }),
    );
    if (out?.Failed?.length) throw new Error(`${out.Failed.length} fan-out chunks could not be queued`);
  }
};

let local: ChunkQueue | undefined;

/** The local stack's in-process queue (the same chunk handler, invoked with SQS-shaped events). */
export function useLocalChunkQueue(queue: ChunkQueue): void {
  local = queue;
}

export function chunkQueue(): ChunkQueue | undefined {
  return sqs ? toSqs : local;
}

export type { FanoutChunk };
