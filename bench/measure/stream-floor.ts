/**
 * The stream floor: what a change costs before any code of the stack runs.
 * A raw PutItem to a scratch table (same DynamoDB Local, same stream view
 * type as the Presence table), read back by a bare GetRecords loop polling
 * at the stack's interval; p50/p99 from the PutItem's send to the read that
 * returned the record, at the benchmark's change rate.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { isStaleIterator, localStreamsReader } from '../../local/stream-poller.ts';
import { log, pct, ROOT, round, sleep } from '../common.ts';
import type { Stack } from '../stack.ts';

/** The stack's stream poll interval, read from local/stack.ts (`streamPollMs ?? N`), so the floor follows it. */
export function stackPollMs(): number {
  const src = readFileSync(join(ROOT, 'local/stack.ts'), 'utf8');
  const m = /intervalMs:\s*opts\.streamPollMs\s*\?\?\s*(\d+)/.exec(src);
  if (!m) log('  (could not read the poll interval from local/stack.ts: using 100 ms)');
  return Number(m?.[1] ?? 100);
}

export async function streamFloor(stack: Stack, ratePerSecond: number, seconds: number) {
  const intervalMs = stackPollMs();
  const table = 'BenchStreamFloor';
  const presence = await stack.client.send(new DescribeTableCommand({ TableName: 'Presence' }));
  const viewType = presence.Table?.StreamSpecification?.StreamViewType ?? 'NEW_AND_OLD_IMAGES';
  await stack.client.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
  await stack.client.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: viewType },
    }),
  );
  // a real state item of the stack (its size and shape), written under other keys
  const real = (await stack.client.send(new GetItemCommand({ TableName: 'Presence', Key: { pk: { S: 'USER#op-0' }, sk: { S: 'STATE' } } }))).Item ?? {
    devices: { M: { web: { M: { status: { S: 'online' }, at: { N: String(Date.now()) } } } } },
  };
  const streamArn = (await stack.client.send(new DescribeTableCommand({ TableName: table }))).Table?.LatestStreamArn as string;
  // as the stack's poller
  const streams = localStreamsReader(stack.dynamodb);
  const openShard = async (after?: string) => {
    const shards = (await streams.describeStream({ StreamArn: streamArn })).StreamDescription?.Shards ?? [];
    const open = shards.find((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined) ?? shards[shards.length - 1];
    const it = await streams.getShardIterator({
      StreamArn: streamArn,
      ShardId: open?.ShardId as string,
      ...(after ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after } : { ShardIteratorType: 'LATEST' }),
    });
    return it.ShardIterator as string;
  };

  const sent = new Map<number, number>();
  const lat: number[] = [];
  const warm = Math.round(ratePerSecond * 2);
  const total = warm + Math.round(ratePerSecond * seconds);
  let running = true;
  let iterator = await openShard();
  let last: string | undefined;
  // the bare poller: read, then wait the interval (as the stack's poller schedules its next read)
  const poller = (async () => {
    while (running) {
      try {
        const out = await streams.getRecords({ ShardIterator: iterator, Limit: 100 });
        const now = performance.now();
        for (const r of out.Records ?? []) {
          const n = Number(r.dynamodb?.NewImage?.n?.N);
          const t = sent.get(n);
          if (t !== undefined && n >= warm) lat.push(now - t);
          last = r.dynamodb?.SequenceNumber ?? last;
        }
        iterator = out.NextShardIterator ?? (await openShard(last));
      } catch (err) {
        if (!isStaleIterator(err)) throw err;
        iterator = await openShard(last);
      }
      await sleep(intervalMs);
    }
  })();
  const started = performance.now();
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / ratePerSecond - performance.now();
    if (wait > 0) await sleep(wait);
    sent.set(i, performance.now());
    writes.push(
      stack.client.send(
        new PutItemCommand({ TableName: table, Item: { ...real, pk: { S: `USER#floor-${i % 200}` }, sk: { S: 'STATE' }, n: { N: String(i) } } }),
      ),
    );
  }
  await Promise.all(writes);
  for (let i = 0; i < 30 && lat.length < total - warm; i++) await sleep(100);
  running = false;
  await poller;
  streams.destroy();
  await stack.client.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
  return {
    p50: round(pct(lat, 50)),
    p95: round(pct(lat, 95)),
    p99: round(pct(lat, 99)),
    records: lat.length,
    changes: total - warm,
    ratePerSecond,
    pollMs: intervalMs,
  };
}
