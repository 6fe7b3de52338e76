/**
 * House defaults of every AWS SDK client the functions (and the local
 * stack's own pollers) make: `lean(client)`.
 *
 * - `cacheMiddleware: true` (given at construction; dynamo-doc.ts says why):
 *   the resolved middleware stack is built once per command class.
 * - No logger middleware. The SDK's `loggerMiddleware` runs on every send
 *   and, even with its default NoOpLogger, evaluates
 *   `logger?.info?.({ input: inputFilterSensitiveLog(args.input), output:
 *   outputFilterSensitiveLog(output) })` — the NoOpLogger has an `info`, so
 *   the schema walk that masks sensitive members (`schemaLogFilter`) runs
 *   over every request and response, and its result is thrown away. Profiled
 *   on the stream consumer at the benchmark's steady load, that walk was 2.6 %
 *   of the thread's CPU (plus the garbage it leaves); we never hand the SDK a
 *   logger (our own Logger logs what we choose), so the middleware goes.
 *   `middlewareStack.remove(name)` is the SDK's public way to do it.
 */
type WithStack = { middlewareStack: { remove(name: string): boolean } };

export function lean<C extends WithStack>(client: C): C {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}
