/**
 * `npm run smoke -- --http <url> --ws <url> [--token-command '<cmd>'] [--only <text>]`
 *
 * The smoke suite for any endpoint of the presence service (the local stack
 * or a deployed one): fresh user ids each run, one line per check, and last
 * "N passed, M failed"; exits 1 if any check failed (2 on bad arguments).
 *
 * Tokens: with `--token-command`, `<cmd> <user> [scope]` prints each one
 * (a deployed stack: `--token-command 'npm run -s token -- --stack'`);
 * otherwise they are signed here with PRESENCE_JWT_SECRET, the local stack's
 * secret (`npm start`'s documented default is `local-dev-secret`).
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { httpCall, Socket } from './client.ts';
import { type Check, type Ctx, checks } from './scenarios.ts';
import { type Identity, obtainTokens, type TokenSource } from './tokens.ts';

export interface SmokeTarget {
  httpUrl: string;
  wsUrl: string;
}

export interface SmokeResult {
  passed: number;
  failed: number;
}

/** a check that takes longer than this fails (and its cleanup still runs) */
const CHECK_TIMEOUT_MS = 120_000;

export const summaryLine = (r: SmokeResult) => `${r.passed} passed, ${r.failed} failed`;

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');

/** Runs one check with its own sockets and cleanup; resolves with the failure, or undefined when it passed. */
async function runCheck(check: Check, base: Omit<Ctx, 'open' | 'defer'>, target: SmokeTarget): Promise<string | undefined> {
  const undo: (() => Promise<unknown>)[] = [];
  const sockets: Socket[] = [];
  const ctx: Ctx = {
    ...base,
    async open(as, device) {
      const socket = await Socket.open(target.wsUrl, as?.token ?? null, device);
      sockets.push(socket);
      return socket;
    },
    defer: (fn) => void undo.push(fn),
  };
  let failure: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      check.run(ctx),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not done within ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    failure = reason(err);
  } finally {
    clearTimeout(timer);
  }
  // undo what the check set up, even when it failed: sockets first (they may hold listeners), then the rest, last first
  await Promise.all(sockets.map((s) => s.close()));
  for (const fn of undo.reverse()) {
    try {
      await fn();
    } catch (err) {
      failure ??= `passed, but its cleanup failed: ${reason(err)}`;
    }
  }
  return failure;
}

/**
 * Obtains the tokens and runs every check (or those whose name contains
 * `only`), printing one line per check through `print`. The summary line is
 * the caller's to print (last).
 */
export async function runSmoke(target: SmokeTarget, source: TokenSource, opts: { only?: string; print?: (line: string) => void } = {}): Promise<SmokeResult> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const runId = `smoke-${randomBytes(4).toString('hex')}`;
  const from = 'secret' in source ? 'signed with PRESENCE_JWT_SECRET' : `from: ${source.command} <user> [scope]`;
  print(`smoke ${runId}: HTTP ${target.httpUrl}, WebSocket ${target.wsUrl}, tokens ${from}`);
  let who: Awaited<ReturnType<typeof obtainTokens>>;
  try {
    who = await obtainTokens(runId, source);
  } catch (err) {
    print(`FAIL tokens: ${reason(err)}`);
    return { passed: 0, failed: 1 };
  }
  const base = {
    who,
    ids: { iot: `${runId}-iot`, group: `${runId}-group` },
    http: (method: string, path: string, as?: Identity | string, body?: unknown) =>
      httpCall(target.httpUrl, method, path, typeof as === 'string' ? as : as?.token, body),
  };
  const result: SmokeResult = { passed: 0, failed: 0 };
  for (const check of checks.filter((c) => !opts.only || c.name.includes(opts.only))) {
    const started = Date.now();
    const failure = await runCheck(check, base, target);
    const ms = Date.now() - started;
    if (failure === undefined) {
      result.passed++;
      print(`PASS ${check.name} (${ms} ms)`);
    } else {
      result.failed++;
      print(`FAIL ${check.name} (${ms} ms): ${failure}`);
    }
  }
  return result;
}

export const USAGE = "usage: npm run smoke -- --http <url> --ws <url> [--token-command '<cmd>'] [--only <text in a check's name>]";

/** The command line: where to go and where tokens come from (PRESENCE_JWT_SECRET unless --token-command). */
export function parseSmokeArgs(argv: string[], env: NodeJS.ProcessEnv): { target: SmokeTarget; source: TokenSource; only?: string } {
  const { values } = parseArgs({
    args: argv,
    options: { http: { type: 'string' }, ws: { type: 'string' }, 'token-command': { type: 'string' }, only: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  if (!values.http || !values.ws) throw new Error(`--http and --ws are required\n${USAGE}`);
  for (const [name, url, schemes] of [
    ['--http', values.http, ['http:', 'https:']],
    ['--ws', values.ws, ['ws:', 'wss:']],
  ] as const) {
    let protocol = '';
    try {
      protocol = new URL(url).protocol;
    } catch {
      // reported below
    }
    if (!(schemes as readonly string[]).includes(protocol)) throw new Error(`${name} ${url}: expected a ${schemes.join(' or ')} URL\n${USAGE}`);
  }
  const command = values['token-command'];
  const secret = env.PRESENCE_JWT_SECRET;
  let source: TokenSource;
  if (command) source = { command };
  else if (secret) source = { secret };
  else
    throw new Error(
      `no tokens: set PRESENCE_JWT_SECRET to the local stack's secret (npm start's default: local-dev-secret), ` +
        `or pass --token-command '<cmd>' (run as <cmd> <user> [scope]; a deployed stack: 'npm run -s token -- --stack')\n${USAGE}`,
    );
  return { target: { httpUrl: values.http, wsUrl: values.ws }, source, only: values.only };
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parseSmokeArgs>;
  try {
    args = parseSmokeArgs(process.argv.slice(2), process.env);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const result = await runSmoke(args.target, args.source, { only: args.only });
  console.log(summaryLine(result));
  process.exit(result.failed === 0 ? 0 : 1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
