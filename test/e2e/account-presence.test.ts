/**
 * The account-wide online list, `GET /v1/admin/presence` (RingCentral's
 * account presence list, PubNub's hereNow): who is online across the app,
 * page by page, for operators (presence:admin) and an app's own back end
 * (presence:app), through the local stack with real HTTP and WebSocket
 * clients. The list shows what a stranger sees: only users online and
 * visible to everyone. This file's stack holds only what its tests write.
 */
import { describe, expect, it } from 'vitest';
import { encodeCursor, encodeShardCursor } from '../../functions/core/schemas.ts';
import { eventually, sleep, token, useStack } from '../support/e2e.ts';

const ADMIN = token('ops', 'presence:admin');
const APP = token('app-backend', 'presence:app');

const fx = useStack({ presenceTimeoutSeconds: 2, sweepIntervalSeconds: 1 });
const { call } = fx;

/** every page of the list (as `auth` reads it), and how many pages that took */
async function walk(auth: string, limit?: number): Promise<{ presence: any[]; pages: number }> {
  const presence: any[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const q = new URLSearchParams();
    if (limit !== undefined) q.set('limit', String(limit));
    if (cursor) q.set('cursor', cursor);
    const res = await call('GET', `/v1/admin/presence?${q}`, auth);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['nextCursor', 'presence']);
    presence.push(...res.body.presence);
    cursor = res.body.nextCursor;
    pages++;
  } while (cursor);
  return { presence, pages };
}
const ids = async (auth: string, limit?: number) => (await walk(auth, limit)).presence.map((p) => p.userId).sort();

describe('GET /v1/admin/presence', () => {
  it('needs presence:admin or presence:app: 401 without a token, 403 for users and sys', async () => {
    expect((await call('GET', '/v1/admin/presence')).status).toBe(401);
    for (const auth of [token('someone'), token('be', 'presence:sys')]) {
      const res = await call('GET', '/v1/admin/presence', auth);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: 'forbidden', message: expect.stringContaining('presence:app') });
    }
    for (const auth of [ADMIN, APP, token('both', 'presence:admin presence:app')]) expect((await call('GET', '/v1/admin/presence', auth)).status).toBe(200);
  });

  it('lists users online over WebSocket, HTTP and sys, with their presence, page by page; they leave it when they go offline', async () => {
    const ws = await fx.client('acc-ws', 'phone');
    // both keep their devices live past this file's short timeout
    const hb = setInterval(() => {
      void ws.request('heartbeat').catch(() => {});
      void call('POST', '/v1/me/heartbeat', token('acc-http'), { device: 'web' });
    }, 500);
    try {
      await call('PUT', '/v1/me/devices/web', token('acc-http'), { status: 'busy', ext: 'v1' });
      await call('PUT', '/v1/sys/users/acc-sys/presence', token('be', 'presence:sys'), { expiresIn: 60, activity: { room: 3 } });
      await call('PATCH', '/v1/me/presence', token('acc-http'), { customStatus: 'in a call' });
      const online = ['acc-http', 'acc-sys', 'acc-ws'];
      await eventually(async () => JSON.stringify(await ids(APP)) === JSON.stringify(online));
      const { presence } = await walk(ADMIN);
      // the same Presence objects as every other lookup (a stranger's view of each)
      // (lastSeen moves with every heartbeat: compared apart)
      const still = (p: any) => ({ ...p, lastSeen: typeof p.lastSeen, devices: p.devices.map((d: any) => ({ ...d, lastSeen: typeof d.lastSeen })) });
      for (const p of presence) expect(still(p)).toEqual(still((await call('GET', `/v1/users/${p.userId}/presence`, token('stranger'))).body));
      expect(presence.find((p) => p.userId === 'acc-http')).toMatchObject({
        status: 'busy',
        customStatus: 'in a call',
        devices: [{ device: 'web', status: 'busy', ext: 'v1' }],
      });
      // any page size walks the same list, every user once
      for (const limit of [1, 2, 3, 500]) expect(await ids(APP, limit), `limit ${limit}`).toEqual(online);
      expect((await walk(APP, 1)).pages).toBeGreaterThanOrEqual(3);

      // offline: the WebSocket closes, the HTTP device is removed, the sys presence is terminated
      clearInterval(hb);
      await ws.close();
      await sleep(100);
      await call('DELETE', '/v1/me/devices/web', token('acc-http'));
      await call('DELETE', '/v1/sys/users/acc-sys/presence', token('be', 'presence:sys'));
      expect(await ids(APP)).toEqual([]);
    } finally {
      clearInterval(hb);
    }
  });

  it('a device that expires leaves the list (the sweep takes the user offline and out of the index in one write)', async () => {
    await call('POST', '/v1/me/heartbeat', token('acc-exp'), { device: 'web' });
    expect(await ids(ADMIN)).toEqual(['acc-exp']);
    await eventually(async () => (await ids(ADMIN)).length === 0, 8000);
    expect((await call('GET', '/v1/users/acc-exp/presence', token('x'))).body.status).toBe('offline');
  });

  it('privacy: a user visible to friends or nobody is not in the list (for admin and app alike), until visible to everyone again', async () => {
    const me = token('acc-priv');
    const ws = await fx.client('acc-priv');
    const hb = setInterval(() => void ws.request('heartbeat').catch(() => {}), 500);
    try {
      await eventually(async () => (await ids(APP)).includes('acc-priv'));
      for (const visibility of ['friends', 'nobody']) {
        expect((await call('PATCH', '/v1/me/presence', me, { visibility })).status).toBe(200);
        for (const auth of [ADMIN, APP]) expect(await ids(auth), `${visibility}`).toEqual([]);
      }
      // a friend of theirs asking with an app token is still a stranger to the list
      await call('PUT', '/v1/sys/users/acc-priv/friends/acc-friend', token('be', 'presence:sys'));
      await call('PATCH', '/v1/me/presence', me, { visibility: 'friends' });
      expect(await ids(token('acc-friend', 'presence:app'))).toEqual([]);
      const back = await ws.request('setPresence', { visibility: 'everyone', customStatus: 'back' });
      expect(back.data.visibility).toBe('everyone');
      const { presence } = await walk(APP);
      expect(presence).toEqual([expect.objectContaining({ userId: 'acc-priv', status: 'online', customStatus: 'back' })]);
    } finally {
      clearInterval(hb);
      await ws.close();
    }
    await eventually(async () => (await ids(APP)).length === 0);
  });

  it('bad input is a 400 with the error body, never a 500', async () => {
    const bad = [
      'limit=0',
      'limit=501',
      'limit=abc',
      'limit=-1',
      'cursor=%%%',
      'cursor=not*ours',
      `cursor=${encodeCursor('just-a-user')}`,
      `cursor=${encodeShardCursor({ shard: 999, after: 'u' })}`,
      `cursor=${Buffer.from('3:bad user!').toString('base64url')}`,
      `cursor=${'A'.repeat(1100)}`,
      'includeOffline=true',
      'userIds=a',
    ];
    for (const q of bad) {
      const res = await call('GET', `/v1/admin/presence?${q}`, APP);
      expect(res.status, q).toBe(400);
      expect(res.body, q).toEqual({ error: 'bad_request', message: expect.any(String) });
    }
    // a cursor of ours from an earlier page (even a shard's start) is accepted
    expect((await call('GET', `/v1/admin/presence?cursor=${encodeShardCursor({ shard: 15, after: null })}`, APP)).status).toBe(200);
  });
});
