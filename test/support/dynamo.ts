/** Test helpers for the run's DynamoDB Local: per-file tables and request counting. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { tables } from '../../lib/tables.ts';
import { ensureTable } from '../../local/tables.ts';

/** Creates this file's tables (names from test/support/setup-env.ts). */
export async function createTables(): Promise<void> {
  const client = new DynamoDBClient({ endpoint: process.env.DYNAMODB_ENDPOINT, region: 'local' });
  for (const t of tables) await ensureTable(client, t, process.env[t.envVar] as string);
  client.destroy();
}

export type Counts = Record<string, number>;

/**
 * Counts the DynamoDB operations sent by a client (by operation name, e.g.
 * GetItem, BatchGetItem), so tests can assert request budgets exactly.
 */
export function countRequests(client: DynamoDBClient) {
  const counts: Counts = {};
  /** since the start, never reset */
  const totals: Counts = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = String((context as { commandName?: string }).commandName ?? 'unknown').replace(/Command$/, '');
      counts[op] = (counts[op] ?? 0) + 1;
      totals[op] = (totals[op] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name: 'countRequests', override: true },
  );
  return {
    counts,
    totals,
    reset() {
      for (const k of Object.keys(counts)) delete counts[k];
    },
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
  };
}
