/**
 * Local-only instrumentation: counts the DynamoDB requests the handlers send
 * (by operation) and the capacity units DynamoDB reports for them
 * (ReturnConsumedCapacity=TOTAL is added to every request that accepts it).
 * Served by the local gateway at /__local/metrics for the benchmark.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** Which function (route id / worker id) the current invocation belongs to. */
export const invocation = new AsyncLocalStorage<string>();

/** by function id, then by DynamoDB operation */
export interface DynamoMetrics {
  requests: Record<string, Record<string, number>>;
  capacityUnits: Record<string, Record<string, number>>;
  invocations: Record<string, number>;
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

export const emptyMetrics = (): DynamoMetrics => ({ requests: {}, capacityUnits: {}, invocations: {} });

/** Sums the counters of several threads (the local stack's main thread and its stream consumer). */
export function mergeMetrics(...all: DynamoMetrics[]): DynamoMetrics {
  const out = emptyMetrics();
  for (const m of all) {
    for (const key of ['requests', 'capacityUnits'] as const)
      for (const [fn, ops] of Object.entries(m[key])) for (const [op, n] of Object.entries(ops)) bump(out[key], fn, op, n);
    for (const [fn, n] of Object.entries(m.invocations)) out.invocations[fn] = (out.invocations[fn] ?? 0) + n;
  }
  return out;
}

export function instrument(client: DynamoDBClient) {
  const metrics = emptyMetrics();
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
    snapshot: (): DynamoMetrics => structuredClone(metrics),
    reset() {
      Object.assign(metrics, emptyMetrics());
    },
    /** runs one handler invocation attributed to `fn` */
    invoke<T>(fn: string, run: () => Promise<T>): Promise<T> {
      metrics.invocations[fn] = (metrics.invocations[fn] ?? 0) + 1;
      return invocation.run(fn, run);
    },
  };
}
