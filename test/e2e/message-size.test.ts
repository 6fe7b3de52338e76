/**
 * Every message fits API Gateway's 128 KB WebSocket message limit: replies
 * carrying many presences are cut at a byte budget and say where the rest
 * is (`nextCursor` over HTTP for a group or friends, `remaining` userIds for
 * getPresence/subscribe/listen userIds); what a user can make large is
 * bounded in the bytes it takes in JSON (devices per user, customStatus,
 * ext), so any one presence, and so any push, stays far below the limit.
 */
import { describe, expect, it } from 'vitest';
import { isPushOf, token, useStack } from '../support/e2e.ts';

const fx = useStack();
const { call, client } = fx;
const MESSAGE_LIMIT = 128 * 1024;
const size = (m: unknown) => Buffer.byteLength(JSON.stringify(m), 'utf8');
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

describe('WebSocket message size', () => {
  it('a listen reply for a group of 951 members fits, and its nextCursor continues over HTTP', async () => {
    const { addGroupMember } = await import('../../functions/commons/store.ts');
    const members = ids('big-member-with-a-longer-user-id-', 951);
    for (let i = 0; i < members.length; i += 50) await Promise.all(members.slice(i, i + 50).map((m) => addGroupMember('big', m, Date.now())));
    const me = await client(members[0] as string);
    const reply = await me.request('listen', { groupId: 'big' }, 15_000);
    expect(reply.type).toBe('response');
    expect(size(reply)).toBeLessThanOrEqual(MESSAGE_LIMIT);
    expect(reply.data.presence.length).toBeLessThan(951);
    expect(reply.data.nextCursor).toEqual(expect.any(String));
    const seen = reply.data.presence.map((p: { userId: string }) => p.userId);
    for (let cursor = reply.data.nextCursor; cursor; ) {
      const page = await call('GET', `/v1/groups/big/presence?includeOffline=true&limit=500&cursor=${cursor}`, token(members[0] as string));
      expect(page.status).toBe(200);
      seen.push(...page.body.presence.map((p: { userId: string }) => p.userId));
      cursor = page.body.nextCursor;
    }
    expect(seen).toEqual(members); // every member once, in order
  }, 120_000);

  it('a getPresence reply of 100 large presences fits, naming the rest in remaining', async () => {
    const users = ids('large-', 100);
    const activity = { note: 'x'.repeat(1000) };
    for (let i = 0; i < users.length; i += 20)
      await Promise.all(users.slice(i, i + 20).map((u) => call('PATCH', '/v1/me/presence', token(u), { activity, customStatus: '\u0001'.repeat(40) })));
    const me = await client('large-reader');
    const reply = await me.request('getPresence', { userIds: users }, 15_000);
    expect(size(reply)).toBeLessThanOrEqual(MESSAGE_LIMIT);
    const got = reply.data.presence.map((p: { userId: string }) => p.userId);
    expect(reply.data.remaining.length).toBeGreaterThan(0);
    expect([...got, ...reply.data.remaining]).toEqual(users);
    const rest = await me.request('getPresence', { userIds: reply.data.remaining }, 15_000);
    expect(rest.data.presence.map((p: { userId: string }) => p.userId)).toEqual(reply.data.remaining);
  }, 60_000);

  it('refuses a 33rd live device, and a push of a user with 32 devices of the largest size fits easily', async () => {
    const owner = token('many-devices');
    const watcher = await client('dev-watcher');
    await call('POST', '/v1/me/subscriptions', token('dev-watcher'), { userIds: ['many-devices'] });
    const name = (i: number) => `${'d'.repeat(60)}${String(i).padStart(4, '0')}`;
    for (let i = 0; i < 32; i++) {
      const r = await call('PUT', `/v1/me/devices/${name(i)}`, owner, { status: 'online', ext: 'e'.repeat(64) });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    const refused = await call('PUT', `/v1/me/devices/${name(32)}`, owner, { status: 'online' });
    expect(refused).toMatchObject({ status: 400, body: { error: 'bad_request', message: expect.stringContaining('32 live devices') } });
    expect((await call('POST', '/v1/me/heartbeat', owner, { device: 'another' })).status).toBe(400);
    const push = await watcher.next(
      isPushOf('many-devices', (d) => d.devices.length === 32),
      10_000,
    );
    expect(size(push)).toBeLessThan(16 * 1024);
    // one removed: room for one again
    expect((await call('DELETE', `/v1/me/devices/${name(0)}`, owner)).status).toBe(200);
    expect((await call('PUT', `/v1/me/devices/${name(32)}`, owner, { status: 'online' })).status).toBe(200);
  }, 60_000);

  it('counts customStatus and ext in the bytes they take in JSON', async () => {
    const me = token('bytes');
    // 64 characters, but 384 bytes of JSON: refused
    expect((await call('PATCH', '/v1/me/presence', me, { customStatus: '\u0001'.repeat(64) })).body).toMatchObject({
      error: 'bad_request',
      message: expect.stringContaining('256 bytes'),
    });
    expect((await call('PATCH', '/v1/me/presence', me, { customStatus: 'é'.repeat(64) })).status).toBe(200); // 128 bytes
    expect((await call('PUT', '/v1/me/devices/d', me, { status: 'online', ext: '"'.repeat(40) })).body).toMatchObject({
      error: 'bad_request',
      message: expect.stringContaining('64 bytes'),
    });
    expect((await call('PUT', '/v1/me/devices/d', me, { status: 'online', ext: '"'.repeat(32) })).status).toBe(200);
  });
});
