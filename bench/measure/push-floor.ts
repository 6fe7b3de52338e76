/**
 * The push floor: CPU per push of the part no design on this architecture
 * avoids. A bare loop (another process) posts the payload the stack pushes
 * through the AWS SDK's PostToConnectionCommand to the local gateway's
 * @connections endpoint, which sends it to the same live WebSocket clients
 * the stack pushes to; the floor is the CPU of the stack's process (the
 * gateway lives there) plus the loop's process over the loop, per message,
 * so it compares with the stack's CPU per delivered push. Beside it, for
 * reference, a bare `ws` server's CPU per message sent.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { BatchGetItemCommand, type BatchGetItemCommandOutput, type KeysAndAttributes } from '@aws-sdk/client-dynamodb';
import { build } from 'esbuild';
import WebSocket from 'ws';
import { config } from '../../functions/commons/config.ts';
import { LAMBDA_BUNDLE } from '../bundle.ts';
import { ROOT, round, sleep } from '../common.ts';
import { cpuBetween, cpuSnapshot, type Pids } from '../proc.ts';
import { pushes, type Stack } from '../stack.ts';

/** The connection ids of these users' live connections, from their state items (`conns` is keyed by connection id). */
export async function connectionIds(stack: Stack, users: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (let at = 0; at < users.length; at += 100) {
    let request: Record<string, KeysAndAttributes> | undefined = {
      Presence: { Keys: users.slice(at, at + 100).map((u) => ({ pk: { S: `USER#${u}` }, sk: { S: 'STATE' } })), ProjectionExpression: 'conns' },
    };
    while (request && Object.keys(request).length > 0) {
      const out: BatchGetItemCommandOutput = await stack.client.send(new BatchGetItemCommand({ RequestItems: request }));
      for (const item of out.Responses?.Presence ?? []) ids.push(...Object.keys(item.conns?.M ?? {}));
      request = out.UnprocessedKeys;
    }
  }
  return ids;
}

/**
 * The child script, compiled once to plain JavaScript (no TypeScript loader in the measured process);
 * the AWS SDK and ws stay external, loaded from node_modules as the stack loads them.
 */
let childScript: Promise<string> | undefined;
function compiledChild(): Promise<string> {
  childScript ??= (async () => {
    const outfile = join(ROOT, 'bench/.bundles/push-floor-child.mjs');
    await build({ ...LAMBDA_BUNDLE, minify: false, entryPoints: [join(ROOT, 'bench/measure/push-floor-child.ts')], outfile, external: ['@aws-sdk/*', 'ws'] });
    return outfile;
  })();
  return childScript;
}

class Child {
  readonly proc: ChildProcess;
  private readonly lines: Interface;
  private readonly queue: string[] = [];
  private waiting: ((l: string) => void) | undefined;
  private readonly dir: string;
  static async start(mode: 'post' | 'ws', cfg: unknown): Promise<Child> {
    return new Child(await compiledChild(), mode, cfg);
  }
  private constructor(script: string, mode: 'post' | 'ws', cfg: unknown) {
    this.dir = mkdtempSync(join(tmpdir(), 'bench-push-floor-'));
    const file = join(this.dir, 'config.json');
    writeFileSync(file, JSON.stringify(cfg));
    this.proc = spawn(process.execPath, [script, mode, file], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    this.lines = createInterface({ input: this.proc.stdout as NodeJS.ReadableStream });
    this.lines.on('line', (l) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(l);
      } else this.queue.push(l);
    });
  }
  next(timeoutMs = 60_000): Promise<string> {
    const l = this.queue.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((ok, fail) => {
      const t = setTimeout(() => fail(new Error('push floor child did not answer')), timeoutMs);
      this.waiting = (line) => {
        clearTimeout(t);
        ok(line);
      };
    });
  }
  go() {
    this.proc.stdin?.write('go\n');
  }
  async done() {
    await new Promise((ok) => (this.proc.exitCode === null ? this.proc.once('exit', ok) : ok(undefined)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Waits until this process's clients have received `n` more pushes than `from` (or a deadline). */
async function delivered(from: number, n: number, deadlineMs = 10_000) {
  const end = performance.now() + deadlineMs;
  while (pushes.received - from < n && performance.now() < end) await sleep(20);
  return pushes.received - from;
}

/** How the steady load pushes: `changesPerSecond` changes a second, each posted to `recipients` connections. */
export interface Pace {
  changesPerSecond: number;
  recipients: number;
  seconds: number;
}

/** The stack's own CPU (µs per ms) with nothing asked of it: its pollers and timers, which are the stack's cost, not the floor's. */
async function idleCpuRate(pids: Pids, ms: number): Promise<number> {
  const before = cpuSnapshot(pids);
  await sleep(ms);
  const cpu = cpuBetween(before, cpuSnapshot(pids));
  return cpu.us.stack / cpu.wallMs;
}

/**
 * CPU µs per push of the bare SDK loop through the local gateway: (gateway's
 * process + loop's process) / messages; the gateway's part is the stack
 * process's CPU over the loop less what that process uses idle in the same
 * time (its stream pollers and timers run meanwhile). Unpaced, every round
 * posts to all connections back to back (as a fan-out to many does); paced,
 * the posts come as the steady load's do (per-push CPU grows as the rate
 * falls: fewer posts share each wake-up, each socket's buffers, each GC).
 */
export async function pushFloor(stack: Stack, pids: Pids, users: string[], payload: string, rounds: number, pace?: Pace) {
  const ids = await connectionIds(stack, users);
  const child = await Child.start('post', {
    endpoint: stack.callbackUrl,
    connectionIds: ids,
    payload,
    rounds,
    concurrency: config.fanoutConcurrency,
    pace,
  });
  try {
    await child.next(); // set up
    const warm = pushes.received;
    if ((await child.next()) !== 'ready') throw new Error('push floor child: expected ready');
    await delivered(warm, ids.length * Math.max(1, Math.ceil(2000 / Math.max(1, ids.length))), 10_000); // the warm-up is received before the measured loop starts
    const idleUsPerMs = await idleCpuRate(pids, 3000);
    const from = pushes.received;
    const before = cpuSnapshot(pids);
    child.go();
    const loop = JSON.parse(await child.next(300_000)) as { messages: number; failed: number; cpuUs: number; wallMs: number };
    const got = await delivered(from, loop.messages);
    const cpu = cpuBetween(before, cpuSnapshot(pids));
    const gatewayUs = Math.max(0, cpu.us.stack - idleUsPerMs * cpu.wallMs);
    return {
      pushCpuUs: round((gatewayUs + loop.cpuUs) / Math.max(1, loop.messages)),
      gatewayCpuUs: round(gatewayUs / Math.max(1, loop.messages)),
      stackIdleCpuPct: round(idleUsPerMs / 10, 2),
      paced: pace ?? null,
      loopCpuUs: round(loop.cpuUs / Math.max(1, loop.messages)),
      jvmCpuUs: round(cpu.us.jvm / Math.max(1, loop.messages)),
      connections: ids.length,
      messages: loop.messages,
      received: got,
      failed: loop.failed,
      concurrency: config.fanoutConcurrency,
      payloadBytes: Buffer.byteLength(payload),
      pushesPerSecond: round((loop.messages * 1000) / loop.wallMs),
      // the loop's own process is not one of the stack's: take it out of the rest of the machine
      othersCpuPct: round(Math.max(0, cpu.pct.others - loop.cpuUs / (cpu.wallMs * 10))),
    };
  } finally {
    child.proc.kill();
    await child.done();
  }
}

/** CPU µs per message of a bare `ws` server sending the payload to `clients` clients of this process (reference only). */
export async function wsSendFloor(clients: number, payload: string, rounds: number) {
  const child = await Child.start('ws', { clients, payload, rounds });
  const sockets: WebSocket[] = [];
  try {
    const { port } = JSON.parse(await child.next()) as { port: number };
    let received = 0;
    for (let i = 0; i < clients; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      ws.on('message', () => received++);
      await new Promise((ok, fail) => {
        ws.once('open', ok);
        ws.once('error', fail);
      });
      sockets.push(ws);
    }
    if ((await child.next()) !== 'ready') throw new Error('ws floor child: expected ready');
    child.go();
    const loop = JSON.parse(await child.next(300_000)) as { messages: number; cpuUs: number; wallMs: number };
    return { wsSendCpuUs: round(loop.cpuUs / Math.max(1, loop.messages), 2), messages: loop.messages, clients, received };
  } finally {
    for (const s of sockets) s.terminate();
    child.proc.kill();
    await child.done();
  }
}
