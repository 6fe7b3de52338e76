/** Every Lambda bundle (same esbuild settings as the stack) stays under the 300 KB budget. */
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { httpRoutes, workers, wsRoutes } from '../../lib/routes.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const entries = [...httpRoutes, ...wsRoutes, ...Object.values(workers)].map((r) => [r.id, r.entry] as const);

describe('bundle sizes', () => {
  it.each(entries)('%s is at most 300 KB minified', async (_id, entry) => {
    const out = await build({
      entryPoints: [resolve(ROOT, entry)],
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      external: ['@aws-sdk/*'],
      write: false,
      logLevel: 'error',
    });
    const bytes = out.outputFiles[0]?.contents.byteLength ?? 0;
    expect(bytes).toBeGreaterThan(1000);
    expect(bytes).toBeLessThanOrEqual(300 * 1024);
  });
});
