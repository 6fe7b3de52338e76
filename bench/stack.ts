/**
 * The local stack under test, in its own process (exactly the `npm start`
 * command), and the clients the measurements drive it with: HTTP, real
 * WebSocket connections, the stack's metrics endpoint.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import WebSocket from 'ws';
import { signUserToken } from '../functions/core/jwt.ts';
import { startCommand } from '../local/start-command.ts';
import { RETRY_BACKOFF_CAP_MS } from '../local/stream-poller.ts';
import { ROOT, round, SECRET, sleep } from './common.ts';

export const token = (sub: string) => signUserToken(sub, SECRET, { ttlSeconds: 7200 });
export const freePort = () =>
  new Promise<number>((ok) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => ok(typeof a === 'object' && a ? a.port : 0));
    });
  });

export interface Stack {
  child: ChildProcess;
  /** the stack's Node process (the one running bin/local.ts: the gateway, the handlers and the consumer thread) */
  pid: number;
  http: string;
  ws: string;
  /** the @connections endpoint of the local gateway (what the stack gives its functions as WS_CALLBACK_URL) */
  callbackUrl: string;
  dynamodb: string;
  /** a client of the stack's DynamoDB Local (scratch tables, reading connection ids) */
  client: DynamoDBClient;
  stop(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const [http, ws, db] = [await freePort(), await freePort(), await freePort()];
  // BENCH_PROFILE=<dir> writes CPU profiles of the stack's threads (profiling slows it down: not for the figures)
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const verbose = process.env.BENCH_VERBOSE ? ['--verbose'] : [];
  // exactly what `npm start` runs (its heap limits included), plus the profiling flags
  const { command, args } = startCommand(['--in-memory', ...verbose]);
  // BENCH_NODE_FLAGS="--flag …": Node/V8 flags placed after `npm start`'s own (so they win), for experiments (e.g. GC sizes)
  const script = args.findIndex((a) => a.endsWith('.ts') && !a.startsWith('-'));
  if (process.env.BENCH_NODE_FLAGS) args.splice(script, 0, ...process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean));
  const child = spawn(command, [...profile, ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(http),
      WS_PORT: String(ws),
      DYNAMODB_PORT: String(db),
      PRESENCE_JWT_SECRET: SECRET,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (b) => (out += b));
  child.stderr?.on('data', (b) => process.env.BENCH_VERBOSE && process.stderr.write(b));
  for (let i = 0; i < 600 && !out.includes('Ctrl-C'); i++) await sleep(100);
  if (!out.includes('Ctrl-C')) throw new Error(`local stack did not start:\n${out}`);
  const dynamodb = `http://127.0.0.1:${db}`;
  const client = new DynamoDBClient({ endpoint: dynamodb, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  return {
    child,
    pid: child.pid as number,
    http: `http://127.0.0.1:${http}`,
    ws: `ws://127.0.0.1:${ws}`,
    // local/stack.ts: WS_CALLBACK_URL = http://<host>:<wsPort> (the gateway answers @connections on its WebSocket port)
    callbackUrl: `http://127.0.0.1:${ws}`,
    dynamodb,
    client,
    async stop() {
      client.destroy();
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    },
  };
}

/** RSS (MB) of the stack's Node process (the one running bin/local.ts) and, separately, of DynamoDB Local's JVM. */
export function rss(stack: Stack): { nodeMB: number; jvmMB: number } {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,rss=,args=']).toString().trim().split('\n');
  const procs = rows.map((r) => {
    const [pid, ppid, kb, ...args] = r.trim().split(/\s+/);
    return { pid: Number(pid), ppid: Number(ppid), kb: Number(kb), args: args.join(' ') };
  });
  const tree = new Set([stack.pid]);
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of procs)
      if (tree.has(p.ppid) && !tree.has(p.pid)) {
        tree.add(p.pid);
        changed = true;
      }
  }
  let nodeKB = 0;
  let jvmKB = 0;
  for (const p of procs) {
    if (!tree.has(p.pid)) continue;
    const exe = p.args.split(' ')[0] ?? '';
    if (p.args.includes('DynamoDBLocal')) jvmKB += p.kb;
    else if (exe === 'node' || exe.endsWith('/node')) nodeKB += p.kb;
  }
  return { nodeMB: round(nodeKB / 1024), jvmMB: round(jvmKB / 1024) };
}

export async function http(stack: Stack, method: string, path: string, user: string, body?: unknown) {
  const res = await fetch(`${stack.http}${path}`, {
    method,
    headers: { authorization: `Bearer ${token(user)}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return JSON.parse(text);
}

/** The stack's DynamoDB request counters (per function, per operation), read or reset. */
export type M = {
  requests: Record<string, Record<string, number>>;
  capacityUnits: Record<string, Record<string, number>>;
  invocations: Record<string, number>;
};
export const sum = (row: Record<string, number> | undefined) => Object.values(row ?? {}).reduce((a, b) => a + b, 0);
export const metrics = async (stack: Stack, reset = false): Promise<M> =>
  (await (await fetch(`${stack.http}/__local/metrics`, { method: reset ? 'DELETE' : 'GET' })).json()) as M;

/** Every function's requests of one snapshot, per DynamoDB operation. */
export function requestsByOperation(m: M): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of Object.values(m.requests)) for (const [op, n] of Object.entries(row)) out[op] = (out[op] ?? 0) + n;
  return out;
}

export interface Conn {
  ws: WebSocket;
  user: string;
  onPush?: (data: any) => void;
  pending: Map<string, (m: any) => void>;
}

/** presence pushes received by every connection of this process, and the last one as sent (the push floor posts the same bytes) */
export const pushes = { received: 0, lastRaw: '' };

let rid = 0;
/** WebSocket connects the stack refused (a 5xx from $connect under load) and the benchmark tried again */
export const connectRetries = { count: 0 };

/** Connects `user`; a refused connect (the stack overloaded, e.g. on a busy shared machine) is tried again, twice, and counted. */
export async function connectWs(stack: Stack, user: string, device = 'bench'): Promise<Conn> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectOnce(stack, user, device);
    } catch (err) {
      if (attempt >= 3) throw err;
      connectRetries.count++;
      await sleep(500 * attempt);
    }
  }
}

function connectOnce(stack: Stack, user: string, device: string): Promise<Conn> {
  return new Promise((ok, fail) => {
    const ws = new WebSocket(`${stack.ws}/?token=${token(user)}&device=${device}`);
    const conn: Conn = { ws, user, pending: new Map() };
    ws.on('message', (raw) => {
      const text = raw.toString();
      const m = JSON.parse(text);
      if (m.type === 'presence') {
        pushes.received++;
        pushes.lastRaw = text;
        conn.onPush?.(m.data);
      } else if (m.requestId !== undefined) {
        conn.pending.get(m.requestId)?.(m);
        conn.pending.delete(m.requestId);
      }
    });
    ws.once('open', () => ok(conn));
    ws.once('error', fail);
  });
}
export function request(conn: Conn, action: string, fields: Record<string, unknown> = {}): Promise<any> {
  const requestId = `b${++rid}`;
  return new Promise((ok) => {
    conn.pending.set(requestId, ok);
    conn.ws.send(JSON.stringify({ action, requestId, ...fields }));
  });
}
export const close = (c: Conn) =>
  new Promise<void>((ok) => {
    if (c.ws.readyState === WebSocket.CLOSED) ok();
    c.ws.once('close', () => ok());
    c.ws.close();
  });

/** Waits until the stream consumer has caught up (no fan-out requests for a second). */
export async function quiesce(stack: Stack) {
  // quiet = no StreamFanout request for longer than the poller's longest wait before it retries a failed batch:
  // a setup past saturation leaves failed fan-outs (timeouts) waiting for their retry, and a shorter quiet
  // window let those retries land inside the next measurement (the fan-out's CPU per push)
  const quietMs = RETRY_BACKOFF_CAP_MS + 1000;
  let last = -1;
  let quietSince = performance.now();
  // up to 5 minutes: after a phase past saturation the backlog takes minutes to drain, and what is measured next
  // (the DynamoDB Local ceiling, the fan-out's CPU) must not share the machine with it
  for (const end = performance.now() + 300_000; performance.now() < end; ) {
    const now = sum((await metrics(stack)).requests.StreamFanout);
    if (now !== last) quietSince = performance.now();
    else if (performance.now() - quietSince >= quietMs) return;
    last = now;
    await sleep(500);
  }
}
