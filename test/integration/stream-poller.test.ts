/**
 * The local stream poller as Lambda's event source mapping with
 * ParallelizationFactor: records of one user are handed over in order and
 * never two batches at once, while a slow batch of one user does not hold up
 * another user's records (no head-of-line blocking); a failed record is
 * retried from itself, the records before it are not handed over again.
 * Like the event source mapping it keeps a checkpoint: a poller started from
 * it resumes right after it, and it never passes a record not yet handled.
 * Real DynamoDB Local streams.
 */
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STREAM_PARALLELIZATION, streamFilterPatterns } from '../../lib/tables.ts';
import { laneOf, type StartPosition, type StreamCheckpoint, StreamPoller } from '../../local/stream-poller.ts';
import { createTables } from '../support/dynamo.ts';
import { eventually, sleep } from '../support/e2e.ts';

const client = new DynamoDBClient({ endpoint: process.env.DYNAMODB_ENDPOINT, region: 'local' });
const table = process.env.PRESENCE_TABLE as string;
let poller: StreamPoller | undefined;

beforeAll(createTables);
afterEach(async () => {
  await poller?.stop();
});

const userOf = (r: DynamoDBRecord) => (r.dynamodb?.Keys?.pk?.S ?? '').replace('USER#', '');
const versionOf = (r: DynamoDBRecord) => Number(r.dynamodb?.NewImage?.version?.N);
const write = (userId: string, version: number) =>
  client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: `USER#${userId}` }, sk: { S: 'STATE' }, version: { N: String(version) } } }));
const asRecord = (userId: string) => ({ dynamodb: { Keys: { pk: { S: `USER#${userId}` } } } }) as DynamoDBRecord;

type Handler = (event: DynamoDBStreamEvent) => Promise<{ batchItemFailures: { itemIdentifier: string }[] } | undefined>;

/** Starts a poller (by default at the tip: the tests share one table, each wants only what it writes). */
async function startPoller(handler: Handler, from: StartPosition = 'LATEST', onCheckpoint?: (c: StreamCheckpoint) => void) {
  poller = new StreamPoller({
    client,
    endpoint: process.env.DYNAMODB_ENDPOINT as string,
    tableName: table,
    handler,
    filterPatterns: streamFilterPatterns,
    parallelization: STREAM_PARALLELIZATION,
    intervalMs: 50,
    onCheckpoint,
  });
  await poller.start(from);
}

/** the highest sequence number a checkpoint says is handled */
const handledUpTo = (c: StreamCheckpoint | undefined) =>
  Object.values(c?.shards ?? {}).reduce((max, s) => (s.after && BigInt(s.after) > max ? BigInt(s.after) : max), 0n);

describe('stream poller', () => {
  it("keeps one user's records in order, one batch at a time, while a slow user does not block the others", async () => {
    const slow = 'sp-slow';
    // a user whose records land in another lane than the slow user's
    const fast = Array.from({ length: 50 }, (_, i) => `sp-fast-${i}`).find(
      (u) => laneOf(asRecord(u), STREAM_PARALLELIZATION) !== laneOf(asRecord(slow), STREAM_PARALLELIZATION),
    ) as string;
    const seen: Record<string, number[]> = {};
    const inFlight = new Map<string, number>();
    let overlap = false;
    let fastDone = false;
    let slowWaitedForFast = false;
    await startPoller(async ({ Records }) => {
      const users = new Set(Records.map(userOf));
      for (const u of users) {
        if (inFlight.get(u)) overlap = true;
        inFlight.set(u, 1);
      }
      if (users.has(slow) && !fastDone) {
        // hold the slow user's first batch until the fast user's record got through (or give up after 3 s)
        for (let i = 0; i < 60 && !fastDone; i++) await sleep(50);
        slowWaitedForFast = fastDone;
      }
      for (const r of Records) {
        const list = seen[userOf(r)] ?? [];
        list.push(versionOf(r));
        seen[userOf(r)] = list;
      }
      if (users.has(fast)) fastDone = true;
      for (const u of users) inFlight.set(u, 0);
      return { batchItemFailures: [] };
    });
    await write(slow, 1);
    await sleep(150); // the slow user's batch is now in the handler
    await write(fast, 1);
    for (let v = 2; v <= 6; v++) await write(slow, v);
    await eventually(async () => seen[slow]?.length === 6 && seen[fast]?.length === 1, 8000);
    expect(slowWaitedForFast).toBe(true); // the fast record was delivered while the slow batch was still running
    expect(seen[slow]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(overlap).toBe(false);
  });

  it('retries from the failed record and does not hand over the records before it again', async () => {
    const user = 'sp-retry';
    const batches: number[][] = [];
    let failed = false;
    let written = false;
    await startPoller(async ({ Records }) => {
      // the first batch waits until all four writes are in the stream, so it holds 1, 2, 3 and 4 together
      while (!written) await sleep(20);
      const mine = Records.filter((r) => userOf(r) === user);
      batches.push(mine.map(versionOf));
      const bad = mine.find((r) => versionOf(r) === 3);
      if (bad && !failed) {
        failed = true;
        return { batchItemFailures: [{ itemIdentifier: bad.dynamodb?.SequenceNumber as string }] };
      }
      return { batchItemFailures: [] };
    });
    await write(user, 1);
    await sleep(150); // the first batch (1) is in the handler, waiting
    for (let v = 2; v <= 4; v++) await write(user, v);
    await sleep(150); // 2, 3, 4 are read and queued behind it in the lane
    written = true;
    await eventually(async () => batches.some((b) => b[0] === 3 && b.includes(4)), 8000);
    await sleep(300);
    // [1], then [2, 3, 4] fails at 3, then [3, 4] again: 2 is not handed over a second time
    expect(batches).toEqual([[1], [2, 3, 4], [3, 4]]);
    expect(poller?.stats.dropped).toBe(0);
  });

  it('resumes right after its checkpoint: what was written while it was stopped is handed over, nothing before it again', async () => {
    const user = 'sp-resume';
    const seen: number[] = [];
    const mine: Handler = async ({ Records }) => {
      for (const r of Records) if (userOf(r) === user) seen.push(versionOf(r));
      return { batchItemFailures: [] };
    };
    let checkpoint: StreamCheckpoint | undefined;
    await startPoller(mine, 'LATEST', (c) => {
      checkpoint = c;
    });
    await write(user, 1);
    await write(user, 2);
    await eventually(async () => seen.length === 2, 8000);
    await poller?.stop();
    poller = undefined;
    expect(checkpoint?.streamArn).toMatch(/stream/);
    // written while no consumer runs (a stop, a crash): a consumer starting at the tip would never see them
    await write(user, 3);
    await write(user, 4);
    await startPoller(mine, checkpoint as StreamCheckpoint);
    await eventually(async () => seen.length >= 4, 8000);
    await sleep(300);
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('with no checkpoint starts from the oldest record, not the tip', async () => {
    const user = 'sp-oldest';
    await write(user, 1); // written before the poller exists
    const seen: number[] = [];
    await startPoller(async ({ Records }) => {
      for (const r of Records) if (userOf(r) === user) seen.push(versionOf(r));
      return { batchItemFailures: [] };
    }, 'TRIM_HORIZON');
    await eventually(async () => seen.length === 1, 8000);
    expect(seen).toEqual([1]);
  });

  it('never moves its checkpoint past a record still being handled, even when later records of other users are done', async () => {
    const slow = 'sp-cp-slow';
    const other = Array.from({ length: 50 }, (_, i) => `sp-cp-other-${i}`).find(
      (u) => laneOf(asRecord(u), STREAM_PARALLELIZATION) !== laneOf(asRecord(slow), STREAM_PARALLELIZATION),
    ) as string;
    let release = false;
    let slowSeq = 0n;
    let otherSeq = 0n;
    let checkpoint: StreamCheckpoint | undefined;
    await startPoller(
      async ({ Records }) => {
        for (const r of Records) {
          const seq = BigInt(r.dynamodb?.SequenceNumber ?? '0');
          if (userOf(r) === slow) slowSeq = seq;
          if (userOf(r) === other) otherSeq = seq;
        }
        if (Records.some((r) => userOf(r) === slow)) while (!release) await sleep(20);
        return { batchItemFailures: [] };
      },
      'LATEST',
      (c) => {
        checkpoint = c;
      },
    );
    await write(slow, 1);
    await write(other, 1);
    await eventually(async () => slowSeq > 0n && otherSeq > slowSeq, 8000);
    await sleep(300); // the other user's record is handled; the slow one is not
    expect(handledUpTo(checkpoint)).toBeLessThan(slowSeq);
    release = true;
    await eventually(async () => handledUpTo(checkpoint) >= otherSeq, 8000);
  });

  it("hands over records as Lambda's events carry them: the images as DynamoDB's JSON (B base64, empty maps kept), whole epoch seconds", async () => {
    const user = 'sp-wire';
    const records: DynamoDBRecord[] = [];
    await startPoller(async ({ Records }) => {
      for (const r of Records) if (userOf(r) === user) records.push(r);
      return { batchItemFailures: [] };
    });
    const before = Math.floor(Date.now() / 1000);
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          pk: { S: `USER#${user}` },
          sk: { S: 'STATE' },
          version: { N: '1' },
          blob: { B: Buffer.from('héllo') },
          empty: { M: {} },
          nested: { L: [{ M: {} }, { SS: ['a', 'b'] }] },
        },
      }),
    );
    await eventually(async () => records.length === 1, 8000);
    const d = records[0]?.dynamodb;
    expect(d?.Keys).toEqual({ pk: { S: `USER#${user}` }, sk: { S: 'STATE' } });
    expect(d?.NewImage).toEqual({
      pk: { S: `USER#${user}` },
      sk: { S: 'STATE' },
      version: { N: '1' },
      blob: { B: Buffer.from('héllo').toString('base64') },
      empty: { M: {} },
      nested: { L: [{ M: {} }, { SS: ['a', 'b'] }] },
    });
    expect(Number.isInteger(d?.ApproximateCreationDateTime)).toBe(true);
    // DynamoDB Local rounds it down to the minute (DynamoDB: "rounded down to the closest second")
    expect(d?.ApproximateCreationDateTime).toBeGreaterThanOrEqual(before - 60);
    expect(d?.ApproximateCreationDateTime).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 1);
    expect(records[0]).toMatchObject({ eventName: 'INSERT', eventSource: 'aws:dynamodb', eventVersion: '1.1' });
    expect(JSON.parse(JSON.stringify(records[0]))).toEqual(records[0]);
  });
});
