/**
 * Every Lambda bundle (same esbuild settings as the stack) stays under the
 * 300 KB budget and carries no Ajv compiler. None carries the X-Ray SDK
 * (Powertools Tracer: about 110 KB, parsed at every cold start) unless the
 * stack is deployed with `-c tracing=on`, and then only the traced workers
 * (functions/commons/traced.ts).
 */
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { bundleEntry, LAMBDA_BUNDLE, LAMBDA_BUNDLE_TRACED, ROOT } from '../../bench/bundle.ts';
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

  const carriesXray = async (entry: string, options: typeof LAMBDA_BUNDLE) => {
    const out = await build({ ...options, entryPoints: [resolve(ROOT, entry)], write: false, metafile: true });
    const inputs = Object.keys(out.metafile?.inputs ?? {});
    expect(inputs.some((f) => f.includes('node_modules/@aws-lambda-powertools/metrics/'))).toBe(true);
    return inputs.some((f) => f.includes('node_modules/aws-xray-sdk-core/'));
  };

  it.each(entries)('%s carries no X-Ray SDK as the stack builds it by default (tracing off)', async (_id, entry) => {
    expect(await carriesXray(entry, LAMBDA_BUNDLE)).toBe(false);
  });

  it.each(entries)('%s, built as with -c tracing=on, carries the X-Ray SDK only if it is a traced worker', async (id, entry) => {
    expect(await carriesXray(entry, LAMBDA_BUNDLE_TRACED)).toBe(traced.has(id));
  });
});
