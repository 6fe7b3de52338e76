/** Bundles one Lambda entry with the same esbuild settings the stack uses (lib/bundling.ts; the SDK is in the Lambda runtime). */
import { resolve } from 'node:path';
import { type BuildOptions, build } from 'esbuild';
import { BUNDLE_BANNER, BUNDLE_EXTERNALS, BUNDLE_MAIN_FIELDS, BUNDLE_TARGET, tracingDefine } from '../lib/bundling.ts';

export const ROOT = resolve(import.meta.dirname, '..');

/** the stack's settings, tracing off (its default: `-c tracing=on` turns it on for the traced workers) */
export const LAMBDA_BUNDLE: BuildOptions = {
  bundle: true,
  minify: true,
  platform: 'node',
  target: BUNDLE_TARGET,
  mainFields: BUNDLE_MAIN_FIELDS,
  format: 'esm',
  external: BUNDLE_EXTERNALS,
  banner: { js: BUNDLE_BANNER },
  define: tracingDefine(false),
  logLevel: 'error',
};

/** the same, as the stack builds a traced worker with `-c tracing=on` */
export const LAMBDA_BUNDLE_TRACED: BuildOptions = { ...LAMBDA_BUNDLE, define: tracingDefine(true) };

/** Bundles `entry` (relative to the repository) to `outfile`, or in memory; returns the bundle's size in bytes. */
export async function bundleEntry(entry: string, outfile?: string): Promise<number> {
  const out = await build({ ...LAMBDA_BUNDLE, entryPoints: [resolve(ROOT, entry)], ...(outfile ? { outfile } : { write: false }) });
  return outfile ? 0 : (out.outputFiles?.[0]?.contents.byteLength ?? 0);
}
