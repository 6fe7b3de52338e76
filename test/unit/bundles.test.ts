/** Every Lambda bundle (same esbuild settings as the stack) stays under the 300 KB budget. */
import { describe, expect, it } from 'vitest';
import { bundleEntry } from '../../bench/bundle.ts';
import { httpRoutes, workers, wsRoutes } from '../../lib/routes.ts';

const entries = [...httpRoutes, ...wsRoutes, ...Object.values(workers)].map((r) => [r.id, r.entry] as const);

describe('bundle sizes', () => {
  it.each(entries)('%s is at most 300 KB minified', async (_id, entry) => {
    const bytes = await bundleEntry(entry);
    expect(bytes).toBeGreaterThan(1000);
    expect(bytes).toBeLessThanOrEqual(300 * 1024);
  });
});
