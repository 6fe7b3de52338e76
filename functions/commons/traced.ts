/**
 * The tracing middleware of a traced worker (StreamFanout, FanoutChunk,
 * Sweeper), or undefined when tracing is off: then not even the module of
 * Powertools Tracer is loaded (functions/commons/tracing.ts says why).
 *
 * Tracing is off unless the stack is deployed with `-c tracing=on`. It is
 * decided twice, and both must say yes:
 * - when the bundle is built: the stack replaces `process.env.PRESENCE_TRACING`
 *   with "on" or "off" (lib/bundling.ts). With "off", esbuild drops the
 *   import below, and with it the Tracer and the X-Ray SDK: about 120 KB
 *   that every cold start would otherwise parse, used or not;
 * - when it runs: POWERTOOLS_TRACE_ENABLED=true (the stack sets it with
 *   "on"; the local stack never does).
 * Run from the sources (the local stack, tests) nothing replaces the
 * variable, so only POWERTOOLS_TRACE_ENABLED decides.
 *
 * The condition stays a single expression: esbuild drops a dynamic import
 * only from a branch it can see is dead where the import is written.
 */
import { config } from './config.ts';

type TracedClient = { middlewareStack: unknown } | undefined;

export const tracingFor = async (...clients: TracedClient[]) =>
  process.env.PRESENCE_TRACING !== 'off' && config.tracing ? (await import('./tracing.ts')).tracing(...clients) : undefined;
