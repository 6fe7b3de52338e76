/**
 * The deterministic performance budgets, counted per function by the local
 * stack's instrumentation (the timings are the benchmark's job):
 * a heartbeat is one write and no push; a PATCH of a live user's custom
 * status or activity is one write; a fan-out to N recipients costs
 * ceil(N/100) batch reads plus three fixed requests, never a request per
 * recipient; nothing uses a Scan.
 */
import { describe, expect, it } from 'vitest';
import { connect, eventually, sleep, token, useStack } from '../support/e2e.ts';

// a short change-budget window, so a test can wait for the next one (the PATCH fast path
// takes a change whose user's previous change was in an earlier window)
process.env.USER_CHANGE_WINDOW_SECONDS = '1';
/** waits until the change-budget window after the current one has begun */
const nextBudgetWindow = () => sleep(1000 - (Date.now() % 1000) + 20);

const requests = async (fn: string) => (await fx.stack.metrics.snapshot()).requests[fn] ?? {};

const fx = useStack();
const { call } = fx;

describe('request budgets', () => {
  it('a WebSocket heartbeat is one UpdateItem and invokes no fan-out', async () => {
    const c = await connect(fx.stack, token('budget-hb'));
    fx.track(c);
    await sleep(300);
    await fx.stack.metrics.reset();
    for (let i = 0; i < 5; i++) await c.request('heartbeat');
    await sleep(400);
    expect(await requests('WsHeartbeat')).toEqual({ UpdateItem: 5 });
    expect((await fx.stack.metrics.snapshot()).invocations.StreamFanout).toBeUndefined();
  });

  it('an HTTP heartbeat of a live device is one UpdateItem', async () => {
    await call('POST', '/v1/me/heartbeat', token('budget-http'), { device: 'web' });
    await fx.stack.metrics.reset();
    for (let i = 0; i < 5; i++) await call('POST', '/v1/me/heartbeat', token('budget-http'), { device: 'web' });
    expect(await requests('Heartbeat')).toEqual({ UpdateItem: 5 });
  });

  it('a PATCH of custom status or activity is one UpdateItem; when that write cannot apply, the full path costs no read more', async () => {
    const patch = (body: Record<string, unknown>) => call('PATCH', '/v1/me/presence', token('budget-patch'), body);
    await call('POST', '/v1/me/heartbeat', token('budget-patch'), { device: 'web' });
    await nextBudgetWindow();
    await fx.stack.metrics.reset();
    const fast = await patch({ customStatus: 'one write', activity: { kind: 'focus' } });
    expect(fast.status).toBe(200);
    expect(fast.body).toMatchObject({ customStatus: 'one write', activity: { kind: 'focus' }, version: 2, status: 'online' });
    expect(await requests('PatchOwnPresence')).toEqual({ UpdateItem: 1 });
    // unchanged: nothing new to show, the conditional write does not apply; the full path starts from the item it returned
    await nextBudgetWindow();
    await fx.stack.metrics.reset();
    expect((await patch({ customStatus: 'one write' })).body.version).toBe(2);
    expect(await requests('PatchOwnPresence')).toEqual({ UpdateItem: 1, PutItem: 1 });
    // visibility decides the frozen hidden views: always the full path
    await fx.stack.metrics.reset();
    expect((await patch({ visibility: 'friends' })).body.version).toBe(3);
    expect(await requests('PatchOwnPresence')).toEqual({ GetItem: 1, PutItem: 1 });
  });

  it('a WebSocket setPresence is two writes whatever it changes: the touch returns the state the change is written on', async () => {
    const c = await connect(fx.stack, token('budget-ws-set'));
    fx.track(c);
    await sleep(300);
    await fx.stack.metrics.reset();
    // a second change in the same budget window, a visibility change and a device status change: none reads, none retries
    for (const [i, body] of [{ customStatus: 'a' }, { customStatus: 'b' }, { visibility: 'friends' }, { status: 'busy' }].entries()) {
      const r = await c.request('setPresence', body);
      expect(r.data).toMatchObject({ version: i + 2 });
    }
    expect(await requests('WsSetPresence')).toEqual({ UpdateItem: 4, PutItem: 4 });
  });

  it('a fan-out to 250 recipients costs 3 batch reads and three fixed requests', async () => {
    const N = 250;
    const watchers = Array.from({ length: N }, (_, i) => `bw-${i}`);
    for (let i = 0; i < N; i += 25)
      await Promise.all(watchers.slice(i, i + 25).map((w) => call('POST', '/v1/me/subscriptions', token(w), { userIds: ['budget-star'] })));
    const conns = await Promise.all(watchers.slice(0, 20).map((w) => connect(fx.stack, token(w))));
    fx.track(...conns);
    await call('POST', '/v1/me/heartbeat', token('budget-star'), {});
    await eventually(async () => conns.every((c) => c.pushes().length > 0));
    await sleep(300);
    await fx.stack.metrics.reset();
    await call('PATCH', '/v1/me/presence', token('budget-star'), { customStatus: 'counted' });
    await eventually(async () => conns.every((c) => c.pushes().some((m) => m.data.customStatus === 'counted')));
    await sleep(200);
    const fanout = await requests('StreamFanout');
    expect(fanout).toEqual({
      Query: 2, // watchers (one page) + the user's friends and groups, with the last version pushed (replays)
      UpdateItem: 1, // record the version once delivered
      BatchGetItem: Math.ceil(N / 100), // recipients' connections
    });
  }, 60_000);

  it('no request path used a Scan', async () => {
    for (const [fn, ops] of Object.entries((await fx.stack.metrics.snapshot()).requests)) expect(ops.Scan, fn).toBeUndefined();
  });
});
