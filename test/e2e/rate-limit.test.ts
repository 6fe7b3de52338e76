/**
 * The per-connection WebSocket message rate limit (here 5 messages per 10 s):
 * messages over the limit get a `rate_limited` error reply, the connection
 * stays open, and other connections are not affected.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connect, token, useStack } from '../support/e2e.ts';

process.env.WS_RATE_LIMIT = '5';

const fx = useStack();

describe('WebSocket rate limit', () => {
  it('answers rate_limited past the limit and keeps the connection', async () => {
    const flood = await connect(fx.stack, token('flooder'));
    const replies = await Promise.all(Array.from({ length: 12 }, () => flood.request('getPresence', { userIds: ['someone'] })));
    const limited = replies.filter((r) => r.type === 'error' && r.error === 'rate_limited');
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(limited[0]).toMatchObject({ message: expect.stringContaining('5 messages') });
    expect(replies.filter((r) => r.type === 'response').length).toBeGreaterThanOrEqual(5);
    expect(flood.ws.readyState).toBe(WebSocket.OPEN);
    // another connection has its own budget
    const other = await connect(fx.stack, token('calm'));
    expect(await other.request('getPresence', { userIds: ['someone'] })).toMatchObject({ type: 'response' });
    await Promise.all([flood.close(), other.close()]);
  });
});
