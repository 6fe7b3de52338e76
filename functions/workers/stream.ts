/**
 * DynamoDB Streams consumer: one record = one change of a user's visible
 * presence (the event source mapping filters out quiet writes). Records of
 * one user are handled in order; failures are reported per record
 * (ReportBatchItemFailures) so one bad record never blocks the shard.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { chunkQueue } from '../commons/chunk-queue.ts';
import { fanOut } from '../commons/fanout.ts';
import { log } from '../commons/log.ts';
import { markPushed, pushedVersion, stateFromItem, userIdOfStateKey } from '../commons/store.ts';

const image = (img: Record<string, unknown> | undefined) => (img ? unmarshall(img as Record<string, AttributeValue>) : undefined);

async function processRecord(record: DynamoDBRecord): Promise<void> {
  const newItem = image(record.dynamodb?.NewImage);
  const oldItem = image(record.dynamodb?.OldImage);
  const userId = userIdOfStateKey(newItem ?? oldItem);
  if (!userId || !newItem) return; // not a user state, or a deletion (TTL): nothing to tell
  const before = stateFromItem(oldItem, userId);
  const after = stateFromItem(newItem, userId);
  if (after.version <= before.version) return; // not a visible change
  // a replayed or late record (retry, bisect, duplicate delivery) must not push again or regress
  if ((await pushedVersion(userId)) >= after.version) return;
  const result = await fanOut(before, after, chunkQueue());
  // recorded only once delivered: a fan-out cut short (error, timeout) is retried in full
  await markPushed(userId, after.version);
  if (result.recipients) log.info('fanout', { userId, version: after.version, ...result });
}

export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  // group by user, keep order within a user, run users concurrently
  const byUser = new Map<string, DynamoDBRecord[]>();
  for (const r of event.Records) {
    const key = JSON.stringify(r.dynamodb?.Keys ?? {});
    const list = byUser.get(key) ?? [];
    list.push(r);
    byUser.set(key, list);
  }
  const failed: string[] = [];
  await Promise.all(
    [...byUser.values()].map(async (records) => {
      for (const r of records) {
        try {
          await processRecord(r);
        } catch (error) {
          log.error('stream record failed', { error, sequenceNumber: r.dynamodb?.SequenceNumber });
          if (r.dynamodb?.SequenceNumber) failed.push(r.dynamodb.SequenceNumber);
          return; // later records of this user wait for the retry, to keep their order
        }
      }
    }),
  );
  return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
};
