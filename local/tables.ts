/** Creates the stack's tables (lib/tables.ts) in DynamoDB Local. */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import type { TableDef } from '../lib/tables.ts';

export function createTableInput(def: TableDef, name: string): CreateTableCommandInput {
  const attrs = new Map<string, 'S' | 'N'>([
    [def.partitionKey, 'S'],
    [def.sortKey, 'S'],
  ]);
  for (const ix of def.indexes) {
    attrs.set(ix.partitionKey, 'S');
    attrs.set(ix.sortKey, ix.sortKeyType);
  }
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attrs].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
    KeySchema: [
      { AttributeName: def.partitionKey, KeyType: 'HASH' },
      { AttributeName: def.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: def.indexes.length
      ? def.indexes.map((ix) => ({
          IndexName: ix.name,
          KeySchema: [
            { AttributeName: ix.partitionKey, KeyType: 'HASH' },
            { AttributeName: ix.sortKey, KeyType: 'RANGE' },
          ],
          Projection:
            ix.projection === 'ALL'
              ? { ProjectionType: 'ALL' }
              : ix.projection.length === 0
                ? { ProjectionType: 'KEYS_ONLY' }
                : { ProjectionType: 'INCLUDE', NonKeyAttributes: [...ix.projection] },
        }))
      : undefined,
    StreamSpecification: def.stream ? { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } : undefined,
  };
}

/** Creates the table if missing (idempotent) and enables TTL. */
export async function ensureTable(client: DynamoDBClient, def: TableDef, name: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(def, name)));
    await client.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true } }));
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  for (let i = 0; i < 100; i++) {
    const out = await client.send(new DescribeTableCommand({ TableName: name }));
    if (out.Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`table ${name} did not become ACTIVE`);
}
