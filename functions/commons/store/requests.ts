/**
 * The request helpers both tables' stores share: paged Queries, batches with
 * their unprocessed items retried, and the jittered backoff between attempts.
 */

import type { BatchGetCommandOutput, BatchWriteCommandInput, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { ddb } from '../clients.ts';

export const MAX_ATTEMPTS = 8;
export const BATCH_GETS_IN_FLIGHT = 8;
/** read-modify-write retries under contention (jittered backoff, capped at 1 s) */
export const MAX_MUTATE_ATTEMPTS = 25;

/**
 * Every item of `keyList` that exists, ⌈n/100⌉ BatchGetItem calls with their
 * unprocessed keys retried; a few batches in flight at a time, so a huge
 * audience does not burst the table's read capacity.
 */
export async function batchGetAll(
  table: string,
  keyList: readonly Record<string, unknown>[],
  projection: { ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string>; ConsistentRead?: boolean },
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const chunks: Record<string, unknown>[][] = [];
  for (let i = 0; i < keyList.length; i += 100) chunks.push(keyList.slice(i, i + 100));
  const readChunk = async (chunk: Record<string, unknown>[]) => {
    let request: NonNullable<BatchGetCommandOutput['UnprocessedKeys']> = { [table]: { Keys: chunk, ...projection } };
    for (let attempt = 0; Object.keys(request).length > 0; attempt++) {
      if (attempt > 0) await backoff(attempt);
      if (attempt >= MAX_ATTEMPTS) throw new Error('BatchGetItem kept returning unprocessed keys');
      const out = await ddb.batchGet({ RequestItems: request });
      items.push(...(out.Responses?.[table] ?? []));
      request = out.UnprocessedKeys ?? {};
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(BATCH_GETS_IN_FLIGHT, chunks.length) }, async () => {
      while (next < chunks.length) await readChunk(chunks[next++] as Record<string, unknown>[]);
    }),
  );
  return items;
}

export async function queryAll(input: QueryCommandInput): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb.query({ ...input, ExclusiveStartKey: start });
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

export async function countQuery(input: QueryCommandInput): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb.query({ ...input, Select: 'COUNT', ExclusiveStartKey: start });
    count += out.Count ?? 0;
    start = out.LastEvaluatedKey;
  } while (start);
  return count;
}

export type WriteRequest = NonNullable<NonNullable<BatchWriteCommandInput['RequestItems']>[string]>[number];

export async function batchWrite(table: string, requests: WriteRequest[]): Promise<void> {
  const chunks: WriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += 25) chunks.push(requests.slice(i, i + 25));
  await Promise.all(
    chunks.map(async (chunk) => {
      let pending = chunk;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= MAX_ATTEMPTS) throw new Error('BatchWriteItem kept returning unprocessed items');
        if (attempt > 0) await backoff(attempt);
        const out = await ddb.batchWrite({ RequestItems: { [table]: pending } });
        pending = (out.UnprocessedItems?.[table] ?? []) as WriteRequest[];
      }
    }),
  );
}

export const backoff = (attempt: number) => new Promise((r) => setTimeout(r, Math.min(1000, 10 * 2 ** attempt) * (0.5 + Math.random() / 2)));
