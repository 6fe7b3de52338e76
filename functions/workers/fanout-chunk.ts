/**
 * Delivers fan-out chunks (one SQS message = one chunk of ≤ FANOUT_CHUNK_SIZE
 * recipients of one change). Each chunk succeeds or fails on its own
 * (partial batch response); a chunk delivered twice only repeats pushes that
 * clients ignore by version.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { chunkQueue } from '../commons/chunk-queue.ts';
import { deliverChunk, type FanoutChunk } from '../commons/fanout.ts';
import { log } from '../commons/log.ts';

export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const failures: { itemIdentifier: string }[] = [];
  await Promise.all(
    event.Records.map(async (record) => {
      try {
        const chunk = JSON.parse(record.body) as FanoutChunk;
        const result = await deliverChunk(chunk, chunkQueue());
        log.info('fanout chunk', { userId: chunk.after.userId, version: chunk.after.version, ...result });
      } catch (error) {
        log.error('fanout chunk failed', { error, messageId: record.messageId });
        failures.push({ itemIdentifier: record.messageId });
      }
    }),
  );
  return { batchItemFailures: failures };
};
