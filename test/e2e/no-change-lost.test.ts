/**
 * No change is lost at start-up, across a stop or across a crash, with the
 * stack started exactly as `npm start` starts it (its own process, a fresh
 * data directory, no warm-up):
 * - a change made as soon as the stack says it is ready is pushed;
 * - changes the consumer has not fanned out when the process is SIGKILLed are
 *   fanned out by the next start (it resumes from the checkpoint it keeps in
 *   the data directory), each newest state once, in order, and nothing that
 *   was already fanned out is fanned out again.
 * What was fanned out is read from the stream consumer's own `fanout` log
 * lines (userId, version, recipients, posted, gone): after a crash the
 * recipients' sockets are gone with the process, so no client could receive
 * those pushes, but the fan-out must still happen for connections opened
 * since.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DynamoDbLocal, portFree } from '../../local/dynamodb.ts';
import { token } from '../support/e2e.ts';
import { type Running, startNpm, stopNpm } from '../support/npm-start.ts';
import { freePort } from '../support/ports.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
const freshDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'presence-nolost-'));
  dirs.push(d);
  return d;
};
const running: Running[] = [];
afterAll(async () => {
  await Promise.all(running.map((r) => stopNpm(r, 'SIGKILL')));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const start = async (dataDir: string) => {
  const r = await startNpm({ dataDir, env: { LOG_LEVEL: 'info' } });
  running.push(r);
  return r;
};

/** A socket of `user` and what it received. */
async function socket(r: Running, user: string, device: string) {
  const ws = new WebSocket(`${r.wsUrl}/?token=${token(user)}&device=${device}`);
  const messages: any[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(String(d))));
  await new Promise((ok, fail) => {
    ws.once('open', ok);
    ws.once('error', fail);
  });
  return { ws, messages };
}

const http = (r: Running, method: string, path: string, user: string, body?: unknown) =>
  fetch(`${r.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token(user)}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** The versions of `userId` the stream consumer fanned out, in the order it logged them. */
const fanouts = (r: Running, userId: string): number[] =>
  r
    .output()
    .split('\n')
    .flatMap((line) => {
      try {
        const e = JSON.parse(line);
        return e.message === 'fanout' && e.userId === userId ? [e.version as number] : [];
      } catch {
        return [];
      }
    });

async function until(check: () => boolean, what: () => string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not reached in ${ms} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const killed = async (r: Running) => {
  await stopNpm(r, 'SIGKILL');
  // the watchdog ends DynamoDB Local once its Node process is gone
  for (let i = 0; i < 200 && !(await portFree(r.ports.db)); i++) await new Promise((ok) => setTimeout(ok, 50));
};

describe('no change is lost', () => {
  it('pushes a change made as soon as the stack says it is ready (fresh data directory, no warm-up)', async () => {
    const r = await start(freshDir());
    const alice = await socket(r, 'alice', 'phone');
    expect((await http(r, 'POST', '/v1/me/subscriptions', 'alice', { userIds: ['bob'] })).status).toBe(200);
    const bob = await socket(r, 'bob', 'laptop');
    await until(
      () => alice.messages.some((m) => m.type === 'presence' && m.data.userId === 'bob' && m.data.status === 'online'),
      () => JSON.stringify(alice.messages) + r.output(),
    );
    alice.ws.close();
    bob.ws.close();
    expect(await stopNpm(r)).toBe(0);
  }, 150_000);

  it('fans out after a SIGKILL what the consumer had not fanned out, from its checkpoint, once each and in order', async () => {
    const dataDir = freshDir();
    const first = await start(dataDir);
    const alice = await socket(first, 'alice', 'phone');
    expect((await http(first, 'POST', '/v1/me/subscriptions', 'alice', { userIds: ['bob', 'carol'] })).status).toBe(200);
    expect((await http(first, 'PATCH', '/v1/me/presence', 'bob', { customStatus: 'one' })).status).toBe(200);
    await until(
      () => alice.messages.some((m) => m.type === 'presence' && m.data.customStatus === 'one'),
      () => first.output(),
    );
    await until(
      () => fanouts(first, 'bob').length === 1,
      () => first.output(),
    );
    await killed(first);

    // changes written and never seen by a consumer: in the table and its stream only
    const db = new DynamoDbLocal({ port: await freePort(), dataDir });
    await db.start();
    try {
      execFileSync(
        process.execPath,
        [
          '--import',
          'tsx',
          'test/support/offline-write.ts',
          JSON.stringify([
            ['bob', { customStatus: 'two' }],
            ['carol', { customStatus: 'first' }],
            ['bob', { customStatus: 'three' }],
          ]),
        ],
        {
          cwd: ROOT,
          env: { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: db.endpoint, PRESENCE_TABLE: 'Presence', GRAPH_TABLE: 'Graph', LOG_LEVEL: 'silent' },
        },
      );
    } finally {
      await db.stop();
    }

    const second = await start(dataDir);
    // the newest state of each user is fanned out once; a coalesced batch may skip bob's version 2
    await until(
      () => fanouts(second, 'bob').includes(3) && fanouts(second, 'carol').includes(1),
      () => second.output(),
    );
    // the last change is made and the process killed at once: fanned out by this run or the next, never twice
    const alice2 = await socket(second, 'alice', 'phone');
    expect((await http(second, 'PATCH', '/v1/me/presence', 'bob', { customStatus: 'four' })).status).toBe(200);
    await killed(second);
    const third = await start(dataDir);
    await until(
      () => [...fanouts(second, 'bob'), ...fanouts(third, 'bob')].includes(4),
      () => second.output() + third.output(),
    );
    await new Promise((ok) => setTimeout(ok, 500));
    alice2.ws.terminate();

    expect(fanouts(first, 'bob')).toEqual([1]);
    const bobs = [...fanouts(second, 'bob'), ...fanouts(third, 'bob')];
    expect(bobs.at(-1)).toBe(4);
    expect(bobs).toEqual([...new Set(bobs)].sort((a, b) => a - b)); // once each, in order
    expect(bobs.every((v) => v >= 2)).toBe(true); // what the first run fanned out is not fanned out again
    expect([...fanouts(second, 'carol'), ...fanouts(third, 'carol')]).toEqual([1]);
    expect(await stopNpm(third)).toBe(0);
  }, 240_000);
});
