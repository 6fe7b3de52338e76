/**
 * Timely offline with short timeouts: a device that stops heartbeating is
 * removed by the sweeper (not TTL) and subscribers are told within
 * timeout + sweep interval; a manual availability lapses back to auto and
 * subscribers are told.
 */
import { describe, expect, it } from 'vitest';
import { connect, token, useStack } from '../support/e2e.ts';

const TIMEOUT = 2;
const SWEEP = 1;

// generous slack for a loaded CI machine; the contract bound is TIMEOUT + SWEEP
const BOUND_MS = (TIMEOUT + SWEEP) * 1000 + 2500;

const fx = useStack({ presenceTimeoutSeconds: TIMEOUT, sweepIntervalSeconds: SWEEP });
const { call } = fx;

describe('expiry', () => {
  it('marks a silent HTTP device offline and tells subscribers within timeout + sweep interval', async () => {
    const A = 'exp-a';
    const B = 'exp-b';
    await call('POST', '/v1/me/subscriptions', token(A), { userIds: [B] });
    const a = await connect(fx.stack, token(A));
    fx.track(a);
    const hb = await call('POST', '/v1/me/heartbeat', token(B), { device: 'iot_1' });
    const lastSign = Date.now();
    expect(Date.parse(hb.body.expiresAt) - lastSign).toBeLessThanOrEqual(TIMEOUT * 1000 + 50);
    await a.next((m) => m.type === 'presence' && m.data.status === 'online');
    const offline = await a.next((m) => m.type === 'presence' && m.data.userId === B && m.data.status === 'offline', BOUND_MS + 1000);
    expect(Date.now() - lastSign).toBeLessThan(BOUND_MS);
    expect(offline.data.devices).toEqual([]);
    expect(offline.data.lastSeen).not.toBeNull();
  });

  it('keeps a heartbeating WebSocket device live past the timeout', async () => {
    const c = await connect(fx.stack, token('exp-live'));
    fx.track(c);
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 900));
      await c.request('heartbeat');
    }
    const own = await call('GET', '/v1/me/presence', token('exp-live'));
    expect(own.body.status).toBe('online');
  });

  it('lets a manual availability lapse back to auto and pushes it', async () => {
    const A = 'lapse-a';
    const B = 'lapse-b';
    await call('POST', '/v1/me/subscriptions', token(A), { userIds: [B] });
    const a = await connect(fx.stack, token(A));
    const b = await connect(fx.stack, token(B));
    fx.track(a, b);
    const until = new Date(Date.now() + 1500).toISOString();
    await b.request('setPresence', { availability: 'busy', availabilityUntil: until });
    const busy = await a.next((m) => m.type === 'presence' && m.data.userId === B && m.data.status === 'busy');
    // b keeps heartbeating so only the availability lapses
    const keepAlive = setInterval(() => void b.request('heartbeat').catch(() => {}), 700);
    try {
      const back = await a.next(
        (m) => m.type === 'presence' && m.data.userId === B && m.data.status === 'online' && m.data.version > busy.data.version,
        1500 + BOUND_MS,
      );
      expect(back.data.availabilityUntil).toBeNull();
    } finally {
      clearInterval(keepAlive);
    }
    const own = await call('GET', '/v1/me/presence', token(B));
    expect(own.body.availability).toBe('auto');
  });
});
