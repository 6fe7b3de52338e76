/**
 * The `gateway` heartbeat mode (`-c heartbeat=gateway`, `npm start -- --heartbeat gateway`):
 * the held timing tests pass as in the default mode (test/support/expiry-cases.ts),
 * heartbeats run no function and get no answer, and the sweeper's liveness
 * wheel keeps a live WebSocket device online from GetConnection's LastActiveAt
 * without writing its state.
 */
import { ApiGatewayManagementApiClient, GetConnectionCommand, GoneException } from '@aws-sdk/client-apigatewaymanagementapi';
import { describe, expect, it } from 'vitest';
import { eventually, sleep, token } from '../support/e2e.ts';
import { BOUND_MS, beat, expiryCases, TIMEOUT } from '../support/expiry-cases.ts';

const fx = expiryCases('gateway');

describe('WebSocket heartbeat (gateway mode)', () => {
  it("moves the connection's LastActiveAt (GetConnection, through the AWS SDK) with a heartbeat no function sees", async () => {
    const c = await fx.client('gw-last-active');
    const id = [...fx.stack.gateway.connections.values()].find((k) => k.authorizer.userId === 'gw-last-active')?.id as string;
    const management = new ApiGatewayManagementApiClient({ endpoint: process.env.WS_CALLBACK_URL, region: 'local' });
    const first = await management.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(first.ConnectedAt).toBeInstanceOf(Date);
    expect(first.LastActiveAt).toBeInstanceOf(Date);
    await sleep(50);
    beat(c);
    await eventually(async () => {
      const now = await management.send(new GetConnectionCommand({ ConnectionId: id }));
      return (now.LastActiveAt?.getTime() ?? 0) > (first.LastActiveAt?.getTime() ?? 0);
    });
    await c.close();
    await expect(management.send(new GetConnectionCommand({ ConnectionId: id }))).rejects.toBeInstanceOf(GoneException);
  });

  it('runs no function for a heartbeat and answers none, not even one with a requestId', async () => {
    const c = await fx.client('gw-mock');
    await sleep(300);
    await fx.stack.metrics.reset();
    const before = c.messages.length;
    beat(c);
    c.send(JSON.stringify({ action: 'heartbeat', requestId: 'asked' }));
    // another action still goes to its function and is answered: the heartbeats were taken before it
    expect(await c.request('getPresence', { userIds: ['gw-mock'] })).toMatchObject({ type: 'response' });
    await sleep(300);
    expect(c.messages.slice(before).filter((m) => m.requestId !== undefined && m.requestId !== 'asked' && m.type === 'response')).toHaveLength(1);
    expect(c.messages.slice(before).some((m) => m.requestId === 'asked')).toBe(false);
    const snap = await fx.stack.metrics.snapshot();
    expect(snap.invocations.WsHeartbeat).toBeUndefined();
    expect(snap.requests.WsHeartbeat).toBeUndefined();
  });

  it('keeps a heartbeating device online at every read, never writing its state, and tells nobody', async () => {
    const user = 'gw-extend';
    const { getUserState } = await import('../../functions/commons/store.ts');
    const watcher = await fx.client('gw-extend-watch');
    await fx.call('POST', '/v1/me/subscriptions', token('gw-extend-watch'), { userIds: [user] });
    const c = await fx.client(user);
    const keepAlive = setInterval(() => beat(c), 500);
    try {
      const online = await watcher.next((m) => m.type === 'presence' && m.data.userId === user && m.data.status === 'online');
      const rev = (await getUserState(user)).rev;
      await fx.stack.metrics.reset();
      // three timeouts, read all along: the device's expiry never lapses between two liveness checks
      const seen = new Set<string>();
      for (const end = Date.now() + 3 * TIMEOUT * 1000; Date.now() < end; await sleep(100)) {
        const own = await fx.call('GET', '/v1/me/presence', token(user));
        seen.add(own.body.status);
        expect(own.body.version).toBe(online.data.version);
      }
      expect([...seen]).toEqual(['online']);
      expect(watcher.pushes().filter((m) => m.data.userId === user)).toHaveLength(1);
      // the checks happened (the wheel's batched writes) and the user's state was not written once
      expect((await fx.stack.metrics.snapshot()).requests.Sweeper?.BatchWriteItem ?? 0).toBeGreaterThanOrEqual(2);
      expect((await getUserState(user)).rev).toBe(rev);
    } finally {
      clearInterval(keepAlive);
    }
  });

  it('brings a silent connection back online when its client speaks again', async () => {
    const user = 'gw-resume';
    const watcher = await fx.client('gw-resume-watch');
    await fx.call('POST', '/v1/me/subscriptions', token('gw-resume-watch'), { userIds: [user] });
    const c = await fx.client(user);
    await watcher.next((m) => m.type === 'presence' && m.data.userId === user && m.data.status === 'online');
    await watcher.next((m) => m.type === 'presence' && m.data.userId === user && m.data.status === 'offline', BOUND_MS + 1000);
    // only a heartbeat (which no function sees): the sweeper finds the connection active again
    beat(c);
    const back = Date.now();
    await watcher.next((m) => m.type === 'presence' && m.data.userId === user && m.data.status === 'online', BOUND_MS + 1000);
    expect(Date.now() - back).toBeLessThan(BOUND_MS);
  });

  it('takes offline, and tells subscribers, a device whose connection is gone', async () => {
    const watcher = await fx.client('gw-watch');
    await fx.call('POST', '/v1/me/subscriptions', token('gw-watch'), { userIds: ['gw-gone'] });
    const c = await fx.client('gw-gone');
    await watcher.next((m) => m.type === 'presence' && m.data.userId === 'gw-gone' && m.data.status === 'online');
    const keepAlive = setInterval(() => beat(c), 500);
    try {
      // API Gateway forgets the connection without a $disconnect (fault injection): GetConnection answers 410
      // GoneException although the client is still sending, so only the sweeper's check can take it offline
      const id = [...fx.stack.gateway.connections.values()].find((k) => k.authorizer.userId === 'gw-gone')?.id as string;
      fx.stack.gateway.connections.delete(id);
      const gone = Date.now();
      await watcher.next((m) => m.type === 'presence' && m.data.userId === 'gw-gone' && m.data.status === 'offline', 10_000);
      expect(Date.now() - gone).toBeLessThan(BOUND_MS);
    } finally {
      clearInterval(keepAlive);
    }
    await eventually(async () => (await fx.call('GET', '/v1/me/presence', token('gw-gone'))).body.status === 'offline');
  });

  it('keeps a device two sockets share online when the one holding it closes: the other, heartbeating only, holds it', async () => {
    const user = 'gw-tabs';
    const a = await fx.client(user, 'web');
    const b = await fx.client(user, 'web');
    const keepAlive = setInterval(() => beat(a), 500);
    try {
      await sleep(300);
      await b.close();
      // past the timeout twice over: only tab A's heartbeats (which no function sees) can have kept the device
      for (const end = Date.now() + 2 * TIMEOUT * 1000 + 1000; Date.now() < end; await sleep(250)) {
        const own = await fx.call('GET', '/v1/me/presence', token(user));
        expect(own.body.status).toBe('online');
      }
    } finally {
      clearInterval(keepAlive);
    }
  });

  it('runs the admin cleanup, liveness wheel included, with the access the template gives it', async () => {
    const res = await fx.call('POST', '/v1/admin/cleanup-presence', token('gw-admin', 'presence:admin'));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['availabilityCleared', 'devicesExpired', 'subscriptionsExpired', 'usersMarkedOffline']);
    // nothing the sweep did was refused (the wheel's lease, buckets and cursor are on the Graph table)
    const refused = (await fx.stack.iamChecks()).filter((c) => c.fn === 'AdminCleanup' && c.decision !== 'allow');
    expect(refused).toEqual([]);
  });
});
