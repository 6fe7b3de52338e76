/**
 * The Agora Chat SDK facade (sdk/agora.ts) against the local stack, over real
 * WebSocket connections: the presence snippets of Agora's Web SDK page run
 * against our `conn`, results and the onPresenceStatusChange payload come in
 * Agora's shapes, subscriptions page by pageNum/pageSize, and bad options are
 * refused with a rejected promise saying what is wrong.
 *
 * The snippets are copied from Agora's page ("Presence", Agora Chat Web SDK)
 * with its three typos fixed and nothing else changed: `onPresenceStatusChange: => (msg) {`
 * (not JavaScript) is an arrow function, the full-width comma in its
 * console.log is a comma, and `payload` (never declared: the snippets declare
 * `option`) is `option`. `console.log` is the test's own recorder below, so
 * what the snippets log is what the assertions read; `await` is put before
 * the calls that the test waits for, and the formatter writes the snippets'
 * `let option` as `const option`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import AgoraChat, { AgoraPresenceConnection, AgoraPresenceError, type PresenceType } from '../../sdk/agora.ts';
import type { WebSocketFactory } from '../../sdk/index.ts';
import { token, useStack } from '../support/e2e.ts';

const fx = useStack();
const opened: AgoraPresenceConnection[] = [];
afterAll(() => {
  for (const c of opened) c.close();
});

const WEEK = 7 * 24 * 3600;

/** What a migrating app changes: how `conn` is made and opened. */
async function login(user: string, deviceId?: string): Promise<AgoraPresenceConnection> {
  const conn = new AgoraChat.connection({
    appKey: 'org#app', // Agora's, accepted and unused
    url: fx.stack.wsUrl,
    apiUrl: fx.stack.httpUrl,
    deviceId,
    WebSocket: WebSocket as unknown as WebSocketFactory,
  });
  opened.push(conn);
  await conn.open({ user, accessToken: token(user) });
  return conn;
}

/** a console whose log records what it is given */
function recorder() {
  const logged: unknown[][] = [];
  return { logged, console: { log: (...args: unknown[]) => logged.push(args) } };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('Agora Chat SDK facade', () => {
  it("runs the document's snippets: subscribe, publish, listen, status, list, unsubscribe", async () => {
    const carol = await login('Carol');
    const bob = await login('Bob', 'laptop');
    const bobDevice = 'webim_laptop';
    const { logged, console } = recorder();
    const WebIM = { conn: carol };
    const before = nowSeconds();

    {
      const conn = carol;
      // ---- Subscribe to the presence status of one or more users
      const option = {
        usernames: ['Alice', 'Bob'],
        expiry: 7 * 24 * 3600,
      };
      await conn.subscribePresence(option).then((res) => {
        console.log(res);
      });
    }
    const subscribed = logged.pop()?.[0] as any;
    expect(subscribed).toEqual({
      type: 0,
      data: {
        result: [
          { uid: 'Alice', last_time: 0, expiry: expect.any(Number), ext: '', status: {} },
          { uid: 'Bob', last_time: expect.any(Number), expiry: expect.any(Number), ext: '', status: { [bobDevice]: '1' } },
        ],
      },
    });
    const bobExpiry = subscribed.data.result[1].expiry;
    expect(bobExpiry).toBeGreaterThanOrEqual(before + WEEK);
    expect(bobExpiry).toBeLessThanOrEqual(nowSeconds() + WEEK);
    expect(subscribed.data.result[1].last_time).toBeGreaterThanOrEqual(before - 1);

    // ---- Listen for presence status updates
    WebIM.conn.addEventHandler('MESSAGES', {
      // Occurs when the presence statuses of the subscriptions update.
      onPresenceStatusChange: (msg) => {
        // You can implement subsequent settings in this callback.
        console.log('status updates', msg);
      },
    });
    const bobHeard: PresenceType[][] = [];
    bob.addEventHandler('own', { onPresenceStatusChange: (msg) => bobHeard.push(msg) });

    {
      const conn = bob;
      // ---- Publish a custom presence status
      const option = {
        description: 'custom presence',
      };
      await conn.publishPresence(option).then((res) => {
        console.log(res);
      });
    }
    expect(logged.pop()).toEqual([{ type: 0, data: { result: 'ok' } }]);
    // the publisher's own handlers hear the change too
    expect(bobHeard).toEqual([
      [{ userId: 'Bob', statusDetails: [{ device: bobDevice, status: 1 }], ext: 'custom presence', lastTime: expect.any(Number), expire: 0 }],
    ]);

    // the subscriber's handler: an array of presence objects in Agora's shape
    const update = (pred: (p: PresenceType) => boolean) =>
      expect.poll(() => logged.find(([what, msg]) => what === 'status updates' && (msg as PresenceType[]).some(pred))).toBeDefined();
    await update((p) => p.userId === 'Bob' && p.ext === 'custom presence');
    const [, msg] = logged.find(([what]) => what === 'status updates') as [string, PresenceType[]];
    expect(msg).toEqual([
      { userId: 'Bob', statusDetails: [{ device: bobDevice, status: 1 }], ext: 'custom presence', lastTime: expect.any(Number), expire: bobExpiry },
    ]);
    logged.length = 0;

    {
      const conn = carol;
      // ---- Retrieve the presence status of one or more users
      const option = {
        usernames: ['Alice', 'Bob'],
      };
      await conn.getPresenceStatus(option).then((res) => {
        console.log(res);
      });
    }
    expect(logged.pop()).toEqual([
      {
        type: 0,
        data: {
          result: [
            { uid: 'Alice', last_time: 0, ext: '', status: {} },
            { uid: 'Bob', last_time: expect.any(Number), ext: 'custom presence', status: { [bobDevice]: '1' } },
          ],
        },
      },
    ]);

    {
      const conn = carol;
      // ---- Retrieve the list of subscriptions
      const option = {
        pageNum: 0,
        pageSize: 50,
      };
      await conn.getSubscribedPresenceList(option).then((res) => {
        console.log(res);
      });
    }
    expect(logged.pop()).toEqual([
      {
        type: 0,
        data: {
          result: {
            totalnum: 2,
            sublist: [
              { uid: 'Alice', expiry: subscribed.data.result[0].expiry },
              { uid: 'Bob', expiry: bobExpiry },
            ],
          },
        },
      },
    ]);

    // Bob's device goes: the subscriber hears it as offline ("0" / 0), as Agora reports a logged-out resource
    bob.close();
    await update((p) => p.userId === 'Bob' && p.statusDetails.every((d) => d.status === 0));
    const gone = await carol.getPresenceStatus({ usernames: ['Bob'] });
    expect(gone.data.result[0]).toMatchObject({ uid: 'Bob', ext: 'custom presence', status: { [bobDevice]: '0' } });

    {
      const conn = carol;
      // ---- Unsubscribe from the presence status of one or more users
      const option = {
        usernames: ['Alice', 'Bob'],
      };
      await conn.unsubscribePresence(option).then((res) => {
        console.log(res);
      });
    }
    expect(logged.pop()).toEqual([{ type: 0, data: { result: 'ok' } }]);
    expect((await carol.getSubscribedPresenceList({ pageNum: 1, pageSize: 50 })).data.result).toEqual({ totalnum: 0, sublist: [] });

    // removeEventHandler: the handler is gone (a local effect: the next push is not delivered to it)
    WebIM.conn.removeEventHandler('MESSAGES');
    expect((WebIM.conn as unknown as { handlers: Map<string, unknown> }).handlers.size).toBe(0);
  });

  it('pages the subscriptions by pageNum (0 and 1 both the first page) and pageSize, with the total', async () => {
    const pat = await login('Pat');
    const users = ['pg-a', 'pg-b', 'pg-c', 'pg-d', 'pg-e', 'pg-f', 'pg-g'];
    const sub = await pat.subscribePresence({ usernames: [...users].reverse(), expiry: 3600 });
    expect(sub.data.result.map((r) => r.uid)).toEqual([...users].reverse());
    expect(sub.data.result.every((r) => r.status && Object.keys(r.status).length === 0 && r.last_time === 0)).toBe(true);
    const page = async (pageNum: number) => (await pat.getSubscribedPresenceList({ pageNum, pageSize: 3 })).data.result;
    expect((await page(0)).sublist.map((s) => s.uid)).toEqual(['pg-a', 'pg-b', 'pg-c']);
    expect(await page(1)).toEqual(await page(0));
    expect(await page(2)).toMatchObject({ totalnum: 7, sublist: [{ uid: 'pg-d' }, { uid: 'pg-e' }, { uid: 'pg-f' }] });
    expect(await page(3)).toMatchObject({ totalnum: 7, sublist: [{ uid: 'pg-g' }] });
    expect(await page(4)).toEqual({ totalnum: 7, sublist: [] });
    // duplicates are sent once
    const again = await pat.getPresenceStatus({ usernames: ['pg-a', 'pg-a', 'pg-b'] });
    expect(again.data.result.map((r) => r.uid)).toEqual(['pg-a', 'pg-b']);
  });

  it('refuses bad options with a rejected promise and a clear error, changing nothing and keeping the connection', async () => {
    const quinn = await login('Quinn');
    const refused = async (p: Promise<unknown>) => {
      const err = await p.then(
        () => {
          throw new Error('resolved, expected a rejection');
        },
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AgoraPresenceError);
      return err as AgoraPresenceError;
    };
    const many = Array.from({ length: 101 }, (_, i) => `u${i}`);
    expect(await refused(quinn.subscribePresence({ usernames: many, expiry: 60 }))).toMatchObject({
      type: 1100,
      code: 'param',
      message: 'subscribePresence: at most 100 usernames per call, got 101',
    });
    expect(await refused(quinn.subscribePresence({ usernames: ['Bob'] } as never))).toMatchObject({
      type: -3,
      message: 'subscribePresence: expiry must be an integer from 1 to 2592000 (the subscription duration in seconds, at most 30 days), got nothing',
    });
    expect((await refused(quinn.subscribePresence({ usernames: ['Bob'], expiry: 30 * 24 * 3600 + 1 }))).message).toMatch(
      /expiry must be an integer from 1 to 2592000/,
    );
    expect((await refused(quinn.subscribePresence({ usernames: ['Bob'], expiry: 1.5 }))).message).toMatch(/expiry must be an integer/);
    expect((await refused(quinn.unsubscribePresence({ usernames: many }))).type).toBe(1100);
    expect((await refused(quinn.getPresenceStatus({ usernames: [] }))).message).toBe('getPresenceStatus: usernames must be a non-empty array of user IDs');
    expect((await refused(quinn.getPresenceStatus({ usernames: ['ok', 7] } as never))).message).toBe(
      'getPresenceStatus: usernames[1] must be a non-empty string',
    );
    expect((await refused(quinn.getPresenceStatus('Bob' as never))).message).toBe('getPresenceStatus: options must be an object, got string');
    expect((await refused(quinn.getSubscribedPresenceList({ pageNum: 0, pageSize: 501 }))).message).toMatch(/pageSize must be an integer from 1 to 500/);
    expect((await refused(quinn.getSubscribedPresenceList({ pageNum: -1, pageSize: 5 }))).message).toMatch(/pageNum must be an integer from 0/);
    expect((await refused(quinn.publishPresence({ description: 42 } as never))).message).toBe('publishPresence: description must be a string, got number');
    // what the service refuses comes back the same way, with its message
    expect(await refused(quinn.getPresenceStatus({ usernames: ['no#hash'] }))).toMatchObject({ type: -3, code: 'bad_request' });
    expect(await refused(quinn.publishPresence({ description: 'x'.repeat(65) }))).toMatchObject({ type: -3, code: 'bad_request' });
    // Agora's error callback gets the same error; success gets the result
    const errors: AgoraPresenceError[] = [];
    await refused(quinn.getPresenceStatus({ usernames: [], error: (e) => errors.push(e) }));
    expect(errors.map((e) => e.type)).toEqual([-3]);
    const successes: unknown[] = [];
    await quinn.getPresenceStatus({ usernames: ['Quinn'], success: (r) => successes.push(r) });
    expect(successes).toMatchObject([{ type: 0, data: { result: [{ uid: 'Quinn', ext: '' }] } }]);
    // nothing changed, and the connection is still up
    expect(quinn.isOpened()).toBe(true);
    expect((await quinn.getSubscribedPresenceList({ pageNum: 1, pageSize: 10 })).data.result.totalnum).toBe(0);
    expect((await quinn.getPresenceStatus({ usernames: ['Quinn'] })).data.result[0]?.ext).toBe('');
  });

  it('refuses calls before open() and an open() with a token of another user or a bad token', async () => {
    const conn = new AgoraPresenceConnection({ url: fx.stack.wsUrl, WebSocket: WebSocket as unknown as WebSocketFactory, backoff: { initialMs: 10_000 } });
    await expect(conn.getPresenceStatus({ usernames: ['Bob'] })).rejects.toMatchObject({ type: 16, message: 'getPresenceStatus: not open: call open() first' });
    await expect(conn.open({ user: 'Mallory', accessToken: token('Bob') })).rejects.toMatchObject({
      type: 2,
      message: "open: user 'Mallory' is not the token's user 'Bob'",
    });
    await expect(conn.open({ user: 'Bob', pwd: 'secret' })).rejects.toMatchObject({ type: -3, message: /password login is not supported/ });
    await expect(conn.open({ accessToken: 'not-a-token' })).rejects.toMatchObject({ type: 1, message: /refused the connection/ });
    expect(conn.isOpened()).toBe(false);
    const noToken = new AgoraPresenceConnection({
      url: fx.stack.wsUrl,
      WebSocket: WebSocket as unknown as WebSocketFactory,
      backoff: { initialMs: 10_000 },
      getToken: () => {
        throw new Error('no token today');
      },
    });
    await expect(noToken.open()).rejects.toMatchObject({ type: 1, message: /no token today/ });
    expect(() => new AgoraPresenceConnection({} as never)).toThrow(/options.url/);
  });
});
