/**
 * Authorization (401/403 with the contract's error body, WebSocket handshake
 * refusal), bad input (4xx, never 5xx, state unchanged), and WebSocket error
 * replies that keep the connection open.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signHs256 } from '../../functions/core/jwt.ts';
import { connect, token, useStack } from '../support/e2e.ts';

const errorBody = (code: string) => ({ error: code, message: expect.any(String) });

const fx = useStack();
const { call } = fx;

describe('authorization', () => {
  const expired = signHs256({ sub: 'x', exp: Math.floor(Date.now() / 1000) - 60 }, 'test-secret');
  const forged = signHs256({ sub: 'x', exp: Math.floor(Date.now() / 1000) + 60 }, 'not-the-secret');

  it.each([
    ['no token', undefined],
    ['an expired token', expired],
    ['a token signed with another secret', forged],
    ['garbage', 'abc'],
  ])('answers 401 to %s', async (_name, auth) => {
    const res = await call('GET', '/v1/me/presence', auth);
    expect(res.status).toBe(401);
    expect(res.body).toEqual(errorBody('unauthorized'));
  });

  it('answers 403 to a valid token without the route scope, and lets the scope in', async () => {
    const res = await call('POST', '/v1/admin/cleanup-presence', token('plain-user'));
    expect(res.status).toBe(403);
    expect(res.body).toEqual(errorBody('forbidden'));
    const ok = await call('POST', '/v1/admin/cleanup-presence', token('ops', 'presence:admin'));
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({
      usersMarkedOffline: expect.any(Number),
      devicesExpired: expect.any(Number),
      availabilityCleared: expect.any(Number),
      subscriptionsExpired: expect.any(Number),
    });
  });

  it('refuses the WebSocket handshake with 401 without a valid token', async () => {
    await expect(connect(fx.stack, null)).rejects.toMatchObject({ status: 401 });
    await expect(connect(fx.stack, forged)).rejects.toMatchObject({ status: 401 });
    await expect(connect(fx.stack, expired)).rejects.toMatchObject({ status: 401 });
  });

  it('refuses a WebSocket device name outside the contract with 400', async () => {
    await expect(connect(fx.stack, token('dev-user'), 'bad device!')).rejects.toMatchObject({ status: 400 });
    const own = await call('GET', '/v1/me/presence', token('dev-user'));
    expect(own.body.devices).toEqual([]);
  });

  it('answers unknown routes with 404 and the error body', async () => {
    const res = await call('GET', '/v1/nothing-here', token('u'));
    expect(res.status).toBe(404);
    expect(res.body).toEqual(errorBody('not_found'));
  });
});

describe('bad input changes nothing', () => {
  const U = 'careful';
  it.each([
    ['PATCH', '/v1/me/presence', '{}'],
    ['PATCH', '/v1/me/presence', '{"availability":"online"}'],
    ['PATCH', '/v1/me/presence', '{not json'],
    ['PATCH', '/v1/me/presence', '[1,2]'],
    ['PATCH', '/v1/me/presence', JSON.stringify({ customStatus: 'x'.repeat(65) })],
    ['PATCH', '/v1/me/presence', JSON.stringify({ activity: { big: 'x'.repeat(2000) } })],
    ['PATCH', '/v1/me/presence', JSON.stringify({ availability: 'busy', availabilityUntil: '2020-01-01T00:00:00.000Z' })],
    ['PATCH', '/v1/me/presence', JSON.stringify({ availabilityUntil: '2099-01-01T00:00:00.000Z' })],
    ['POST', '/v1/me/heartbeat', JSON.stringify({ device: 'USER#evil' })],
    ['POST', '/v1/me/heartbeat', JSON.stringify({ device: 42 })],
    ['PUT', '/v1/me/devices/web', JSON.stringify({ status: 'sleeping' })],
    ['PUT', '/v1/me/devices/web', JSON.stringify({ status: 'online', ext: 'x'.repeat(65) })],
    ['POST', '/v1/me/subscriptions', JSON.stringify({ userIds: [] })],
    ['POST', '/v1/me/subscriptions', JSON.stringify({ userIds: Array.from({ length: 101 }, (_, i) => `u${i}`) })],
    ['POST', '/v1/me/subscriptions', JSON.stringify({ userIds: ['a'], expiresIn: 2_592_001 })],
    ['DELETE', '/v1/me/subscriptions', JSON.stringify({ userIds: 'a' })],
    ['GET', '/v1/presence', undefined],
    ['GET', `/v1/presence?userIds=${Array.from({ length: 101 }, (_, i) => `u${i}`).join(',')}`, undefined],
    ['GET', '/v1/presence?userIds=a,,b', undefined],
    ['GET', '/v1/me/subscriptions?limit=0', undefined],
    ['GET', '/v1/me/subscriptions?limit=501', undefined],
    ['GET', '/v1/me/subscriptions?cursor=%21%21', undefined],
    ['GET', '/v1/users/bad%20id/presence', undefined],
  ])('%s %s %s → 400', async (method, path, body) => {
    const before = await call('GET', '/v1/me/presence', token(U));
    const subsBefore = await call('GET', '/v1/me/subscriptions', token(U));
    const res = await call(method, path, token(U), body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(errorBody('bad_request'));
    expect(await call('GET', '/v1/me/presence', token(U))).toEqual(before);
    expect(await call('GET', '/v1/me/subscriptions', token(U))).toEqual(subsBefore);
  });

  it('answers 413 to an oversized body', async () => {
    const res = await call('PATCH', '/v1/me/presence', token(U), JSON.stringify({ customStatus: 'x'.repeat(70_000) }));
    expect(res.status).toBe(413);
    expect(res.body).toEqual(errorBody('payload_too_large'));
  });
});

describe('WebSocket errors', () => {
  it('replies with an error to bad messages and keeps the connection', async () => {
    const c = await connect(fx.stack, token('ws-err'));
    c.send('not json');
    expect(await c.next((m) => m.type === 'error')).toMatchObject({ type: 'error', error: 'bad_request' });
    expect(await c.request('nope')).toMatchObject({ type: 'error', error: 'bad_request', message: expect.stringContaining('Unknown action') });
    expect(await c.request('getPresence', { userIds: 'bob' })).toMatchObject({ type: 'error', error: 'bad_request' });
    expect(await c.request('getPresence', { userIds: Array.from({ length: 101 }, (_, i) => `u${i}`) })).toMatchObject({ error: 'bad_request' });
    expect(await c.request('subscribe', { userIds: ['a'], expiresIn: -1 })).toMatchObject({ error: 'bad_request' });
    expect(await c.request('setPresence', { status: 'offline' })).toMatchObject({ error: 'bad_request' });
    // over the contract's 32 KB (sent in frames of at most 32 KB, as API Gateway requires: a bigger frame closes the socket)
    const big = await c.request('setPresence', { customStatus: 'x'.repeat(40_000) });
    expect(big).toMatchObject({ type: 'error', error: 'payload_too_large' });
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    const ok = await c.request('getPresence', { userIds: ['ws-err'] });
    expect(ok).toMatchObject({ type: 'response', data: { presence: [{ userId: 'ws-err', status: 'online' }] } });
    await c.close();
  });
});

describe('token subjects', () => {
  it('refuses a token whose subject is not a valid userId (it would become a key)', async () => {
    for (const sub of ['x'.repeat(65), 'a#b', 'USER#x', 'a b']) {
      const t = signHs256({ sub, exp: Math.floor(Date.now() / 1000) + 60 }, 'test-secret');
      expect((await call('GET', '/v1/me/presence', t)).status, sub).toBe(401);
      await expect(connect(fx.stack, t)).rejects.toMatchObject({ status: 401 });
    }
  });
});
