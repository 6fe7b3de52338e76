/**
 * The `gateway` heartbeat mode's liveness wheel in the store, against
 * DynamoDB Local: entries written into a shard's time bucket come back from
 * one Query, whatever the number of items they take; and an entry is as small
 * as the cost model (bench/cost.ts WHEEL_ENTRY_BYTES, 80 bytes) says: 200
 * realistic entries to an item write at most 16 WRU.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ddb } from '../../functions/commons/clients.ts';
import * as store from '../../functions/commons/store.ts';
import { createTables } from '../support/dynamo.ts';

beforeAll(createTables);

const BUCKET_MS = 15_000;
/** API Gateway's connection ids are 16 characters ending in `=` */
const conn = (i: number) => `Zk${String(i).padStart(13, '0')}=`;
const entries = (n: number, bucket: number, first = 0) =>
  Array.from({ length: n }, (_, i) => ({
    userId: `user-${String(first + i).padStart(8, '0')}`,
    device: 'phone',
    conn: conn(first + i),
    due: bucket * BUCKET_MS + 1234,
    bucket,
  }));

describe('liveness wheel (store)', () => {
  it('returns every entry of a shard bucket, across items, with its due time and stale flag', async () => {
    const bucket = Math.floor(Date.now() / BUCKET_MS) + 1000;
    // users of one shard only, so that all land in one bucket item set
    const shard = store.sweepShards()[0] as string;
    const all = entries(2000, bucket).filter((e) => store.sweepShard(e.userId) === shard);
    const written = all.slice(0, 450).map((e, i) => (i % 3 === 0 ? { ...e, stale: true } : e));
    await store.scheduleLiveness(written, BUCKET_MS);
    const read = await store.livenessEntries(shard, bucket);
    expect(read).toHaveLength(written.length);
    const strip = ({ bucket: _b, ...e }: (typeof written)[number]) => e;
    expect(new Set(read.map((e) => JSON.stringify(e)))).toEqual(new Set(written.map((e) => JSON.stringify(strip(e)))));
    expect(await store.livenessEntries(shard, bucket + 1)).toEqual([]);
  });

  it('writes 200 realistic entries to an item for at most 16 write units (80 bytes an entry)', async () => {
    const bucket = Math.floor(Date.now() / BUCKET_MS) + 2000;
    const shard = store.sweepShards()[1] as string;
    const mine = entries(4000, bucket, 10_000)
      .filter((e) => store.sweepShard(e.userId) === shard)
      .slice(0, 200);
    expect(mine).toHaveLength(200);
    await store.scheduleLiveness(mine, BUCKET_MS);
    const out = await ddb.query({
      TableName: process.env.GRAPH_TABLE,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `LIVE#${shard}#${bucket}` },
    });
    expect(out.Items).toHaveLength(1);
    const put = await ddb.put({ TableName: process.env.GRAPH_TABLE, Item: out.Items?.[0], ReturnConsumedCapacity: 'TOTAL' });
    expect(put.ConsumedCapacity?.CapacityUnits).toBeGreaterThan(0);
    expect(put.ConsumedCapacity?.CapacityUnits).toBeLessThanOrEqual(16);
  });

  it('keeps one cursor for the wheel', async () => {
    await store.setLivenessCursor(42);
    expect(await store.livenessCursor()).toBe(42);
    await store.setLivenessCursor(43);
    expect(await store.livenessCursor()).toBe(43);
  });
});
