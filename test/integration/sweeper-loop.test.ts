/**
 * The sweeper worker as scheduled on AWS: EventBridge fires once a minute and
 * passes `loopSeconds`, and one invocation sweeps every SWEEP_INTERVAL_SECONDS
 * for that long (here 1 s for 3 s: three rounds of two Queries per shard).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { countRequests, createTables } from '../support/dynamo.ts';

process.env.SWEEP_INTERVAL_SECONDS = '1';
const { dynamodb } = await import('../../functions/commons/clients.ts');
const { SWEEP_SHARDS } = await import('../../functions/commons/store.ts');
const { handler } = await import('../../functions/workers/sweeper.ts');
const requests = countRequests(dynamodb);

beforeAll(createTables);

describe('sweeper worker', () => {
  it('sweeps once when invoked without a loop (the local timer)', async () => {
    requests.reset();
    await handler({});
    expect(requests.counts).toEqual({ Query: 2 * SWEEP_SHARDS }); // due users + expired subscriptions, per shard
  });

  it('sweeps every interval for the loop it is given', async () => {
    requests.reset();
    await handler({ loopSeconds: 3 });
    expect(requests.counts).toEqual({ Query: 3 * 2 * SWEEP_SHARDS });
  });
});
