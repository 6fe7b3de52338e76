/**
 * Every Lambda bundle (same esbuild settings as the stack) stays under the
 * 300 KB budget, carries no Ajv compiler, and only the traced workers carry
 * the X-Ray SDK (Powertools Tracer: about 115 KB and its load at every cold
 * start; functions/commons/tracing.ts).
 */
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { bundleEntry, LAMBDA_BUNDLE, ROOT } from '../../bench/bundle.ts';
import { facades, httpRoutes, workers, wsRoutes } from '../../lib/routes.ts';

const entries = [...httpRoutes, ...wsRoutes, ...Object.values(workers), ...facades].map((r) => [r.id, r.entry] as const);
const traced = new Set(
  Object.values(workers as Record<string, { id: string; traced?: true }>)
    .filter((w) => w.traced)
    .map((w) => w.id),
);

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

  it.each(entries)('%s carries the X-Ray SDK only if it is traced', async (id, entry) => {
    const out = await build({ ...LAMBDA_BUNDLE, entryPoints: [resolve(ROOT, entry)], write: false, metafile: true });
    const inputs = Object.keys(out.metafile?.inputs ?? {});
    expect(inputs.some((f) => f.includes('node_modules/aws-xray-sdk-core/'))).toBe(traced.has(id));
    expect(inputs.some((f) => f.includes('node_modules/@aws-lambda-powertools/metrics/'))).toBe(true);
  });
});
