/** What every measurement of the benchmark shares: the run's mode, logging, statistics and small async helpers. */
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
export const quick = process.argv.includes('--quick');
export const SECRET = 'bench-secret';
// Node 20 is fine for the benchmark (the stack says the same in bin/local.ts)
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** the p-th percentile (nearest rank) */
export const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
export const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
export const median = (xs: number[]) => pct(xs, 50);

export async function mapLimit<T>(items: T[], limit: number, fn: (x: T, i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i] as T, i);
      }
    }),
  );
}
