/**
 * `npm run build:sdk`: builds the SDK as its own package in sdk/dist —
 * one ESM file for Node and browsers (esbuild; nothing of the server is
 * bundled: the SDK only imports its types) and its type declarations (tsc).
 * `cd sdk && npm pack` then gives the installable tarball.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const SDK = import.meta.dirname;
const DIST = join(SDK, 'dist');
rmSync(DIST, { recursive: true, force: true });

await build({
  entryPoints: [join(SDK, 'index.ts')],
  outfile: join(DIST, 'index.js'),
  bundle: true,
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
writeFileSync(join(DIST, 'index.d.ts'), "export * from './types/sdk/index.js';\n");
console.log(`built ${DIST}`);
