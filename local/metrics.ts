/**
 * Local-only instrumentation, served by the local gateway at /__local/metrics
 * (and printed by `npm run metrics`):
 *
 * - the DynamoDB requests the handlers send (by function and operation) and
 *   the capacity units DynamoDB reports for them
 *   (ReturnConsumedCapacity=TOTAL is added to every request that accepts it),
 *   for the benchmark;
 * - the CloudWatch metrics the functions emit (`emf`): Powertools Metrics
 *   writes each flush as one Embedded Metric Format line on stdout, which
 *   Lambda hands to CloudWatch; here those lines are taken off stdout (not
 *   printed) and summed per metric name, with the same names, units and
 *   values the lines carry, on both threads of the stack.
 *
 * Invocations run as Lambda runs them when one execution environment takes
 * several at once (AWS_LAMBDA_MAX_CONCURRENCY, the runtime's InvokeStore):
 * the local stack runs every function in one process, many invocations at a
 * time, and Powertools keeps each invocation's log keys, Lambda context and
 * metrics apart only that way.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { InvokeStore, type InvokeStoreBase } from '@aws/lambda-invoke-store';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** the `service` of the local stack's logs and metrics (POWERTOOLS_SERVICE_NAME; on AWS: the stack name) */
export const LOCAL_SERVICE_NAME = 'presence-local';

/** Which function (route id / worker id) the current invocation belongs to. */
export const invocation = new AsyncLocalStorage<string>();

/** One metric's datapoints so far, as CloudWatch would aggregate them. */
export interface EmfStatistics {
  unit: string;
  /** datapoints (CloudWatch's SampleCount) */
  samples: number;
  sum: number;
  min: number;
  max: number;
}

export interface EmfMetrics {
  /** EMF lines taken off stdout */
  lines: number;
  namespaces: string[];
  /** dimension name → the values seen (service, function_name) */
  dimensions: Record<string, string[]>;
  metrics: Record<string, EmfStatistics>;
  /** the sum of each metric by the function that emitted it */
  byFunction: Record<string, Record<string, number>>;
}

/** by function id, then by DynamoDB operation; and the CloudWatch metrics */
export interface LocalMetricsSnapshot {
  requests: Record<string, Record<string, number>>;
  capacityUnits: Record<string, Record<string, number>>;
  invocations: Record<string, number>;
  emf: EmfMetrics;
}

const bump = (table: Record<string, Record<string, number>>, fn: string, op: string, by: number) => {
  table[fn] ??= {};
  const row = table[fn];
  row[op] = (row[op] ?? 0) + by;
};

const WITH_CAPACITY = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactWriteItems',
  'TransactGetItems',
]);

const emptyEmf = (): EmfMetrics => ({ lines: 0, namespaces: [], dimensions: {}, metrics: {}, byFunction: {} });
export const emptyMetrics = (): LocalMetricsSnapshot => ({ requests: {}, capacityUnits: {}, invocations: {}, emf: emptyEmf() });

const addStatistics = (into: Record<string, EmfStatistics>, name: string, s: EmfStatistics) => {
  const seen = into[name];
  into[name] = seen
    ? { unit: seen.unit, samples: seen.samples + s.samples, sum: seen.sum + s.sum, min: Math.min(seen.min, s.min), max: Math.max(seen.max, s.max) }
    : { ...s };
};

function mergeEmf(out: EmfMetrics, m: EmfMetrics): void {
  out.lines += m.lines;
  out.namespaces = [...new Set([...out.namespaces, ...m.namespaces])];
  for (const [d, values] of Object.entries(m.dimensions)) out.dimensions[d] = [...new Set([...(out.dimensions[d] ?? []), ...values])];
  for (const [name, s] of Object.entries(m.metrics)) addStatistics(out.metrics, name, s);
  for (const [fn, sums] of Object.entries(m.byFunction)) for (const [name, n] of Object.entries(sums)) bump(out.byFunction, fn, name, n);
}

/** Sums the counters of several threads (the local stack's main thread and its stream consumer). */
export function mergeMetrics(...all: LocalMetricsSnapshot[]): LocalMetricsSnapshot {
  const out = emptyMetrics();
  for (const m of all) {
    for (const key of ['requests', 'capacityUnits'] as const)
      for (const [fn, ops] of Object.entries(m[key])) for (const [op, n] of Object.entries(ops)) bump(out[key], fn, op, n);
    for (const [fn, n] of Object.entries(m.invocations)) out.invocations[fn] = (out.invocations[fn] ?? 0) + n;
    mergeEmf(out.emf, m.emf ?? emptyEmf());
  }
  return out;
}

/** One EMF line (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html) added to `into`. */
export function recordEmf(into: EmfMetrics, line: string, fn: string): void {
  const doc = JSON.parse(line) as Record<string, unknown> & {
    _aws?: { CloudWatchMetrics?: { Namespace: string; Dimensions?: string[][]; Metrics: { Name: string; Unit?: string }[] }[] };
  };
  const directives = doc._aws?.CloudWatchMetrics ?? [];
  into.lines++;
  for (const d of directives) {
    if (!into.namespaces.includes(d.Namespace)) into.namespaces.push(d.Namespace);
    for (const name of (d.Dimensions ?? []).flat()) {
      const values = into.dimensions[name] ?? [];
      const value = String(doc[name]);
      if (!values.includes(value)) into.dimensions[name] = [...values, value];
    }
    for (const m of d.Metrics) {
      const raw = doc[m.Name];
      const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is number => typeof v === 'number');
      if (values.length === 0) continue;
      const sum = values.reduce((a, b) => a + b, 0);
      addStatistics(into.metrics, m.Name, { unit: m.Unit ?? 'None', samples: values.length, sum, min: Math.min(...values), max: Math.max(...values) });
      bump(into.byFunction, fn, m.Name, sum);
    }
  }
}

const EMF_CAPTURE = Symbol.for('presence.local.emfCapture');
type Write = typeof process.stdout.write;

/**
 * Takes the EMF lines off this thread's stdout (once per thread: the local
 * stack's, and the test run's setup, share it) and counts them; every other
 * write goes through. Returns the counts so far.
 */
export function captureEmf(): { snapshot(): EmfMetrics; reset(): void } {
  const holder = globalThis as { [EMF_CAPTURE]?: { snapshot(): EmfMetrics; reset(): void } };
  const installed = holder[EMF_CAPTURE];
  if (installed) return installed;
  let emf = emptyEmf();
  const stdout = process.stdout;
  const write = stdout.write.bind(stdout) as Write;
  stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    // Powertools writes one line per flush (a Console on stdout), starting with its `_aws` key
    const text = typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array && chunk[0] === 0x7b ? Buffer.from(chunk).toString('utf8') : '';
    if (text.startsWith('{"_aws":')) {
      try {
        for (const line of text.split('\n')) if (line.trim()) recordEmf(emf, line, invocation.getStore() ?? 'other');
        return true;
      } catch {
        // not EMF after all: printed as it is
      }
    }
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as Write;
  const capture = {
    snapshot: () => structuredClone(emf),
    reset() {
      emf = emptyEmf();
    },
  };
  holder[EMF_CAPTURE] = capture;
  return capture;
}

let invokeStore: InvokeStoreBase | undefined;

/**
 * Runs this thread's invocations in the Lambda runtime's InvokeStore, as an
 * execution environment that takes several invocations at once does
 * (AWS_LAMBDA_MAX_CONCURRENCY): Powertools then keeps each invocation's
 * state (Logger keys and context, stored metrics) apart. Must run before a
 * handler module is loaded (Powertools reads the variable on every call and
 * then needs the store). The variable is removed when the stack stops.
 */
export async function concurrentInvocations(): Promise<void> {
  invokeStore ??= await InvokeStore.getInstanceAsync(true);
  process.env.AWS_LAMBDA_MAX_CONCURRENCY ??= '64';
}

type DynamoCounts = Omit<LocalMetricsSnapshot, 'emf'>;
const emptyCounts = (): DynamoCounts => ({ requests: {}, capacityUnits: {}, invocations: {} });

export function instrument(client: DynamoDBClient) {
  const metrics = emptyCounts();
  const emf = captureEmf();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = String((context as { commandName?: string }).commandName ?? 'unknown').replace(/Command$/, '');
      const fn = invocation.getStore() ?? 'other';
      bump(metrics.requests, fn, op, 1);
      const input = args.input as Record<string, unknown>;
      if (WITH_CAPACITY.has(op) && input.ReturnConsumedCapacity === undefined) input.ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      const out = result.output as { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] };
      const consumed = Array.isArray(out.ConsumedCapacity) ? out.ConsumedCapacity : out.ConsumedCapacity ? [out.ConsumedCapacity] : [];
      for (const c of consumed) bump(metrics.capacityUnits, fn, op, c.CapacityUnits ?? 0);
      return result;
    },
    { step: 'initialize', name: 'localMetrics', override: true },
  );
  return {
    snapshot: (): LocalMetricsSnapshot => ({ ...structuredClone(metrics), emf: emf.snapshot() }),
    reset() {
      Object.assign(metrics, emptyCounts());
      emf.reset();
    },
    /** runs one handler invocation attributed to `fn` (in its own InvokeStore context once concurrentInvocations() ran) */
    invoke<T>(fn: string, run: () => Promise<T>): Promise<T> {
      metrics.invocations[fn] = (metrics.invocations[fn] ?? 0) + 1;
      const store = invokeStore;
      return invocation.run(fn, store ? () => store.run({}, run) : run);
    },
  };
}
