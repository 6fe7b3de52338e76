/**
 * What `npm start` runs, read from package.json, so the benchmark and the
 * npm-start test launch exactly that (one node process: tsx as a loader and
 * the heap limits that keep the stack's memory in budget).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');

export function startCommand(extraArgs: string[] = []): { command: string; args: string[] } {
  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [command, ...args] = pkg.scripts.start.split(/\s+/);
  if (command !== 'node') throw new Error(`the start script should run node directly, not ${command}`);
  return { command: process.execPath, args: [...args, ...extraArgs] };
}
