/**
 * The client SDK against the local stack: typed actions and HTTP calls, push
 * events and the version-aware cache, error replies as exceptions, and
 * reconnects (server drops the connection; the whole stack restarts) with a
 * fresh token and listeners re-established.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { connect, type Presence, type PresenceClient, PresenceError, type WebSocketFactory } from '../../sdk/index.ts';
import { eventually, SECRET, token } from '../support/e2e.ts';
import { freePort } from '../support/ports.ts';

let stack: LocalStack;
let ports: { http: number; ws: number };
const clients: PresenceClient[] = [];
const start = () =>
  startLocalStack({
    httpPort: ports.http,
    wsPort: ports.ws,
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tablePrefix: `sdk_${process.env.TABLE_SUFFIX}_`,
    jwtSecret: SECRET,
  });

function sdk(user: string, tokens?: { count: number }) {
  const c = connect({
    url: stack.wsUrl,
    httpUrl: stack.httpUrl,
    getToken: () => {
      if (tokens) tokens.count++;
      return token(user);
    },
    WebSocket: WebSocket as unknown as WebSocketFactory,
    backoff: { initialMs: 50, maxMs: 500 },
  });
  clients.push(c);
  return c;
}
const nextPresence = (c: PresenceClient, pred: (p: Presence) => boolean) =>
  new Promise<Presence>((resolve) => {
    const off = c.on('presence', (p) => {
      if (pred(p)) {
        off();
        resolve(p);
      }
    });
  });

beforeAll(async () => {
  ports = { http: await freePort(), ws: await freePort() };
  stack = await start();
});
afterAll(async () => {
  for (const c of clients) c.close();
  await stack?.stop();
});

describe('client SDK', () => {
  it('completes a reply cut to fit one WebSocket message: a big group listen and friends listen come back whole', async () => {
    const { addGroupMember, changeFriendship } = await import('../../functions/commons/store.ts');
    const members = Array.from({ length: 951 }, (_, i) => `sdk-member-with-a-longer-user-id-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < members.length; i += 50) await Promise.all(members.slice(i, i + 50).map((m) => addGroupMember('sdk-big', m, Date.now())));
    for (let i = 0; i < members.length; i += 50) await Promise.all(members.slice(i, i + 50).map((m) => changeFriendship('sdk-popular', m, true, () => false)));
    const c = sdk(members[0] as string);
    await c.ready();
    const group = await c.listen({ groupId: 'sdk-big' });
    expect(group.map((p) => p.userId)).toEqual(members);
    expect(c.presence(members[950] as string)).toMatchObject({ status: 'offline' });
    const popular = sdk('sdk-popular');
    await popular.ready();
    expect((await popular.listen({ friends: true })).map((p) => p.userId)).toEqual(members);
  }, 120_000);

  it('subscribes, receives typed pushes and keeps the newest version in its cache', async () => {
    const alice = sdk('sdk-alice');
    const bob = sdk('sdk-bob');
    await Promise.all([alice.ready(), bob.ready()]);
    const sub = await alice.subscribe(['sdk-bob']);
    expect(sub.subscribed[0]?.userId).toBe('sdk-bob');
    const busy = nextPresence(alice, (p) => p.userId === 'sdk-bob' && p.status === 'busy');
    const own = await bob.setPresence({ status: 'busy', customStatus: 'coding' });
    expect(own.visibility).toBe('everyone');
    const pushed = await busy;
    expect(alice.presence('sdk-bob')).toEqual(pushed);
    // a push that is not newer is ignored: no event, cache unchanged
    let events = 0;
    alice.on('presence', () => events++);
    (alice as unknown as { onMessage(raw: string): void }).onMessage(
      JSON.stringify({ type: 'presence', data: { ...pushed, status: 'away', version: pushed.version - 1 } }),
    );
    expect(events).toBe(0);
    expect(alice.presence('sdk-bob')?.status).toBe('busy');
    // HTTP calls are typed too
    expect((await bob.http.me()).customStatus).toBe('coding');
    expect((await alice.http.users(['sdk-bob'])).presence[0]?.status).toBe('busy');
  });

  it('turns error replies into PresenceError', async () => {
    const c = sdk('sdk-err');
    await c.ready();
    await expect(c.getPresence(Array.from({ length: 101 }, (_, i) => `u${i}`))).rejects.toMatchObject({ code: 'bad_request' });
    await expect(c.request('nope')).rejects.toBeInstanceOf(PresenceError);
    // over 32 KB: refused before sending (API Gateway would close the connection on such a frame)
    await expect(c.setPresence({ customStatus: 'x'.repeat(40_000) })).rejects.toMatchObject({ code: 'payload_too_large' });
    expect(await c.getPresence(['someone'])).toHaveLength(1); // still connected
    await expect(c.http.call('GET', '/v1/groups/nobody-group/presence')).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('reconnects with a fresh token after the server drops it and re-establishes listeners', async () => {
    const tokens = { count: 0 };
    const carol = sdk('sdk-carol', tokens);
    await carol.ready();
    await carol.listen({ userIds: ['sdk-dave'] });
    expect(tokens.count).toBe(1);
    const [conn] = [...stack.gateway.connections.values()].filter((c) => c.authorizer.userId === 'sdk-carol');
    const reconnected = new Promise<void>((r) => carol.on('connected', () => r()));
    conn?.socket.terminate(); // as API Gateway does after 2 hours
    await reconnected;
    expect(carol.connects).toBe(2);
    expect(tokens.count).toBe(2);
    const dave = sdk('sdk-dave');
    const heard = nextPresence(carol, (p) => p.userId === 'sdk-dave' && p.status === 'online');
    await dave.ready();
    await heard; // the listener was re-established on the new connection
  });

  it('reconnects after the local stack restarts', async () => {
    const erin = sdk('sdk-erin');
    await erin.ready();
    const before = erin.connects;
    await stack.stop();
    stack = await start();
    await eventually(async () => erin.connected && erin.connects > before, 30_000);
    const reply = await erin.getPresence(['sdk-erin']);
    expect(reply[0]?.status).toBe('online');
  }, 90_000);
});
