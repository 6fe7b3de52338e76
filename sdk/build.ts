/**
 * `npm run build:sdk`: builds the SDK as its own package in sdk/dist —
 * ESM for Node and browsers (esbuild; nothing of the server is bundled: the
 * SDK only imports its types) and its type declarations (tsc). Two entry
 * points, `.` (index.ts) and `./agora` (agora.ts, the Agora Chat SDK facade),
 * share one chunk, so both use the same client classes.
 * `cd sdk && npm pack` then gives the installable tarball.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const SDK = import.meta.dirname;
const DIST = join(SDK, 'dist');
rmSync(DIST, { recursive: true, force: true });

/** the package's entry points: dist/<name>.js and dist/<name>.d.ts each */
const ENTRIES = ['index', 'agora'];

await build({
  entryPoints: ENTRIES.map((e) => join(SDK, `${e}.ts`)),
  outdir: DIST,
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  sourcemap: true,
  logLevel: 'error',
});

execFileSync(process.execPath, [resolve(SDK, '../node_modules/typescript/bin/tsc'), '-p', join(SDK, 'tsconfig.build.json')], { stdio: 'inherit' });
// the sources import with .ts extensions; the published declarations point at .js
const types = join(DIST, 'types');
for (const file of readdirSync(types, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts')))
  writeFileSync(join(types, file), readFileSync(join(types, file), 'utf8').replace(/(from\s+'\.{1,2}\/[^']+)\.ts'/g, "$1.js'"));
for (const e of ENTRIES) {
  const defaultExport = /^export default /m.test(readFileSync(join(SDK, `${e}.ts`), 'utf8'));
  writeFileSync(join(DIST, `${e}.d.ts`), `export * from './types/sdk/${e}.js';\n${defaultExport ? `export { default } from './types/sdk/${e}.js';\n` : ''}`);
}
console.log(`built ${DIST}`);
