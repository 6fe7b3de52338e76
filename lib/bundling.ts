/**
 * How every Lambda is bundled, in one place: the stack's NodejsFunction
 * (lib/constructs/presence-function.ts) and the benchmark's and tests' own
 * esbuild runs (bench/bundle.ts) take their settings from here, so the
 * benchmark measures the code `cdk deploy` ships. The construct adds a source
 * map (and Node's --enable-source-maps), which the benchmark leaves out:
 * checked on two bundles, 2–3 ms more cold init.
 */

/** the Lambda runtime's Node.js (nodejs24.x) */
export const BUNDLE_TARGET = 'node24';

/** ESM builds of the dependencies first (Powertools, middy), as tree-shaken as they come */
export const BUNDLE_MAIN_FIELDS = ['module', 'main'];

/** SDK v3 ships with the nodejs24.x runtime: loaded from there, not bundled (bench/measure/bundles.ts measures both) */
export const BUNDLE_EXTERNALS = ['@aws-sdk/*'];

/** CommonJS dependencies bundled into ESM still call require(): give them one */
export const BUNDLE_BANNER = "import { createRequire as __presenceCreateRequire } from 'node:module';const require = __presenceCreateRequire(import.meta.url);";

/**
 * X-Ray is chosen when the bundle is built, not only when it runs
 * (functions/commons/traced.ts): `process.env.PRESENCE_TRACING` is replaced
 * by "on" or "off" in the bundle, and with "off" esbuild drops the dynamic
 * import of Powertools Tracer and the X-Ray SDK (about 120 KB of minified
 * bundle, parsed at every cold start even when never run).
 */
export const TRACING_DEFINE = 'process.env.PRESENCE_TRACING';
export const tracingDefine = (on: boolean): Record<string, string> => ({ [TRACING_DEFINE]: JSON.stringify(on ? 'on' : 'off') });
