/** Bundles one Lambda entry with the same esbuild settings the stack uses (the SDK is in the Lambda runtime). */
import { resolve } from 'node:path';
import { type BuildOptions, build } from 'esbuild';

export const ROOT = resolve(import.meta.dirname, '..');

export const LAMBDA_BUNDLE: BuildOptions = {
  bundle: true,
  minify: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  external: ['@aws-sdk/*'],
  banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
  logLevel: 'error',
};

/** Bundles `entry` (relative to the repository) to `outfile`, or in memory; returns the bundle's size in bytes. */
export async function bundleEntry(entry: string, outfile?: string): Promise<number> {
  const out = await build({ ...LAMBDA_BUNDLE, entryPoints: [resolve(ROOT, entry)], ...(outfile ? { outfile } : { write: false }) });
  return outfile ? 0 : (out.outputFiles?.[0]?.contents.byteLength ?? 0);
}
