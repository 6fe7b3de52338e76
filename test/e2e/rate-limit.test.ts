/**
 * Limits nobody can bypass:
 * - the per-connection WebSocket message rate (here 5 messages per 10 s):
 *   messages over it get a `rate_limited` error reply, the connection stays
 *   open, other connections keep their own budget, and two sockets sharing
 *   one `device` are each counted in full;
 * - the per-user budget of changes that start a fan-out (here 4 per window):
 *   PATCH, force push (HTTP and WS), setPresence, device PUT/DELETE past it
 *   get 429 `rate_limited` with Retry-After and change nothing;
 * - at most 32 open connections per user (a 33rd handshake is refused, 429).
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connect, sleep, token, useStack } from '../support/e2e.ts';

process.env.WS_RATE_LIMIT = '5';
process.env.USER_CHANGE_LIMIT = '4';
// one window for the whole file: no test straddles a window boundary
process.env.USER_CHANGE_WINDOW_SECONDS = '1000000';

const fx = useStack();
const { call } = fx;

const limited = (replies: any[]) => replies.filter((r) => r.type === 'error' && r.error === 'rate_limited');

describe('WebSocket rate limit', () => {
  it('answers rate_limited past the limit and keeps the connection', async () => {
    const flood = await connect(fx.stack, token('flooder'));
    const replies = await Promise.all(Array.from({ length: 12 }, () => flood.request('getPresence', { userIds: ['someone'] })));
    expect(limited(replies).length).toBeGreaterThanOrEqual(1);
    expect(limited(replies)[0]).toMatchObject({ message: expect.stringContaining('5 messages') });
    expect(replies.filter((r) => r.type === 'response').length).toBeGreaterThanOrEqual(5);
    expect(flood.ws.readyState).toBe(WebSocket.OPEN);
    // another connection has its own budget
    const other = await connect(fx.stack, token('calm'));
    expect(await other.request('getPresence', { userIds: ['someone'] })).toMatchObject({ type: 'response' });
    await Promise.all([flood.close(), other.close()]);
  });

  it('counts every message of two sockets that share one device (neither escapes the limit)', async () => {
    const a = await connect(fx.stack, token('twin'), 'd1');
    const b = await connect(fx.stack, token('twin'), 'd1');
    const send = (c: typeof a) => Array.from({ length: 12 }, () => c.request('getPresence', { userIds: ['someone'] }));
    const [ra, rb] = await Promise.all([Promise.all(send(a)), Promise.all(send(b))]);
    // 12 messages each, 5 allowed per 10 s window: even split across two windows, at least 2 are refused on each
    expect(limited(ra).length).toBeGreaterThanOrEqual(2);
    expect(limited(rb).length).toBeGreaterThanOrEqual(2);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('connections per user', () => {
  it('refuses a 33rd open connection of one user (each would bring its own message rate)', async () => {
    const socks = [];
    for (let i = 0; i < 32; i++) socks.push(await connect(fx.stack, token('crowd'), 'same'));
    await expect(connect(fx.stack, token('crowd'), 'same')).rejects.toMatchObject({ status: 429 });
    await (socks.pop() as (typeof socks)[number]).close();
    // its $disconnect frees the slot
    let again: Awaited<ReturnType<typeof connect>> | undefined;
    for (let i = 0; i < 50 && !again; i++) again = await connect(fx.stack, token('crowd'), 'same').catch(() => sleep(100).then(() => undefined));
    expect(again).toBeDefined();
    await Promise.all([...socks, again].map((c) => c?.close()));
  });
});

describe('per-user change budget', () => {
  it('refuses changes past the budget with 429 and Retry-After, over HTTP and WebSocket, and changes nothing', async () => {
    const me = token('spender');
    const ws = await connect(fx.stack, me, 'sock'); // coming online is a change: 1
    for (let i = 2; i <= 4; i++) expect((await call('PATCH', '/v1/me/presence', me, { customStatus: `s${i}` })).status).toBe(200);
    const before = (await call('GET', '/v1/me/presence', me)).body;
    expect(before).toMatchObject({ customStatus: 's4', version: 4 });

    const res = await fetch(`${fx.stack.httpUrl}/v1/me/presence`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${me}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customStatus: 'over' }),
    });
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ error: 'rate_limited', message: expect.stringContaining('4 presence changes') });
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 1_000_000).toBe(true);

    for (const [method, path, body] of [
      ['POST', '/v1/me/presence/push', undefined],
      ['PUT', '/v1/me/devices/pc', { status: 'busy' }],
      ['DELETE', '/v1/me/devices/sock', undefined],
    ] as const)
      expect((await call(method, path, me, body)).status).toBe(429);
    for (const [action, fields] of [
      ['setPresence', { customStatus: 'ws' }],
      ['forcePush', {}],
    ] as const) {
      expect(await ws.request(action, fields)).toMatchObject({ type: 'error', error: 'rate_limited', retryAfter: expect.any(Number) });
    }
    // another socket coming online would be a change too: its handshake is refused with 429
    await expect(connect(fx.stack, me, 'tablet')).rejects.toMatchObject({ status: 429 });
    // a read is not a change: still answered
    expect(await ws.request('getPresence', { userIds: ['spender'] })).toMatchObject({ type: 'response' });
    const after = (await call('GET', '/v1/me/presence', me)).body;
    expect(after).toMatchObject({ customStatus: 's4', version: 4, devices: [{ device: 'sock' }] });
    await ws.close();
  });
});
