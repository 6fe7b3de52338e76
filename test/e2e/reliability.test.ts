/**
 * Faults survived: replayed stream batches (no duplicate push, no version
 * regression), a poison record next to good ones (partial batch response),
 * the consumer thread dying, pushes throttled past their retries, and many
 * concurrent writers on one user (no lost update, ordered versions).
 * (DynamoDB Local dying mid-run is in crash.test.ts: it needs its own process.)
 */
import { describe, expect, it } from 'vitest';
import { eventually, isPushOf, pushedVersions, sleep, token, useStack } from '../support/e2e.ts';

const fx = useStack();
const { call, client } = fx;

/** `a` subscribed to `b` and connected; `b` online, and that first change (version 1) pushed to `a` */
async function watching(a: string, b: string) {
  await call('POST', '/v1/me/subscriptions', token(a), { userIds: [b] });
  const conn = await client(a);
  await call('POST', '/v1/me/heartbeat', token(b), {});
  await conn.next(isPushOf(b, (d) => d.version === 1));
  return conn;
}

describe('stream consumer', () => {
  it('does not push again when a batch is replayed, nor regress versions', async () => {
    const { handler } = await import('../../functions/workers/stream.ts');
    const a = await watching('rp-a', 'rp-b');
    await call('PATCH', '/v1/me/presence', token('rp-b'), { customStatus: 'v2' });
    await a.next(isPushOf('rp-b', (d) => d.version === 2));
    const { pushedVersion } = await import('../../functions/commons/store.ts');
    await eventually(async () => (await pushedVersion('rp-b')) === 2);
    const batches = (await fx.stack.consumer.recentBatches()).filter((b) => JSON.stringify(b).includes('USER#rp-b'));
    expect(batches.length).toBeGreaterThanOrEqual(2);
    for (const batch of [...batches, ...batches].reverse()) {
      const res = await handler(batch);
      expect(res.batchItemFailures).toEqual([]);
    }
    await sleep(400);
    expect(pushedVersions(a, 'rp-b')).toEqual([1, 2]);
  });

  it("coalesces one user's records in a batch into one fan-out of the newest state", async () => {
    const { handler } = await import('../../functions/workers/stream.ts');
    const { emptyState, finalize, upsertDevice, applyPatch } = await import('../../functions/core/presence.ts');
    const { marshall } = await import('@aws-sdk/util-dynamodb');
    await call('POST', '/v1/me/subscriptions', token('co-a'), { userIds: ['co-b'] });
    const a = await client('co-a');
    // three successive states of co-b (never written: only this batch tells of them)
    const t = Date.now();
    const s0 = emptyState('co-b');
    const s1 = finalize(s0, upsertDevice(s0, 'web', { kind: 'http', expiresAt: t + 60_000 }, t)).state;
    const s2 = finalize(s1, applyPatch(s1, { customStatus: 'two' }, t)).state;
    const s3 = finalize(s2, applyPatch(s2, { customStatus: 'three' }, t)).state;
    const img = (s: typeof s0) => marshall({ pk: 'USER#co-b', sk: 'STATE', ...s }, { removeUndefinedValues: true }) as never;
    const record = (before: typeof s0 | undefined, after: typeof s0, seq: number) => ({
      eventName: before ? 'MODIFY' : 'INSERT',
      dynamodb: { Keys: { pk: { S: 'USER#co-b' }, sk: { S: 'STATE' } }, OldImage: before && img(before), NewImage: img(after), SequenceNumber: String(seq) },
    });
    const res = await handler({ Records: [record(undefined, s1, 1), record(s1, s2, 2), record(s2, s3, 3)] as never });
    expect(res.batchItemFailures).toEqual([]);
    await a.next(isPushOf('co-b', (d) => d.version === 3 && d.customStatus === 'three'));
    await sleep(400);
    expect(pushedVersions(a, 'co-b')).toEqual([3]); // one push, the newest state (not 1, 2, 3)
  });

  it('reports a poison record and still delivers the good ones of the batch', async () => {
    const { handler } = await import('../../functions/workers/stream.ts');
    await call('POST', '/v1/me/subscriptions', token('pz-a'), { userIds: ['pz-b'] });
    const a = await client('pz-a');
    const before = (await fx.stack.consumer.recentBatches()).length;
    await call('POST', '/v1/me/heartbeat', token('pz-b'), {});
    await a.next(isPushOf('pz-b', (d) => d.version === 1));
    await call('PATCH', '/v1/me/presence', token('pz-b'), { customStatus: 'good' });
    const good = await eventually(async () =>
      (await fx.stack.consumer.recentBatches())
        .slice(before)
        .flatMap((b) => b.Records)
        .find((r) => JSON.stringify(r.dynamodb?.NewImage).includes('"good"')),
    );
    // what the good record was, un-delivered: once its fan-out is recorded, forget that it was pushed
    const { pushedVersion } = await import('../../functions/commons/store.ts');
    await eventually(async () => (await pushedVersion('pz-b')) >= 2);
    const { dynamodb } = await import('../../functions/commons/clients.ts');
    const { DeleteItemCommand } = await import('@aws-sdk/client-dynamodb');
    await dynamodb.send(new DeleteItemCommand({ TableName: fx.stack.tableNames.Graph, Key: { pk: { S: 'USER#pz-b' }, sk: { S: 'PUSHED' } } }));
    const poison = {
      ...good,
      dynamodb: {
        ...good.dynamodb,
        Keys: { pk: { S: 'USER#pz-x' }, sk: { S: 'STATE' } },
        NewImage: { pk: { S: 'USER#pz-x' }, sk: { S: 'STATE' }, devices: {} as never },
        SequenceNumber: '999',
      },
    };
    const count = a.pushes().filter(isPushOf('pz-b')).length;
    const res = await handler({ Records: [poison, good] as never });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: '999' }]);
    await eventually(async () => a.pushes().filter(isPushOf('pz-b')).length > count);
  });

  it('loses no change when the consumer thread dies: it is restarted and pushes what was not pushed, once', async () => {
    const a = await watching('cr-a', 'cr-b');
    // crash once version 1 is recorded as pushed (a crash between the push and that record re-pushes it: at least once)
    const { pushedVersion } = await import('../../functions/commons/store.ts');
    await eventually(async () => (await pushedVersion('cr-b')) === 1);
    const restarts = fx.stack.consumer.restarts;
    await fx.stack.consumer.crash();
    // changed while no consumer runs: told 200, so it must reach the subscriber
    expect((await call('PATCH', '/v1/me/presence', token('cr-b'), { customStatus: 'during the crash' })).status).toBe(200);
    await a.next(
      isPushOf('cr-b', (d) => d.customStatus === 'during the crash'),
      15_000,
    );
    expect(fx.stack.consumer.restarts).toBe(restarts + 1);
    await sleep(300);
    // the replay from the stream's oldest record skipped what had been pushed already
    expect(pushedVersions(a, 'cr-b')).toEqual([1, 2]);
  }, 30_000);

  it('re-queues pushes API Gateway throttles: the subscriber gets the change once, after the throttling', async () => {
    const a = await watching('th-a', 'th-b');
    const chunksBefore = (await fx.stack.metrics.snapshot()).invocations.FanoutChunk ?? 0;
    // longer than a post's own retries (≈ 0.2–0.5 s): the delivery fails and goes back to the chunk queue
    expect(fx.stack.gateway.throttlePushesTo('th-a', 1200)).toBe(1);
    expect((await call('PATCH', '/v1/me/presence', token('th-b'), { customStatus: 'throttled' })).status).toBe(200);
    await a.next(
      isPushOf('th-b', (d) => d.customStatus === 'throttled'),
      15_000,
    );
    // an audience of one goes through the chunk function only when re-queued
    expect((await fx.stack.metrics.snapshot()).invocations.FanoutChunk ?? 0).toBeGreaterThan(chunksBefore);
    await sleep(300);
    expect(pushedVersions(a, 'th-b')).toEqual([1, 2]);
  }, 30_000);

  it('keeps queued fan-out chunks when the consumer thread dies, as SQS would: the replacement delivers them', async () => {
    const a = await watching('cq-a', 'cq-b');
    // throttled for 3 s, past the post's own retries: the push goes back to the chunk queue (1 s, then 2 s later)
    expect(fx.stack.gateway.throttlePushesTo('cq-a', 3000)).toBe(1);
    expect((await call('PATCH', '/v1/me/presence', token('cq-b'), { customStatus: 'queued' })).status).toBe(200);
    const { pushedVersion } = await import('../../functions/commons/store.ts');
    await eventually(async () => (await pushedVersion('cq-b')) === 2); // fanned out, the push failed: the chunk is queued
    expect(pushedVersions(a, 'cq-b')).toEqual([1]);
    await fx.stack.consumer.crash(); // the queued chunk was in that thread
    await a.next(
      isPushOf('cq-b', (d) => d.customStatus === 'queued'),
      15_000,
    );
    await sleep(300);
    expect(pushedVersions(a, 'cq-b')).toEqual([1, 2]);
  }, 30_000);

  it('drops a queued delivery once a newer version was fanned out: no older state after a newer one', async () => {
    const a = await watching('st-a', 'st-b');
    expect(fx.stack.gateway.throttlePushesTo('st-a', 2500)).toBe(1);
    const { pushedVersion } = await import('../../functions/commons/store.ts');
    expect((await call('PATCH', '/v1/me/presence', token('st-b'), { customStatus: 'older' })).status).toBe(200);
    await eventually(async () => (await pushedVersion('st-b')) === 2); // its push failed: queued for later
    expect((await call('PATCH', '/v1/me/presence', token('st-b'), { customStatus: 'newer' })).status).toBe(200);
    await a.next(
      isPushOf('st-b', (d) => d.customStatus === 'newer'),
      15_000,
    );
    await sleep(4000); // every queued delivery has had its turn
    expect(pushedVersions(a, 'st-b')).toEqual([1, 3]);
  }, 30_000);

  it('treats a late TTL deletion from DynamoDB (AWS) as a no-op', async () => {
    const { handler } = await import('../../functions/workers/stream.ts');
    await call('POST', '/v1/me/subscriptions', token('ttl-a'), { userIds: ['ttl-b'] });
    const a = await client('ttl-a');
    const ttlDelete = {
      eventID: 'ttl-1',
      eventName: 'REMOVE',
      eventSource: 'aws:dynamodb',
      userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
      dynamodb: {
        Keys: { pk: { S: 'USER#ttl-b' }, sk: { S: 'STATE' } },
        OldImage: { pk: { S: 'USER#ttl-b' }, sk: { S: 'STATE' }, version: { N: '7' }, devices: { M: {} } },
        SequenceNumber: '42',
      },
    };
    const res = await handler({ Records: [ttlDelete] as never });
    expect(res.batchItemFailures).toEqual([]);
    await sleep(300);
    expect(a.pushes().filter(isPushOf('ttl-b'))).toEqual([]);
  });
});

describe('concurrent writers', () => {
  it('loses no update and pushes versions in order when many clients change one user at once', async () => {
    const H = 'hammer';
    await call('POST', '/v1/me/subscriptions', token('hammer-watch'), { userIds: [H] });
    const watcher = await client('hammer-watch');
    const devices = await Promise.all(Array.from({ length: 8 }, (_, i) => client(H, `d${i}`)));
    const ROUNDS = 5;
    for (let round = 0; round < ROUNDS; round++) {
      const replies = await Promise.all(devices.map((d, i) => d.request('setPresence', { status: i % 2 ? 'busy' : 'online', ext: `r${round}` }, 15_000)));
      for (const r of replies) expect(r.type).toBe('response');
    }
    const final = await call('GET', '/v1/me/presence', token(H));
    expect(final.body.devices).toHaveLength(8);
    for (const d of final.body.devices) expect(d.ext).toBe(`r${ROUNDS - 1}`);
    await watcher.next(
      isPushOf(H, (d) => d.version === final.body.version),
      10_000,
    );
    const versions = pushedVersions(watcher, H);
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    expect(new Set(versions).size).toBe(versions.length);
    console.log(`hammer: 8 writers × ${ROUNDS} rounds, final version ${final.body.version}, ${versions.length} pushes, 0 lost updates`);
  }, 60_000);
});
