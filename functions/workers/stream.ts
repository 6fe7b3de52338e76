/**
 * DynamoDB Streams consumer: one record = one change of a user's visible
 * presence (the event source mapping filters out quiet writes). The records
 * of one user in a batch are coalesced into ONE fan-out of the newest state
 * (from the state before the first of them): recipients get the newest
 * presence once, versions only grow, and a burst of changes costs one
 * fan-out. Users are handled concurrently; failures are reported per user
 * (ReportBatchItemFailures, from the user's first record) so one bad user
 * never blocks the others and a user's changes are retried in order.
 * Fixed cost of a fan-out: the watchers Query, the Query of the user's
 * friends and groups that also reads the last version pushed (replays are
 * recognised there), and the UpdateItem recording the version once delivered.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { chunkQueue } from '../commons/chunk-queue.ts';
import { fanOut } from '../commons/fanout.ts';
import { log } from '../commons/log.ts';
import { markPushed, stateFromItem, userIdOfStateKey } from '../commons/store.ts';

const image = (img: Record<string, unknown> | undefined) => (img ? unmarshall(img as Record<string, AttributeValue>) : undefined);

/** Fans out the records of one user (in stream order) as one change: first old image → last new image. */
async function processUser(records: DynamoDBRecord[]): Promise<void> {
  const changes = records
    .map((r) => ({ oldItem: image(r.dynamodb?.OldImage), newItem: image(r.dynamodb?.NewImage) }))
    // deletions (TTL) tell nobody anything
    .filter((c): c is { oldItem: Record<string, unknown> | undefined; newItem: Record<string, unknown> } => c.newItem !== undefined);
  const first = changes[0];
  const last = changes[changes.length - 1];
  const userId = userIdOfStateKey(last?.newItem);
  if (!first || !last || !userId) return; // not a user state
  const before = stateFromItem(first.oldItem, userId);
  const after = stateFromItem(last.newItem, userId);
  if (after.version <= before.version) return; // not a visible change
  // friendships changed by these writes: changed an odd number of times = changed
  const toggles = new Map<string, number>();
  for (const c of changes) for (const u of (c.newItem.rc as string[] | undefined) ?? []) toggles.set(u, (toggles.get(u) ?? 0) + 1);
  const relationChanged = [...toggles].filter(([, n]) => n % 2 === 1).map(([u]) => u);
  // writes that only record friendship changes (`rc`) change nothing for anyone else
  const onlyRelations = changes.every((c) => Array.isArray(c.newItem.rc));
  const result = await fanOut(before, after, chunkQueue(), Date.now(), relationChanged, onlyRelations);
  // a replayed or late record (retry, bisect, duplicate delivery): already pushed, nothing pushed again or regressed
  if (!result) return;
  // recorded only once delivered: a fan-out cut short (error, timeout) is retried in full
  await markPushed(userId, after.version);
  if (result.recipients) log.info('fanout', { userId, version: after.version, coalesced: changes.length, ...result });
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
      try {
        await processUser(records);
      } catch (error) {
        const sequenceNumber = records[0]?.dynamodb?.SequenceNumber;
        log.error('stream record failed', { error, sequenceNumber, records: records.length });
        // retried from the user's first record: its later ones wait, to keep their order
        if (sequenceNumber) failed.push(sequenceNumber);
      }
    }),
  );
  return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
};
