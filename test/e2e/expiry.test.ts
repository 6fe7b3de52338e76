/** Timely offline in the default heartbeat mode (`lambda`); the cases: test/support/expiry-cases.ts. */
import { describe, expect, it } from 'vitest';
import { eventually, sleep } from '../support/e2e.ts';
import { beat, expiryCases } from '../support/expiry-cases.ts';

const fx = expiryCases('lambda');

describe('WebSocket heartbeat (lambda mode)', () => {
  it('answers a heartbeat only when it carries a requestId: one write each, one billed message in', async () => {
    const c = await fx.client('hb-answer');
    await sleep(300);
    await fx.stack.metrics.reset();
    const before = c.messages.length;
    for (let i = 0; i < 3; i++) beat(c);
    const answered = await c.request('heartbeat');
    expect(answered).toMatchObject({ type: 'response', data: { device: expect.any(String), expiresAt: expect.any(String) } });
    // the three heartbeats without requestId were taken and not answered
    await eventually(async () => (await fx.stack.metrics.snapshot()).invocations.WsHeartbeat === 4);
    await sleep(300);
    expect(c.messages.slice(before)).toEqual([answered]);
    const snap = await fx.stack.metrics.snapshot();
    expect(snap.requests.WsHeartbeat).toEqual({ UpdateItem: 4 });
  });

  it('still answers a refused heartbeat without requestId with an error', async () => {
    const c = await fx.client('hb-refused');
    c.send(JSON.stringify({ action: 'heartbeat', unexpected: true }));
    const error = await c.next((m) => m.type === 'error');
    expect(error).toMatchObject({ type: 'error', error: 'bad_request' });
  });
});
