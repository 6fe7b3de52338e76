/**
 * The held timing tests of timely offline, run in each heartbeat mode
 * (test/e2e/expiry.test.ts: `lambda`, test/e2e/expiry-gateway.test.ts:
 * `gateway`), with short timeouts: a device that stops heartbeating is
 * removed by the sweeper (not TTL) and subscribers are told within
 * timeout + sweep interval; a heartbeating WebSocket device stays live; a
 * manual availability lapses back to auto and subscribers are told.
 * Heartbeats are sent as the SDK sends them: without requestId, unanswered.
 */
import { describe, expect, it } from 'vitest';
import type { HeartbeatMode } from '../../lib/routes.ts';
import { type Client, connect, type StackFixture, token, useStack } from './e2e.ts';

export const TIMEOUT = 2;
export const SWEEP = 1;

// generous slack for a loaded CI machine; the contract bound is TIMEOUT + SWEEP
export const BOUND_MS = (TIMEOUT + SWEEP) * 1000 + 2500;

/** the SDK's heartbeat: no requestId, so no answer */
export const beat = (c: Client) => c.send(JSON.stringify({ action: 'heartbeat' }));

export function expiryCases(heartbeat: HeartbeatMode): StackFixture {
  const fx = useStack({ presenceTimeoutSeconds: TIMEOUT, sweepIntervalSeconds: SWEEP, heartbeat });
  const { call } = fx;
  const id = (name: string) => `${name}-${heartbeat}`;

  describe(`expiry (heartbeat mode ${heartbeat})`, () => {
    it('marks a silent HTTP device offline and tells subscribers within timeout + sweep interval', async () => {
      const A = id('exp-a');
      const B = id('exp-b');
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

    it('keeps a heartbeating WebSocket device live past the timeout, heartbeats unanswered', async () => {
      const c = await connect(fx.stack, token(id('exp-live')));
      fx.track(c);
      const before = c.messages.length;
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 900));
        beat(c);
      }
      // 4.5 s: more than twice the timeout, so only the heartbeats can have kept it live
      const own = await call('GET', '/v1/me/presence', token(id('exp-live')));
      expect(own.body.status).toBe('online');
      expect(c.messages.slice(before)).toEqual([]);
    });

    it('marks a WebSocket device that falls silent (socket still open) offline within timeout + sweep interval', async () => {
      const A = id('exp-ws-watch');
      const B = id('exp-ws-silent');
      await call('POST', '/v1/me/subscriptions', token(A), { userIds: [B] });
      const a = await connect(fx.stack, token(A));
      const b = await connect(fx.stack, token(B));
      fx.track(a, b);
      await a.next((m) => m.type === 'presence' && m.data.userId === B && m.data.status === 'online');
      beat(b);
      const lastSign = Date.now();
      const offline = await a.next((m) => m.type === 'presence' && m.data.userId === B && m.data.status === 'offline', BOUND_MS + 1000);
      expect(Date.now() - lastSign).toBeLessThan(BOUND_MS);
      expect(offline.data.devices).toEqual([]);
    });

    it('lets a manual availability lapse back to auto and pushes it', async () => {
      const A = id('lapse-a');
      const B = id('lapse-b');
      await call('POST', '/v1/me/subscriptions', token(A), { userIds: [B] });
      const a = await connect(fx.stack, token(A));
      const b = await connect(fx.stack, token(B));
      fx.track(a, b);
      const until = new Date(Date.now() + 1500).toISOString();
      await b.request('setPresence', { availability: 'busy', availabilityUntil: until });
      const busy = await a.next((m) => m.type === 'presence' && m.data.userId === B && m.data.status === 'busy');
      // b keeps heartbeating so only the availability lapses
      const keepAlive = setInterval(() => beat(b), 700);
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
  return fx;
}
