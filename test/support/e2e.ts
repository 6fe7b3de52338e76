/**
 * End-to-end helpers: the local stack (same handlers, gateway, stream poller
 * and sweeper as `npm start`, on this run's DynamoDB Local) and real
 * WebSocket/HTTP clients.
 */
import { afterAll, beforeAll, inject } from 'vitest';
import WebSocket from 'ws';
import { signUserToken } from '../../functions/core/jwt.ts';
import type { Facade, HeartbeatMode } from '../../lib/routes.ts';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { freePort } from './ports.ts';

export const SECRET = 'test-secret';

export function token(sub: string, scope?: string, ttlSeconds = 3600): string {
  return signUserToken(sub, SECRET, { ttlSeconds, scope });
}

export async function startTestStack(
  opts: {
    presenceTimeoutSeconds?: number;
    sweepIntervalSeconds?: number;
    heartbeat?: HeartbeatMode;
    compat?: readonly Facade[];
    genericBroadcast?: number;
  } = {},
): Promise<LocalStack> {
  return startLocalStack({
    httpPort: await freePort(),
    wsPort: await freePort(),
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tablePrefix: `e2e_${process.env.TABLE_SUFFIX}_`,
    jwtSecret: SECRET,
    pageTokens: true, // the live page's sign-in by user id, with the test secret
    presenceTimeoutSeconds: opts.presenceTimeoutSeconds ?? 120,
    sweepIntervalSeconds: opts.sweepIntervalSeconds ?? 15,
    heartbeat: opts.heartbeat,
    compat: opts.compat,
    genericBroadcast: opts.genericBroadcast,
    // PRESENCE_FROM_ASSEMBLY=cdk.out: the functions run from the bundles `npm run synth` built (.ci/run does this for part of the suite)
    fromAssembly: process.env.PRESENCE_FROM_ASSEMBLY || undefined,
    onLog: (line) => {
      if (process.env.E2E_VERBOSE) console.error(line);
    },
  });
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

export function api(stack: LocalStack) {
  return async <T = any>(method: string, path: string, auth?: string, body?: unknown): Promise<ApiResponse<T>> => {
    const res = await fetch(`${stack.httpUrl}${path}`, {
      method,
      headers: { ...(auth ? { authorization: `Bearer ${auth}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed as T };
  };
}

/** What a compatibility facade answered: the body parsed as JSON when it is JSON, else the text. */
export interface RawReply {
  status: number;
  body: any;
  headers: Headers;
}

/** A request as another API's client sends it (any body text, any headers, a bearer token or none). */
export async function sendRaw(
  baseUrl: string,
  method: string,
  path: string,
  opts: { auth?: string | null; body?: string; headers?: Record<string, string> } = {},
): Promise<RawReply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.auth) headers.authorization = `Bearer ${opts.auth}`;
  if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body: opts.body });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

export interface Client {
  ws: WebSocket;
  messages: any[];
  pushes(): any[];
  /** waits for a message matching `pred` that arrived after `from` (an index into messages) */
  next(pred: (m: any) => boolean, timeoutMs?: number, from?: number): Promise<any>;
  request(action: string, fields?: Record<string, unknown>, timeoutMs?: number): Promise<any>;
  send(raw: string): void;
  close(): Promise<void>;
}

let rid = 0;

/** API Gateway's WebSocket frame quota: a client sends a longer message in several frames (a longer frame closes the connection). */
export const WS_FRAME_BYTES = 32 * 1024;

/** Sends a text message the way API Gateway requires: in frames of at most 32 KB. */
export function sendFramed(ws: WebSocket, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= WS_FRAME_BYTES) {
    ws.send(text);
    return;
  }
  for (let i = 0; i < bytes.length; i += WS_FRAME_BYTES)
    ws.send(bytes.subarray(i, i + WS_FRAME_BYTES), { binary: false, fin: i + WS_FRAME_BYTES >= bytes.length });
}

/** Opens a real WebSocket; rejects with the HTTP status when the handshake is refused. */
export function connect(stack: LocalStack, auth: string | null, device?: string): Promise<Client> {
  const q = new URLSearchParams();
  if (auth !== null) q.set('token', auth);
  if (device) q.set('device', device);
  const ws = new WebSocket(`${stack.wsUrl}/?${q}`);
  const messages: any[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    messages.push(JSON.parse(data.toString()));
    for (const w of waiters) w();
  });
  const client: Client = {
    ws,
    messages,
    pushes: () => messages.filter((m) => m.type === 'presence'),
    next(pred, timeoutMs = 5000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.slice(from).find(pred);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages.slice(from))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async request(action, fields = {}, timeoutMs = 5000) {
      const requestId = `r${++rid}`;
      const from = messages.length;
      sendFramed(ws, JSON.stringify({ action, requestId, ...fields }));
      return client.next((m) => m.requestId === requestId, timeoutMs, from);
    },
    send(raw) {
      sendFramed(ws, raw);
    },
    close() {
      if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
      return new Promise((resolve) => {
        ws.once('close', () => resolve());
        ws.close();
      });
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`handshake refused: ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', (err) => reject(err));
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `fn` returns a truthy value (for state reached asynchronously, e.g. after a fan-out). */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(50);
  }
}

/** Matches a `presence` push about `userId` (optionally with a predicate on the Presence). */
export const isPushOf =
  (userId: string, pred: (d: any) => boolean = () => true) =>
  (m: any) =>
    m.type === 'presence' && m.data.userId === userId && pred(m.data);

/** the versions of `userId` pushed to a client so far, in arrival order */
export const pushedVersions = (client: Client, userId: string): number[] =>
  client
    .pushes()
    .filter(isPushOf(userId))
    .map((m) => m.data.version);

export interface StackFixture {
  /** the running stack (after beforeAll) */
  readonly stack: LocalStack;
  /** HTTP calls against the stack */
  call: ReturnType<typeof api>;
  /** a WebSocket client for `user`, closed after the file */
  client(user: string, device?: string): Promise<Client>;
  /** closes these clients after the file too */
  track(...clients: Client[]): void;
}

/** Starts a local stack for the test file (beforeAll) and stops it and its clients afterwards. */
export function useStack(opts: Parameters<typeof startTestStack>[0] = {}): StackFixture {
  let stack: LocalStack | undefined;
  const open: Client[] = [];
  beforeAll(async () => {
    stack = await startTestStack(opts);
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    await stack?.stop();
  });
  const running = (): LocalStack => {
    if (!stack) throw new Error('the stack starts in beforeAll');
    return stack;
  };
  return {
    get stack() {
      return running();
    },
    call: (method, path, auth, body) => api(running())(method, path, auth, body),
    async client(user, device) {
      const c = await connect(running(), token(user), device);
      open.push(c);
      return c;
    },
    track(...clients) {
      open.push(...clients);
    },
  };
}
