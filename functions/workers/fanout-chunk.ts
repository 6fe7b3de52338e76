/**
 * Delivers fan-out chunks (one SQS message = one chunk of ≤ FANOUT_CHUNK_SIZE
 * recipients of one change). Each chunk succeeds or fails on its own
 * (partial batch response); a chunk delivered twice only repeats pushes that
 * clients ignore by version.
 *
 * Not Powertools' batch utility: for a standard queue its BatchProcessor
 * does what these lines do (records in parallel, failures by messageId),
 * and we would still catch each failure to log it; it would add a package
 * for no further guarantee (docs/observability.md). Each chunk's lines carry
 * its messageId, userId and version (withLogKeys: chunks run concurrently).
 * Traced with `-c tracing=on` (functions/commons/traced.ts).
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { chunkQueue, sqs } from '../commons/chunk-queue.ts';
import { dynamodb, management } from '../commons/clients.ts';
import { deliverChunk, type FanoutChunk } from '../commons/fanout.ts';
import { lambdaHandler } from '../commons/lambda.ts';
import { logger, withLogKeys } from '../commons/logger.ts';
import { tracingFor } from '../commons/traced.ts';

// X-Ray where the stack turns it on (-c tracing=on); off, the X-Ray SDK is not even in the bundle (functions/commons/traced.ts)
const tracing = await tracingFor(dynamodb, management, sqs);

export const handler = lambdaHandler(
  async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const failures: { itemIdentifier: string }[] = [];
    await Promise.all(
      event.Records.map((record) =>
        withLogKeys({ messageId: record.messageId }, async () => {
          try {
            const chunk = JSON.parse(record.body) as FanoutChunk;
            await withLogKeys({ userId: chunk.after.userId, version: chunk.after.version, attempt: chunk.attempt ?? 1 }, async () => {
              const result = await deliverChunk(chunk, chunkQueue());
              logger.info('fanout chunk', { ...result });
            });
          } catch (error) {
            logger.error('fanout chunk failed', { error });
            failures.push({ itemIdentifier: record.messageId });
          }
        }),
      ),
    );
    return { batchItemFailures: failures };
  },
  { tracing },
);
