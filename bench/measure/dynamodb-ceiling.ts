/**
 * The DynamoDB Local ceiling: how many requests per second DynamoDB Local
 * serves for the stack's own per-change request mix (measured over the
 * benchmark's sustained load), driven directly with the SDK at the stack's
 * stream concurrency against scratch copies of the stack's tables (same keys,
 * indexes, stream and items). The stack's maxUpdatesPerSecond × requests per
 * change over this ceiling is the share of DynamoDB Local the stack reaches.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { STREAM_PARALLELIZATION } from '../../lib/tables.ts';
import { log, mapLimit, round, sleep } from '../common.ts';
import { cpuBetween, cpuSnapshot, type Pids } from '../proc.ts';
import type { Stack } from '../stack.ts';

type Item = Record<string, AttributeValue>;

/** Creates `copy` with the key schema, indexes and stream of `source`, and copies every item. */
async function copyTable(stack: Stack, source: string, copy: string): Promise<Item[]> {
  const t = (await stack.client.send(new DescribeTableCommand({ TableName: source }))).Table;
  if (!t) throw new Error(`no table ${source}`);
  await stack.client.send(new DeleteTableCommand({ TableName: copy })).catch(() => {});
  await stack.client.send(
    new CreateTableCommand({
      TableName: copy,
      KeySchema: t.KeySchema,
      AttributeDefinitions: t.AttributeDefinitions,
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: t.GlobalSecondaryIndexes?.map((g) => ({ IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection })),
      StreamSpecification: t.StreamSpecification?.StreamEnabled ? t.StreamSpecification : undefined,
    }),
  );
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const out = await stack.client.send(new ScanCommand({ TableName: source, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  const batches = Array.from({ length: Math.ceil(items.length / 25) }, (_, i) => items.slice(i * 25, i * 25 + 25));
  await mapLimit(batches, 8, async (batch) => {
    let request: BatchWriteItemCommand['input']['RequestItems'] = { [copy]: batch.map((Item) => ({ PutRequest: { Item } })) };
    while (request && Object.keys(request).length > 0)
      request = (await stack.client.send(new BatchWriteItemCommand({ RequestItems: request }))).UnprocessedItems;
  });
  return items;
}

/**
 * Runs the mix. `mix` is requests per change by operation (fractions are
 * carried over from change to change); `recipients` is how many state items a
 * BatchGetItem reads (the load's audience per change, at most 100).
 */
export async function dynamodbCeiling(stack: Stack, pids: Pids, mix: Record<string, number>, users: string[], recipients: number, seconds: number) {
  const P = 'BenchCeilingPresence';
  const G = 'BenchCeilingGraph';
  const presenceItems = await copyTable(stack, 'Presence', P);
  const graphItems = await copyTable(stack, 'Graph', G);
  const graph = (await stack.client.send(new DescribeTableCommand({ TableName: G }))).Table;
  // the watchers index: the one keyed by gpk (store/keys.ts: W#<target> → who watches the target)
  const watchIndex = graph?.GlobalSecondaryIndexes?.find((g) => g.KeySchema?.some((k) => k.AttributeName === 'gpk' && k.KeyType === 'HASH'))?.IndexName;
  const states = new Map(presenceItems.filter((i) => i.sk?.S === 'STATE').map((i) => [i.pk?.S as string, i]));
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)] as T;
  const stateOf = (u: string) => states.get(`USER#${u}`) ?? { pk: { S: `USER#${u}` }, sk: { S: 'STATE' } };
  const key = (u: string, sk = 'STATE') => ({ pk: { S: `USER#${u}` }, sk: { S: sk } });
  let queries = 0;
  let n = 0;
  const ops: Record<string, () => Promise<unknown>> = {
    GetItem: () => stack.client.send(new GetItemCommand({ TableName: P, Key: key(pick(users)) })),
    PutItem: () => stack.client.send(new PutItemCommand({ TableName: P, Item: { ...stateOf(pick(users)), bench: { N: String(++n) } } })),
    UpdateItem: () =>
      stack.client.send(
        new UpdateItemCommand({
          TableName: P,
          Key: key(pick(users), 'PUSHED'),
          UpdateExpression: 'SET v = :v',
          ExpressionAttributeValues: { ':v': { N: String(++n) } },
        }),
      ),
    DeleteItem: () => stack.client.send(new DeleteItemCommand({ TableName: P, Key: key(`gone-${++n}`) })),
    // the fan-out's two queries: who watches the user (index), the user's friends and groups (table)
    Query: () =>
      queries++ % 2 === 0 && watchIndex
        ? stack.client.send(
            new QueryCommand({
              TableName: G,
              IndexName: watchIndex,
              KeyConditionExpression: 'gpk = :g',
              ExpressionAttributeValues: { ':g': { S: `W#${pick(users)}` } },
            }),
          )
        : stack.client.send(
            new QueryCommand({ TableName: G, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: `USER#${pick(users)}` } } }),
          ),
    BatchGetItem: () =>
      stack.client.send(
        new BatchGetItemCommand({
          RequestItems: { [P]: { Keys: [...new Set(Array.from({ length: Math.min(100, recipients) }, () => pick(users)))].map((u) => key(u)) } },
        }),
      ),
    BatchWriteItem: () =>
      stack.client.send(
        new BatchWriteItemCommand({
          RequestItems: { [G]: Array.from({ length: 25 }, (_, i) => ({ PutRequest: { Item: { pk: { S: `BENCH#${++n}` }, sk: { S: `T#${i}` } } } })) },
        }),
      ),
  };
  const unknown = Object.keys(mix).filter((op) => !ops[op]);
  if (unknown.length) log(`  (the ceiling drives ${unknown.join(', ')} as GetItem)`);
  const concurrency = STREAM_PARALLELIZATION;
  let running = true;
  let counting = false;
  let done = 0;
  const worker = async () => {
    const credit: Record<string, number> = {};
    while (running) {
      // one change: each operation as many times as the mix says, fractions carried to the next change
      for (const [op, perChange] of Object.entries(mix)) {
        credit[op] = (credit[op] ?? 0) + perChange;
        while ((credit[op] as number) >= 1 && running) {
          credit[op] = (credit[op] as number) - 1;
          await (ops[op] ?? ops.GetItem)?.();
          if (counting) done++;
        }
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  await sleep(1000); // warm-up
  counting = true;
  const before = cpuSnapshot(pids);
  await sleep(seconds * 1000);
  counting = false;
  const cpu = cpuBetween(before, cpuSnapshot(pids));
  running = false;
  await Promise.all(workers);
  for (const t of [P, G]) await stack.client.send(new DeleteTableCommand({ TableName: t })).catch(() => {});
  const opsPerSec = round((done * 1000) / cpu.wallMs);
  return {
    dynamodbLocalOpsPerSec: opsPerSec,
    concurrency,
    seconds,
    mix,
    recipients,
    itemsCopied: { Presence: presenceItems.length, Graph: graphItems.length },
    // who was busy: the JVM near a core's worth means DynamoDB Local is the limit; the driver (this process) near one means the ceiling is a lower bound
    cpuPct: { jvm: cpu.pct.jvm, driver: cpu.pct.bench, stack: cpu.pct.stack, others: cpu.pct.others },
  };
}
