/**
 * Bundles: size and cold init of every Lambda bundle, each against its floor,
 * the cold init of a bundle holding nothing but the AWS SDK packages that
 * bundle imports (same esbuild settings, same fresh-process probe, sampled in
 * the same rounds, as many times as each bundle: the fastest of n samples is
 * compared with the fastest of n). The bundles are built as the stack builds
 * them by default, tracing off (lib/bundling.ts); the traced workers are also
 * built and loaded as with `-c tracing=on` (their Tracer and X-Ray SDK load at
 * init, as on Lambda), reported beside, outside the budget. Also measures the two ways of shipping the SDK on a
 * couple of bundles: bundled (minified, pinned by the lockfile) or external
 * (the Lambda runtime's copy, loaded from node_modules), and reads which one
 * the CDK stack uses.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_EXTERNALS } from '../../lib/bundling.ts';
import { facades, httpRoutes, workers, wsRoutes } from '../../lib/routes.ts';
import { LAMBDA_BUNDLE, LAMBDA_BUNDLE_TRACED } from '../bundle.ts';
import { quick, ROOT, round } from '../common.ts';

const OUT = join(ROOT, 'bench/.bundles');

export interface BundleRow {
  bundleKB: number;
  coldInitMs: number;
  initHeapMB: number;
  /** the @aws-sdk packages the bundle imports (external: loaded from node_modules, as from the Lambda runtime) */
  sdkPackages: string[];
  /** cold init of those packages alone (the floor) */
  sdkFloorMs: number;
  coldInitOverFloorMs: number;
  /** traced workers: the bundle and environment of `-c tracing=on` (not the default; outside the budget) */
  traced?: { bundleKB: number; coldInitMs: number; coldInitOverFloorMs: number };
}

/** what Lambda gives a traced worker (lib/routes.ts `traced`) under `-c tracing=on`: its Tracer and X-Ray SDK load at init, as there */
const TRACED_ENV = { POWERTOOLS_TRACE_ENABLED: 'true', AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x' };
const traced = new Set(
  Object.values(workers as Record<string, { id: string; traced?: true }>)
    .filter((w) => w.traced)
    .map((w) => w.id),
);

/** Loads `file` in a fresh Node process: ms from before its import to after, and the heap then. */
function probe(file: string, env: Record<string, string> = {}): { ms: number; heap: number } {
  const code = `const t=performance.now();await import(${JSON.stringify(file)});console.log(JSON.stringify({ms:performance.now()-t,heap:process.memoryUsage().heapUsed}))`;
  const txt = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: ROOT,
    env: {
      ...process.env,
      AWS_REGION: 'eu-west-1',
      WS_CALLBACK_URL: 'https://example.invalid/live',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    },
  }).toString();
  return JSON.parse(txt.trim().split('\n').pop() as string);
}

/** Bundles an entry as bench/bundle.ts does (the stack's settings); returns the external packages it imports. */
async function bundle(entry: string, outfile: string, overrides: Parameters<typeof build>[0] = {}, base = LAMBDA_BUNDLE): Promise<string[]> {
  const out = await build({ ...base, entryPoints: [join(ROOT, entry)], outfile, metafile: true, ...overrides });
  const imports = Object.values(out.metafile?.outputs ?? {}).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
  return [...new Set(imports.filter((p) => p.startsWith('@aws-sdk/')))].sort();
}

/** The floor bundle of a set of SDK packages: an entry importing them and nothing else, built with the same settings. */
async function floorBundle(packages: string[]): Promise<string> {
  const file = join(OUT, `sdk-floor-${packages.map((p) => p.replace('@aws-sdk/', '')).join('+') || 'none'}.mjs`);
  await build({
    ...LAMBDA_BUNDLE,
    stdin: { contents: packages.map((p) => `import ${JSON.stringify(p)};`).join('\n'), resolveDir: ROOT, loader: 'js' },
    outfile: file,
  });
  return file;
}

export async function measureBundles() {
  mkdirSync(OUT, { recursive: true });
  const entries = [
    ...httpRoutes.map((r) => [r.id, r.entry] as const),
    ...wsRoutes.map((r) => [r.id, r.entry] as const),
    ...Object.values(workers).map((w) => [w.id, w.entry] as const),
    ...facades.map((f) => [f.id, f.entry] as const),
  ];
  const sdkOf = new Map<string, string[]>();
  for (const [id, entry] of entries) sdkOf.set(id, await bundle(entry, join(OUT, `${id}.mjs`)));
  for (const [id, entry] of entries) if (traced.has(id)) await bundle(entry, join(OUT, `${id}-traced.mjs`), {}, LAMBDA_BUNDLE_TRACED);
  const sets = new Map<string, string>(); // set key → floor bundle file
  for (const pkgs of sdkOf.values()) {
    const key = pkgs.join(' ');
    if (!sets.has(key)) sets.set(key, await floorBundle(pkgs));
  }
  // rounds: every bundle once per round and every floor once, in the middle of the round, so the floors are
  // sampled over the same minutes as the bundles and as many times (the fastest of 2n samples would sit lower
  // than the fastest of n by chance alone, and inflate every bundle's figure over its floor)
  const rounds = quick ? 3 : 7;
  const samples = new Map<string, { ms: number; heap: number }[]>();
  const add = (key: string, s: { ms: number; heap: number }) => samples.set(key, [...(samples.get(key) ?? []), s]);
  const half = Math.ceil(entries.length / 2);
  for (let r = 0; r < rounds; r++) {
    entries.forEach(([id], i) => {
      if (i === half) for (const [key, file] of sets) add(`floor:${key}`, probe(file));
      add(id, probe(join(OUT, `${id}.mjs`)));
      if (traced.has(id)) add(`traced:${id}`, probe(join(OUT, `${id}-traced.mjs`), TRACED_ENV));
    });
  }
  const minMs = (key: string) => Math.min(...(samples.get(key) ?? []).map((s) => s.ms));
  const rows: Record<string, BundleRow> = {};
  for (const [id] of entries) {
    const pkgs = sdkOf.get(id) ?? [];
    const floor = minMs(`floor:${pkgs.join(' ')}`);
    const cold = minMs(id);
    rows[id] = {
      bundleKB: round(statSync(join(OUT, `${id}.mjs`)).size / 1024),
      coldInitMs: round(cold),
      initHeapMB: round(Math.max(...(samples.get(id) ?? []).map((s) => s.heap)) / 1024 / 1024),
      sdkPackages: pkgs,
      sdkFloorMs: round(floor),
      coldInitOverFloorMs: round(cold - floor),
      ...(traced.has(id)
        ? {
            traced: {
              bundleKB: round(statSync(join(OUT, `${id}-traced.mjs`)).size / 1024),
              coldInitMs: round(minMs(`traced:${id}`)),
              coldInitOverFloorMs: round(minMs(`traced:${id}`) - floor),
            },
          }
        : {}),
    };
  }
  const floors = Object.fromEntries([...sets.keys()].map((key) => [key || '(none)', round(minMs(`floor:${key}`))]));
  // the floor of the SDK every route handler imports (the most common set); per set in sdkInitMsBySet
  const counts = new Map<string, number>();
  for (const pkgs of sdkOf.values()) counts.set(pkgs.join(' '), (counts.get(pkgs.join(' ')) ?? 0) + 1);
  const common = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
  return { bundles: rows, sdkInitMs: round(minMs(`floor:${common}`)), sdkInitPackages: common.split(' ').filter(Boolean), sdkInitMsBySet: floors };
}

/**
 * Bundled SDK or the runtime's? The same bundles built both ways, loaded
 * alternately in fresh processes (min of the samples each).
 */
export async function measureSdkChoice(ids = ['PatchOwnPresence', 'StreamFanout']) {
  const all = [...httpRoutes, ...wsRoutes, ...Object.values(workers), ...facades].map((r) => [r.id, r.entry] as const);
  const dir = join(OUT, 'sdk-bundled');
  mkdirSync(dir, { recursive: true });
  const perBundle: Record<string, { externalMs: number; bundledMs: number; externalKB: number; bundledKB: number }> = {};
  for (const id of ids) {
    const entry = all.find(([i]) => i === id)?.[1];
    if (!entry) continue;
    const external = join(OUT, `${id}-external.mjs`);
    const bundled = join(dir, `${id}.mjs`);
    await bundle(entry, external);
    // the SDK inside the bundle: ESM builds first (tree-shaken, as the CDK's mainFields would pick), minified
    await bundle(entry, bundled, { external: [], mainFields: ['module', 'main'] });
    const ext: number[] = [];
    const bun: number[] = [];
    for (let i = 0; i < (quick ? 3 : 7); i++) {
      ext.push(probe(external).ms);
      bun.push(probe(bundled).ms);
    }
    perBundle[id] = {
      externalMs: round(Math.min(...ext)),
      bundledMs: round(Math.min(...bun)),
      externalKB: round(statSync(external).size / 1024),
      bundledKB: round(statSync(bundled).size / 1024),
    };
  }
  const rows = Object.values(perBundle);
  const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));
  const bundledMs = mean(rows.map((r) => r.bundledMs));
  const externalMs = mean(rows.map((r) => r.externalMs));
  // what lib/ builds today: NodejsFunction's bundling.externalModules (lib/bundling.ts)
  const cdkUses = BUNDLE_EXTERNALS.includes('@aws-sdk/*') ? 'external' : 'bundled';
  return {
    bundledMs,
    externalMs,
    choice: bundledMs < externalMs ? 'bundled' : 'external',
    marginMs: round(Math.abs(bundledMs - externalMs)),
    cdkUses,
    cdkSource: 'lib/bundling.ts BUNDLE_EXTERNALS (NodejsFunction bundling.externalModules)',
    perBundle,
  };
}
