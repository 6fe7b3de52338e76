/**
 * Sys presence for IoT devices (scope presence:sys): initialize, extend,
 * terminate, expiry timing with short timeouts, and the same operations
 * invoked directly as a Lambda (cloud functions in the account).
 */
import { describe, expect, it } from 'vitest';
import { type Client, connect, sleep, token, useStack } from '../support/e2e.ts';

const TIMEOUT = 2;
const SWEEP = 1;
const SYS = token('iot-backend', 'presence:sys');

async function watch(target: string): Promise<Client> {
  const watcher = `watch-${target}`;
  await call('POST', '/v1/me/subscriptions', token(watcher), { userIds: [target] });
  const c = await connect(fx.stack, token(watcher));
  fx.track(c);
  // the watcher heartbeats so its own expiry does not matter
  const t = setInterval(() => void c.request('heartbeat').catch(() => {}), 700);
  c.ws.once('close', () => clearInterval(t));
  return c;
}
const pushOf = (userId: string, pred: (d: any) => boolean) => (m: any) => m.type === 'presence' && m.data.userId === userId && pred(m.data);

const fx = useStack({ presenceTimeoutSeconds: TIMEOUT, sweepIntervalSeconds: SWEEP });
const { call } = fx;

describe('sys presence routes', () => {
  it('need the presence:sys scope', async () => {
    const res = await call('PUT', '/v1/sys/users/thermo-1/presence', token('thermo-1'), { expiresIn: 60 });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'forbidden', message: expect.any(String) });
    expect((await call('PUT', '/v1/sys/users/thermo-1/presence', undefined, { expiresIn: 60 })).status).toBe(401);
  });

  it('validate their input', async () => {
    for (const body of [
      {},
      { expiresIn: 0 },
      { expiresIn: 604_801 },
      { expiresIn: 60, status: 'offline' },
      { expiresIn: 60, device: 'a b' },
      { expiresIn: 60, x: 1 },
    ]) {
      const res = await call('PUT', '/v1/sys/users/thermo-1/presence', SYS, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await call('GET', '/v1/users/thermo-1/presence', token('x'))).body.version).toBe(0);
  });

  it('initialize → live until expiresIn (not the heartbeat timeout), subscribers told; extend; terminate', async () => {
    const w = await watch('thermo-2');
    const put = await call('PUT', '/v1/sys/users/thermo-2/presence', SYS, { expiresIn: 4, status: 'busy', activity: { temp: 21.5 } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ userId: 'thermo-2', status: 'busy', activity: { temp: 21.5 }, devices: [{ device: 'sys', status: 'busy' }] });
    await w.next(pushOf('thermo-2', (d) => d.status === 'busy'));
    await sleep((TIMEOUT + SWEEP) * 1000 + 300); // past the heartbeat timeout: still live
    expect((await call('GET', '/v1/users/thermo-2/presence', token('x'))).body.status).toBe('busy');
    const ext = await call('POST', '/v1/sys/users/thermo-2/presence/extend', SYS, { expiresIn: 60 });
    expect(ext.status).toBe(200);
    await sleep(1500); // past the original expiry
    expect((await call('GET', '/v1/users/thermo-2/presence', token('x'))).body.status).toBe('busy');
    const del = await call('DELETE', '/v1/sys/users/thermo-2/presence', SYS);
    expect(del.body).toMatchObject({ status: 'offline', devices: [] });
    await w.next(pushOf('thermo-2', (d) => d.status === 'offline'));
  });

  it('expires on its own and subscribers are told within expiresIn + sweep interval', async () => {
    const w = await watch('thermo-3');
    await call('PUT', '/v1/sys/users/thermo-3/presence', SYS, { expiresIn: 1 });
    const started = Date.now();
    await w.next(pushOf('thermo-3', (d) => d.status === 'online'));
    await w.next(
      pushOf('thermo-3', (d) => d.status === 'offline'),
      (1 + SWEEP) * 1000 + 3000,
    );
    expect(Date.now() - started).toBeLessThan((1 + SWEEP) * 1000 + 3000);
  });

  it('extend answers 404 without a live sys device', async () => {
    const res = await call('POST', '/v1/sys/users/thermo-none/presence/extend', SYS, { expiresIn: 60 });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not_found', message: expect.any(String) });
    await call('POST', '/v1/me/heartbeat', token('thermo-http'), {});
    expect((await call('POST', '/v1/sys/users/thermo-http/presence/extend', SYS, { expiresIn: 60 })).status).toBe(404);
  });
});

describe('direct Lambda invoke (cloud functions)', () => {
  it('runs the same operations with an op field and answers errors as bodies', async () => {
    const sysInvoke = (await import('../../functions/workers/sys-invoke.ts')).handler;
    // invoked as Lambda runs it: as the SysInvoke function, its AWS calls checked against that function's IAM policies
    const handler = (payload: unknown) => fx.stack.metrics.invoke('SysInvoke', () => sysInvoke(payload));
    const p = (await handler({ op: 'initializePresence', userId: 'lamp-1', expiresIn: 60, device: 'hub' })) as any;
    expect(p).toMatchObject({ userId: 'lamp-1', status: 'online', devices: [{ device: 'hub' }] });
    expect(await handler({ op: 'extendPresence', userId: 'lamp-1', expiresIn: 120, device: 'hub' })).toMatchObject({ status: 'online' });
    expect(await handler({ op: 'addFriend', userId: 'lamp-1', friendId: 'owner-1' })).toEqual({ ok: true });
    expect((await call('GET', '/v1/me/friends', token('owner-1'))).body).toEqual({ friends: ['lamp-1'] });
    expect(await handler({ op: 'addGroupMember', groupId: 'house', userId: 'lamp-1' })).toEqual({ ok: true });
    expect(await handler({ op: 'removeGroupMember', groupId: 'house', userId: 'lamp-1' })).toEqual({ ok: true });
    expect(await handler({ op: 'removeFriend', userId: 'lamp-1', friendId: 'owner-1' })).toEqual({ ok: true });
    expect(await handler({ op: 'terminatePresence', userId: 'lamp-1' })).toMatchObject({ status: 'offline' });
    expect(await handler({ op: 'extendPresence', userId: 'lamp-1', expiresIn: 10 })).toEqual({ error: 'not_found', message: expect.any(String) });
    expect(await handler({ op: 'nope' })).toEqual({ error: 'bad_request', message: expect.stringContaining('initializePresence') });
    expect(await handler({ op: 'initializePresence', userId: 'USER#x', expiresIn: 1 })).toMatchObject({ error: 'bad_request' });
    expect(await handler(null)).toMatchObject({ error: 'bad_request' });
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf'])(
    'answers op "%s" (a name every object has) with 400 bad_request, not a 500',
    async (op) => {
      const sysInvoke = (await import('../../functions/workers/sys-invoke.ts')).handler;
      // invoked as Lambda runs it: as the SysInvoke function, its AWS calls checked against that function's IAM policies
      const handler = (payload: unknown) => fx.stack.metrics.invoke('SysInvoke', () => sysInvoke(payload));
      expect(await handler({ op, userId: 'lamp-2' })).toEqual({ error: 'bad_request', message: expect.stringContaining('op must be one of') });
      // and as JSON arrives from a Lambda invoke, where "__proto__" is an own key
      expect(await handler(JSON.parse(`{"op":${JSON.stringify(op)}}`))).toEqual({
        error: 'bad_request',
        message: expect.stringContaining('op must be one of'),
      });
    },
  );
});
