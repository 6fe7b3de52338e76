/**
 * `npm run smoke:local [-- --token-command '<cmd>'] [-- --only <text>]`: what CI runs.
 * Starts the local stack exactly as `npm start -- --in-memory` does (the
 * start script of package.json in its own process, local/start-command.ts)
 * on free ports with a secret of its own, waits until it prints "Ctrl-C to
 * stop", runs the smoke suite against it, stops it, and exits with the
 * suite's status. The last line is the suite's "N passed, M failed".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startNpm, stopNpm } from '../test/support/npm-start.ts';
import { runSmoke, type SmokeResult, summaryLine } from './run.ts';

const { values } = parseArgs({ options: { 'token-command': { type: 'string' }, only: { type: 'string' } }, strict: true });

const started = Date.now();
const secret = process.env.PRESENCE_JWT_SECRET || `smoke-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
// --in-memory keeps nothing; the directory only keeps the stack away from a developer's .presence-local
const dataDir = mkdtempSync(join(tmpdir(), 'presence-smoke-'));
let result: SmokeResult = { passed: 0, failed: 1 };
let stackOutput = () => '';
let running: Awaited<ReturnType<typeof startNpm>> | undefined;
// stopped from outside (Ctrl-C, a CI timeout): the stack goes too
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    running?.child.kill('SIGTERM');
    process.exit(1);
  });
try {
  const stack = await startNpm({ dataDir, args: ['--in-memory'], env: { PRESENCE_JWT_SECRET: secret } });
  running = stack;
  stackOutput = stack.output;
  console.log(
    `local stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s (npm start -- --in-memory, HTTP ${stack.httpUrl}, WebSocket ${stack.wsUrl})`,
  );
  const suiteStarted = Date.now();
  try {
    result = await runSmoke({ httpUrl: stack.httpUrl, wsUrl: stack.wsUrl }, values['token-command'] ? { command: values['token-command'] } : { secret }, {
      only: values.only,
    });
  } finally {
    const exit = await stopNpm(stack);
    console.log(`smoke suite took ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s; local stack stopped (exit ${exit})`);
  }
} catch (err) {
  console.log(`FAIL local stack: ${(err as Error).message.split('\n')[0]}`);
  result = { passed: result.passed, failed: Math.max(1, result.failed) };
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
if (result.failed > 0) console.error(`--- local stack output ---\n${stackOutput().trim()}\n---`);
console.log(summaryLine(result));
process.exit(result.failed === 0 ? 0 : 1);
