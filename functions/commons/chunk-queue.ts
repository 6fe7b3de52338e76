/**
 * The fan-out chunk queue: SQS (FANOUT_QUEUE_URL; locally the local stack's
 * SQS endpoint, local/sqs.ts). Without it, large audiences are delivered
 * inline.
 */
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { config } from './config.ts';
import type { ChunkQueue, FanoutChunk } from './fanout.ts';
import { lean } from './sdk.ts';

/** the queue's client (undefined without FANOUT_QUEUE_URL) */
export const sqs = config.fanoutQueueUrl ? lean(new SQSClient({ cacheMiddleware: true })) : undefined;

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

export function chunkQueue(): ChunkQueue | undefined {
  return sqs ? toSqs : undefined;
}

export type { FanoutChunk };
