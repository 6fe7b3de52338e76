/**
 * `npm start` as a user runs it (bin/local.ts in its own process): it prints
 * its endpoints when ready, serves HTTP and WebSocket, keeps data across
 * restarts in the data directory, and on SIGTERM stops everything it started
 * (no DynamoDB Local left behind).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { portFree } from '../../local/dynamodb.ts';
import { token } from '../support/e2e.ts';
import { type Running, startNpm, stopNpm } from '../support/npm-start.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'presence-data-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const start = (args: string[] = []) => startNpm({ dataDir, args });
const stop = (r: Running) => stopNpm(r);

describe('npm start', () => {
  it('prints its endpoints, serves both APIs, keeps data, and stops cleanly on SIGTERM', async () => {
    const first = await start();
    expect(first.output()).toContain(`HTTP API       http://127.0.0.1:${first.ports.http}`);
    expect(first.output()).toContain(`WebSocket API  ws://127.0.0.1:${first.ports.ws}`);
    expect(first.output()).toContain(`live page      http://127.0.0.1:${first.ports.http}/`);
    const page = await fetch(`http://127.0.0.1:${first.ports.http}/`);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('<script type="module" src="/app.js">');
    // started with a secret of its own (not the documented dev default): the page gets no tokens by user id
    const minted = await fetch(`http://127.0.0.1:${first.ports.http}/__local/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'anyone' }),
    });
    expect(minted.status).toBe(403);
    const base = `http://127.0.0.1:${first.ports.http}`;
    const auth = { authorization: `Bearer ${token('starter')}`, 'content-type': 'application/json' };
    const patched = await fetch(`${base}/v1/me/presence`, { method: 'PATCH', headers: auth, body: JSON.stringify({ customStatus: 'kept' }) });
    expect(patched.status).toBe(200);
    const ws = new WebSocket(`ws://127.0.0.1:${first.ports.ws}/?token=${token('starter')}`);
    await new Promise((ok, fail) => {
      ws.once('open', ok);
      ws.once('error', fail);
    });
    const closed = new Promise((ok) => ws.once('close', ok));
    expect(await stop(first)).toBe(0);
    await closed; // the stack closed the socket on its way down
    expect(first.output()).toContain('stopped');
    expect(first.output()).not.toMatch(/error|failed|exited with/i); // a clean stop says nothing alarming
    expect(await portFree(first.ports.db)).toBe(true); // DynamoDB Local is gone
    expect(await portFree(first.ports.http)).toBe(true);

    const second = await start();
    const own = await fetch(`http://127.0.0.1:${second.ports.http}/v1/me/presence`, { headers: auth });
    expect(await own.json()).toMatchObject({ userId: 'starter', customStatus: 'kept' });
    expect(await stop(second)).toBe(0);
  }, 120_000);

  it('--in-memory keeps nothing', async () => {
    const r = await start(['--in-memory']);
    expect(r.output()).toContain('(in memory)');
    const own = await fetch(`http://127.0.0.1:${r.ports.http}/v1/me/presence`, { headers: { authorization: `Bearer ${token('starter')}` } });
    expect(await own.json()).toMatchObject({ userId: 'starter', customStatus: null, version: 0 });
    expect(await stop(r)).toBe(0);
  }, 120_000);
});
