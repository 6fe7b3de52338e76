/** Every Lambda bundle (same esbuild settings as the stack) stays under the 300 KB budget, and carries no Ajv compiler. */
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { bundleEntry, LAMBDA_BUNDLE, ROOT } from '../../bench/bundle.ts';
import { httpRoutes, workers, wsRoutes } from '../../lib/routes.ts';

const entries = [...httpRoutes, ...wsRoutes, ...Object.values(workers)].map((r) => [r.id, r.entry] as const);

describe('bundle sizes', () => {
  it.each(entries)('%s is at most 300 KB minified', async (_id, entry) => {
    const bytes = await bundleEntry(entry);
    expect(bytes).toBeGreaterThan(1000);
    expect(bytes).toBeLessThanOrEqual(300 * 1024);
  });

  it('no bundle carries an Ajv compiler: the validators are compiled ahead of time (lib/validators.ts), only runtime helpers ship', async () => {
    const out = await build({
      ...LAMBDA_BUNDLE,
      entryPoints: Object.fromEntries(entries.map(([id, entry]) => [id, resolve(ROOT, entry)])),
      outdir: resolve(ROOT, 'bench/.bundles/ajv-check'),
      write: false,
      metafile: true,
    });
    const ajv = Object.keys(out.metafile.inputs).filter((file) => file.includes('node_modules/ajv/'));
    expect(ajv.length).toBeGreaterThan(0); // the runtime helper the generated code imports
    expect(ajv.filter((file) => !file.includes('node_modules/ajv/dist/runtime/'))).toEqual([]);
  });
});
