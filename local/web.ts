/**
 * The live presence page of the local stack (web/index.html and web/app.ts,
 * built on the client SDK), served by the local gateway's HTTP port:
 *   GET  /                      the page
 *   GET  /app.js                web/app.ts bundled for browsers (esbuild, on first request)
 *   GET  /__local/page-config   where the page finds the WebSocket API
 *   POST /__local/token         {"userId"} → a user token signed with the local secret (only with the
 *                               documented dev secret or `pageTokens`, only from loopback pages, only JSON)
 * Local only: on AWS the app hosts its own pages and its identity provider issues tokens.
 */

import { readFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { USER_ID_PATTERN } from '../functions/core/schemas.ts';

const WEB = resolve(import.meta.dirname, '../web');
const USER_ID = new RegExp(USER_ID_PATTERN);
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
/** a client on this machine (IPv4 loopback, possibly IPv4-mapped, or ::1) */
const isLoopbackAddress = (address: string | undefined) => address !== undefined && (/^(::ffff:)?127\./.test(address) || address === '::1');

export interface WebResponse {
  status: number;
  type: string;
  body: string;
}

const json = (status: number, body: unknown): WebResponse => ({ status, type: 'application/json', body: JSON.stringify(body) });

export class LocalWebPage {
  private bundle: Promise<string> | undefined;

  constructor(
    private readonly opts: {
      wsPort: number;
      /** signs a user token (no scopes) with the local stack's secret; undefined: sign-in by user id is off */
      issueToken?: (userId: string) => string;
    },
  ) {}

  /** The response for `method pathname` (from a client at `remoteAddress`), or undefined when the path is not the page's. */
  async serve(
    method: string,
    pathname: string,
    headers: IncomingHttpHeaders,
    readJson: () => Promise<unknown>,
    remoteAddress: string | undefined,
  ): Promise<WebResponse | undefined> {
    if (method === 'GET' && (pathname === '/' || pathname === '/index.html'))
      return { status: 200, type: 'text/html; charset=utf-8', body: await readFile(resolve(WEB, 'index.html'), 'utf8') };
    if (method === 'GET' && pathname === '/app.js') {
      this.bundle ??= build({
        entryPoints: [resolve(WEB, 'app.ts')],
        bundle: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        sourcemap: 'inline',
        write: false,
        logLevel: 'error',
      }).then(
        (out) => out.outputFiles[0]?.text ?? '',
        (err: Error) => {
          this.bundle = undefined; // fix web/app.ts and reload: the next request builds again
          throw err;
        },
      );
      return { status: 200, type: 'text/javascript; charset=utf-8', body: await this.bundle };
    }
    if (method === 'GET' && pathname === '/__local/page-config') return json(200, { wsPort: this.opts.wsPort });
    if (method === 'POST' && pathname === '/__local/token') {
      if (!this.opts.issueToken)
        return json(403, { error: 'forbidden', message: 'This stack runs with its own PRESENCE_JWT_SECRET: paste a token (npm run token)' });
      // only this machine's pages (no DNS rebinding: the Host must be loopback; and, when PRESENCE_LOCAL_HOST opens the
      // stack to the network, only clients on this machine) and only JSON (no form posts from elsewhere)
      const host = (headers.host ?? '').replace(/:\d+$/, '');
      if (!LOOPBACK.has(host) || !isLoopbackAddress(remoteAddress))
        return json(403, { error: 'forbidden', message: 'Tokens are issued to pages on 127.0.0.1 or localhost only' });
      if (!(headers['content-type'] ?? '').startsWith('application/json'))
        return json(400, { error: 'bad_request', message: 'Send {"userId"} as application/json' });
      const body = (await readJson().catch(() => undefined)) as { userId?: unknown } | undefined;
      const userId = body?.userId;
      if (typeof userId !== 'string' || !USER_ID.test(userId)) return json(400, { error: 'bad_request', message: 'userId: 1–64 chars of [A-Za-z0-9_.@:-]' });
      return json(200, { token: this.opts.issueToken(userId) });
    }
    return undefined;
  }
}
