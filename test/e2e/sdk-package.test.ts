/**
 * The SDK as its own package: `npm run build:sdk` and `npm pack` give a
 * tarball that installs into an empty project; plain Node (no TypeScript
 * loader) imports it by its package name and gets a push from the local
 * stack through it, and its Agora Chat SDK facade (`/agora`) hears a
 * publish; its type declarations type-check a consumer under NodeNext
 * resolution and reject a wrong use.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { token, useStack } from '../support/e2e.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const fx = useStack();
const work = mkdtempSync(join(tmpdir(), 'sdk-package-'));
const app = join(work, 'app');
const run = promisify(execFile);
const npm = (args: string[], cwd: string) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, stdio: 'pipe' }).toString();

beforeAll(() => {
  execFileSync(process.execPath, ['--import', 'tsx', 'sdk/build.ts'], { cwd: ROOT, stdio: 'pipe' });
  npm(['pack', '--pack-destination', work], join(ROOT, 'sdk'));
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz')) as string;
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  npm(['install', '--offline', join(work, tarball)], app);
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('SDK package', () => {
  it('installs from its tarball and, in plain Node, receives a push from the local stack', async () => {
    writeFileSync(
      join(app, 'watch.mjs'),
      `import { connect } from '@presence-backend/client';
const { default: WebSocket } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'node_modules/ws/wrapper.mjs')).href)});
const { WS_URL, HTTP_URL, TOKEN_A, TOKEN_B } = process.env;
const a = connect({ url: WS_URL, httpUrl: HTTP_URL, token: TOKEN_A, WebSocket });
await a.ready();
await a.subscribe(['pkg-b']);
const pushed = new Promise((ok) => a.on('presence', (p) => p.customStatus === 'from the package' && ok(p)));
await fetch(HTTP_URL + '/v1/me/presence', { method: 'PATCH', headers: { authorization: 'Bearer ' + TOKEN_B, 'content-type': 'application/json' }, body: JSON.stringify({ customStatus: 'from the package' }) });
const p = await Promise.race([pushed, new Promise((_, no) => setTimeout(() => no(new Error('no push in 5 s')), 5000))]);
console.log(JSON.stringify({ userId: p.userId, customStatus: p.customStatus, cached: a.presence('pkg-b')?.version === p.version }));
a.close();
`,
    );
    // asynchronously: the local stack answering it runs in this very process
    const { stdout: out } = await run(process.execPath, ['watch.mjs'], {
      cwd: app,
      env: { ...process.env, WS_URL: fx.stack.wsUrl, HTTP_URL: fx.stack.httpUrl, TOKEN_A: token('pkg-a'), TOKEN_B: token('pkg-b'), NODE_OPTIONS: '' },
      timeout: 20_000,
    });
    expect(JSON.parse(out.trim().split('\n').pop() as string)).toEqual({ userId: 'pkg-b', customStatus: 'from the package', cached: true });
  });

  it('exports the Agora Chat SDK facade as @presence-backend/client/agora: in plain Node, a subscriber hears a publish', async () => {
    writeFileSync(
      join(app, 'agora.mjs'),
      `import AgoraChat from '@presence-backend/client/agora';
const { default: WebSocket } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'node_modules/ws/wrapper.mjs')).href)});
const { WS_URL, HTTP_URL, TOKEN_A, TOKEN_B } = process.env;
const open = async (user, accessToken) => {
  const conn = new AgoraChat.connection({ appKey: 'org#app', url: WS_URL, apiUrl: HTTP_URL, deviceId: user, WebSocket });
  await conn.open({ user, accessToken });
  return conn;
};
const a = await open('pkg-agora-a', TOKEN_A);
const b = await open('pkg-agora-b', TOKEN_B);
const heard = new Promise((ok) => a.addEventHandler('MESSAGES', { onPresenceStatusChange: (msg) => msg[0].ext === 'from the package' && ok(msg) }));
const sub = await a.subscribePresence({ usernames: ['pkg-agora-b'], expiry: 3600 });
await b.publishPresence({ description: 'from the package' });
const msg = await Promise.race([heard, new Promise((_, no) => setTimeout(() => no(new Error('no callback in 5 s')), 5000))]);
const list = await a.getSubscribedPresenceList({ pageNum: 0, pageSize: 50 });
const refused = await a.getPresenceStatus({ usernames: [] }).catch((e) => [e.name, e.type]);
console.log(JSON.stringify({ status: sub.data.result[0].status, msg, total: list.data.result.totalnum, refused }));
a.close();
b.close();
`,
    );
    const { stdout: out } = await run(process.execPath, ['agora.mjs'], {
      cwd: app,
      env: {
        ...process.env,
        WS_URL: fx.stack.wsUrl,
        HTTP_URL: fx.stack.httpUrl,
        TOKEN_A: token('pkg-agora-a'),
        TOKEN_B: token('pkg-agora-b'),
        NODE_OPTIONS: '',
      },
      timeout: 20_000,
    });
    const got = JSON.parse(out.trim().split('\n').pop() as string);
    expect(got).toEqual({
      status: { 'webim_pkg-agora-b': '1' },
      msg: [
        {
          userId: 'pkg-agora-b',
          statusDetails: [{ device: 'webim_pkg-agora-b', status: 1 }],
          ext: 'from the package',
          lastTime: expect.any(Number),
          expire: expect.any(Number),
        },
      ],
      total: 1,
      refused: ['AgoraPresenceError', -3],
    });
  });

  it('ships type declarations that check a consumer and reject a wrong use', () => {
    // one compiler run per verdict: each run takes seconds
    const tsc = (...files: string[]) => {
      try {
        execFileSync(
          process.execPath,
          [
            join(ROOT, 'node_modules/typescript/bin/tsc'),
            '--noEmit',
            '--strict',
            '--module',
            'nodenext',
            '--moduleResolution',
            'nodenext',
            '--lib',
            'es2023,dom',
            ...files,
          ],
          { cwd: app, stdio: 'pipe' },
        );
        return '';
      } catch (err) {
        return (err as { stdout: Buffer }).stdout.toString();
      }
    };
    writeFileSync(
      join(app, 'good.ts'),
      `import { connect, type Presence, PresenceError } from '@presence-backend/client';
const c = connect({ url: 'ws://127.0.0.1:3001', token: 't', device: 'web' });
c.on('presence', (p: Presence) => p.status.toUpperCase());
export const own = c.setPresence({ status: 'busy', customStatus: 'x', visibility: 'friends' });
export const e: Error = new PresenceError('forbidden', 'no');
`,
    );
    writeFileSync(
      join(app, 'good-agora.ts'),
      `import AgoraChat, { type AgoraPresenceError, type PresenceType } from '@presence-backend/client/agora';
const conn = new AgoraChat.connection({ appKey: 'org#app', url: 'ws://127.0.0.1:3001', apiUrl: 'http://127.0.0.1:3000' });
conn.addEventHandler('MESSAGES', { onPresenceStatusChange: (msg: PresenceType[]) => msg[0]?.statusDetails[0]?.status.toFixed() });
export const sub = conn.subscribePresence({ usernames: ['Alice', 'Bob'], expiry: 7 * 24 * 3600 }).then((res) => res.data.result[0]?.status['web']);
export const list = conn.getSubscribedPresenceList({ pageNum: 0, pageSize: 50 }).then((res) => res.data.result.sublist[0]?.expiry.toFixed());
export const failed = (e: AgoraPresenceError): number => e.type;
`,
    );
    writeFileSync(
      join(app, 'bad-agora.ts'),
      `import AgoraChat from '@presence-backend/client/agora';
export const sub = new AgoraChat.connection({ url: 'x' }).subscribePresence({ usernames: 'Alice', expiry: 60 });
`,
    );
    writeFileSync(
      join(app, 'bad.ts'),
      `import { connect } from '@presence-backend/client';
export const own = connect({ url: 'x', token: 't' }).setPresence({ visibility: 'strangers' });
`,
    );
    expect(tsc('good.ts', 'good-agora.ts')).toBe('');
    const bad = tsc('bad.ts', 'bad-agora.ts');
    expect(bad).toMatch(/^bad\.ts.*error TS2322/m);
    expect(bad).toMatch(/^bad-agora\.ts.*error TS2322/m);
  }, 60_000);
});
