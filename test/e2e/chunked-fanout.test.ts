/**
 * Large audiences are split into chunks (here FANOUT_CHUNK_SIZE=100) that the
 * fan-out chunk function delivers in parallel (SQS on AWS, the in-process
 * queue locally); every connected recipient gets the push exactly once.
 */
import { describe, expect, it } from 'vitest';
import { connect, eventually, isPushOf, sleep, token, useStack } from '../support/e2e.ts';

process.env.FANOUT_CHUNK_SIZE = '100';

const fx = useStack();
const { call } = fx;

describe('chunked fan-out', () => {
  it('delivers a change to 250 watchers as 3 chunks, each recipient once', async () => {
    const N = 250;
    const watchers = Array.from({ length: N }, (_, i) => `ck-${i}`);
    for (let i = 0; i < N; i += 25)
      await Promise.all(watchers.slice(i, i + 25).map((w) => call('POST', '/v1/me/subscriptions', token(w), { userIds: ['ck-star'] })));
    const conns = await Promise.all(watchers.filter((_, i) => i % 10 === 0).map((w) => connect(fx.stack, token(w))));
    fx.track(...conns);
    await sleep(500);
    await fx.stack.metrics.reset();
    await call('POST', '/v1/me/heartbeat', token('ck-star'), {});
    await eventually(async () => conns.every((c) => c.pushes().some(isPushOf('ck-star', (d) => d.status === 'online'))), 10_000);
    await sleep(300);
    const m = await fx.stack.metrics.snapshot();
    expect(m.invocations.FanoutChunk).toBe(3);
    expect(m.requests.StreamFanout?.BatchGetItem).toBeUndefined(); // the chunks read the connections
    expect(m.requests.FanoutChunk?.BatchGetItem).toBe(3); // ⌈100/100⌉ + ⌈100/100⌉ + ⌈50/100⌉
    for (const c of conns) expect(c.pushes().filter(isPushOf('ck-star'))).toHaveLength(1);
  }, 60_000);
});
