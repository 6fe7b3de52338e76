/**
 * `npm start` as a user runs it: the start script in its own process (no
 * warm-up, no test hooks), with its own ports and data directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { startCommand } from '../../local/start-command.ts';
import { freePort } from './ports.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface Running {
  child: ChildProcess;
  output: () => string;
  ports: { http: number; ws: number; db: number };
  httpUrl: string;
  wsUrl: string;
}

/** Starts the stack and resolves once it printed that it is ready. */
export async function startNpm(opts: { dataDir: string; args?: string[]; env?: Record<string, string> }): Promise<Running> {
  const ports = { http: await freePort(), ws: await freePort(), db: await freePort() };
  const { command, args: argv } = startCommand(opts.args ?? []);
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(ports.http),
      WS_PORT: String(ports.ws),
      DYNAMODB_PORT: String(ports.db),
      PRESENCE_DATA_DIR: opts.dataDir,
      PRESENCE_JWT_SECRET: 'test-secret',
      // the test runner's own settings must not leak into the stack
      PRESENCE_TABLE: '',
      GRAPH_TABLE: '',
      DYNAMODB_ENDPOINT: '',
      AWS_ENDPOINT_URL_DYNAMODB: '',
      LOG_LEVEL: '',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (b) => (out += b));
  child.stderr?.on('data', (b) => (out += b));
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // not left running (its watchdog ends DynamoDB Local with it)
      fail(new Error(`not ready in 90 s:\n${out}`));
    }, 90_000);
    const check = () => {
      if (out.includes('Ctrl-C to stop')) {
        clearTimeout(timer);
        ok();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => fail(new Error(`exited ${code} before ready:\n${out}`)));
  });
  return { child, output: () => out, ports, httpUrl: `http://127.0.0.1:${ports.http}`, wsUrl: `ws://127.0.0.1:${ports.ws}` };
}

/** Stops it with `signal` (SIGTERM: a clean stop; SIGKILL: a crash) and resolves with its exit code. */
export function stopNpm(r: Running, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return Promise.resolve(r.child.exitCode);
  const exited = new Promise<number | null>((ok) => r.child.once('exit', (code) => ok(code)));
  r.child.kill(signal);
  return exited;
}
