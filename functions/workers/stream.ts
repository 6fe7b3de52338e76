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
 *
 * Not Powertools' batch utility: its processors hand each record to the
 * handler on its own (in parallel, or all records one after another), so
 * they can neither coalesce a user's records into one fan-out nor run users
 * concurrently while keeping each user's records in order; this grouping is
 * the part the utility would leave to us anyway (docs/observability.md).
 *
 * Each user's lines carry its userId and first sequence number (withLogKeys:
 * users run concurrently in one invocation). Metrics: RecordsSkipped
 * (replayed, late or not a visible change), and what fanOut emits.
 * Traced with `-c tracing=on` (functions/commons/traced.ts).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { chunkQueue, sqs } from '../commons/chunk-queue.ts';
import { dynamodb, management } from '../commons/clients.ts';
import { fanOut } from '../commons/fanout.ts';
import { lambdaHandler } from '../commons/lambda.ts';
import { logger, withLogKeys } from '../commons/logger.ts';
import { count, MetricName } from '../commons/metrics.ts';
import { markPushed, stateFromItem, userIdOfStateKey } from '../commons/store.ts';
import { tracingFor } from '../commons/traced.ts';

// X-Ray where the stack turns it on (-c tracing=on); off, the X-Ray SDK is not even in the bundle (functions/commons/traced.ts)
const tracing = await tracingFor(dynamodb, management, sqs);

const image = (img: Record<string, unknown> | undefined) => (img ? unmarshall(img as Record<string, AttributeValue>) : undefined);

/** Fans out the records of one user (in stream order) as one change: first old image → last new image. */
async function processUser(records: DynamoDBRecord[]): Promise<void> {
  const changes = records
    .map((r) => ({ oldItem: image(r.dynamodb?.OldImage), newItem: image(r.dynamodb?.NewImage), created: r.dynamodb?.ApproximateCreationDateTime }))
    // deletions (TTL) tell nobody anything
    .filter((c): c is typeof c & { newItem: Record<string, unknown> } => c.newItem !== undefined);
  const first = changes[0];
  const last = changes[changes.length - 1];
  const userId = userIdOfStateKey(last?.newItem);
  if (!first || !last || !userId) return; // not a user state
  const before = stateFromItem(first.oldItem, userId);
  const after = stateFromItem(last.newItem, userId);
  if (after.version <= before.version) {
    count(MetricName.RecordsSkipped, changes.length); // not a visible change
    return;
  }
  // friendships changed by these writes: changed an odd number of times = changed
  const toggles = new Map<string, number>();
  for (const c of changes) for (const u of (c.newItem.rc as string[] | undefined) ?? []) toggles.set(u, (toggles.get(u) ?? 0) + 1);
  const relationChanged = [...toggles].filter(([, n]) => n % 2 === 1).map(([u]) => u);
  // writes that only record friendship changes (`rc`) change nothing for anyone else
  const onlyRelations = changes.every((c) => Array.isArray(c.newItem.rc));
  // NotifyLag from the write itself (the item's writtenAt), else from its stream record (whole seconds on AWS)
  const writtenAt = typeof last.newItem.writtenAt === 'number' ? last.newItem.writtenAt : last.created ? last.created * 1000 : undefined;
  const result = await fanOut(before, after, { queue: chunkQueue(), relationChanged, onlyRelationChanged: onlyRelations, writtenAt });
  // a replayed or late record (retry, bisect, duplicate delivery): already pushed, nothing pushed again or regressed
  if (!result) {
    count(MetricName.RecordsSkipped, changes.length);
    logger.debug('already fanned out', { version: after.version });
    return;
  }
  // recorded only once delivered: a fan-out cut short (error, timeout) is retried in full
  await markPushed(userId, after.version);
  if (result.recipients) logger.info('fanout', { version: after.version, coalesced: changes.length, ...result });
}

export const handler = lambdaHandler(
  async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
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
        const sequenceNumber = records[0]?.dynamodb?.SequenceNumber;
        const userId = String(records[0]?.dynamodb?.Keys?.pk?.S ?? '').replace(/^USER#/, '');
        await withLogKeys({ userId, sequenceNumber, records: records.length }, async () => {
          try {
            await processUser(records);
          } catch (error) {
            logger.error('stream record failed', { error });
            // retried from the user's first record: its later ones wait, to keep their order
            if (sequenceNumber) failed.push(sequenceNumber);
          }
        });
      }),
    );
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  },
  { tracing },
);
