/**
 * DynamoDB requests (and capacity units) per operation, counted by the
 * stack's own SDK middleware: connect, heartbeats, PATCH, subscribe and batch
 * reads of 100, one change fanned out to 200 live subscribers, disconnect.
 */
import { mapLimit, quick, round, sleep } from '../common.ts';
import { close, connectWs, http, type M, metrics, quiesce, request, type Stack, sum } from '../stack.ts';

export async function perOp(stack: Stack) {
  const N = quick ? 10 : 30;
  const out: Record<string, { requests: number; byOperation: Record<string, number>; capacityUnits: number; [extra: string]: unknown }> = {};
  const record = (name: string, m: M, fn: string, per: number) => {
    out[name] = {
      requests: round(sum(m.requests[fn]) / per, 2),
      byOperation: Object.fromEntries(Object.entries(m.requests[fn] ?? {}).map(([k, v]) => [k, round(v / per, 2)])),
      capacityUnits: round(sum(m.capacityUnits[fn]) / per, 2),
    };
  };
  const users = Array.from({ length: N }, (_, i) => `op-${i}`);
  await metrics(stack, true);
  const conns = await Promise.all(users.map((u) => connectWs(stack, u)));
  await sleep(300);
  let m: M = await metrics(stack);
  record('connect', m, 'WsConnect', N);
  record('wsAuthorizer', m, 'WsAuthorizer', N);

  await metrics(stack, true);
  for (const c of conns) await request(c, 'heartbeat');
  m = await metrics(stack);
  record('heartbeatWs', m, 'WsHeartbeat', N);
  (out.heartbeatWs as Record<string, unknown>).fanoutRequests = sum(m.requests.StreamFanout); // must stay 0

  await metrics(stack, true);
  for (const u of users) await http(stack, 'POST', '/v1/me/heartbeat', u, { device: 'web' });
  await metrics(stack, true); // the first HTTP heartbeat adds the device (a visible change); measure the steady state
  for (const u of users) await http(stack, 'POST', '/v1/me/heartbeat', u, { device: 'web' });
  m = await metrics(stack);
  record('heartbeatHttp', m, 'Heartbeat', N);

  await metrics(stack, true);
  for (const [i, u] of users.entries()) await http(stack, 'PATCH', '/v1/me/presence', u, { customStatus: `s${i}` });
  m = await metrics(stack);
  record('patchPresence', m, 'PatchOwnPresence', N);

  const hundred = Array.from({ length: 100 }, (_, i) => `target-${i}`);
  await metrics(stack, true);
  for (const u of users.slice(0, 5)) await http(stack, 'POST', '/v1/me/subscriptions', u, { userIds: hundred });
  m = await metrics(stack);
  record('subscribe100', m, 'Subscribe', 5);

  await metrics(stack, true);
  for (const u of users.slice(0, 5)) await http(stack, 'GET', `/v1/presence?userIds=${hundred.join(',')}`, u);
  m = await metrics(stack);
  record('batchGet100', m, 'GetPresenceBatch', 5);

  // fan-out: one change of a user watched by N subscribers, each with a live connection
  const R = 200;
  const watchers = Array.from({ length: R }, (_, i) => `fw-${i}`);
  await mapLimit(watchers, 20, async (w) => {
    await http(stack, 'POST', '/v1/me/subscriptions', w, { userIds: ['fan-src'] });
  });
  const wconns = await Promise.all(watchers.map((w) => connectWs(stack, w)));
  let got = 0;
  for (const c of wconns) c.onPush = (d) => d.userId === 'fan-src' && d.customStatus === 'go' && got++;
  await http(stack, 'POST', '/v1/me/heartbeat', 'fan-src', {});
  await quiesce(stack);
  await metrics(stack, true);
  await http(stack, 'PATCH', '/v1/me/presence', 'fan-src', { customStatus: 'go' });
  for (let i = 0; i < 100 && got < R; i++) await sleep(50);
  m = await metrics(stack);
  record('fanoutPerRecipient', m, 'StreamFanout', R);
  Object.assign(out.fanoutPerRecipient as object, {
    totalForOneChange: sum(m.requests.StreamFanout),
    byOperationForOneChange: { ...m.requests.StreamFanout },
    recipients: R,
    delivered: got,
  });

  await metrics(stack, true);
  await Promise.all(conns.map(close));
  await sleep(300);
  m = await metrics(stack);
  record('disconnect', m, 'WsDisconnect', N);
  await Promise.all(wconns.map(close));
  const scanUsed = Object.values(m.requests).some((row) => (row.Scan ?? 0) > 0);
  return { dynamodbRequestsPerOp: out, scanUsed };
}
