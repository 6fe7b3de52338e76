/**
 * The DynamoDB tables of lib/tables.ts as TableV2 (AWS::DynamoDB::GlobalTable,
 * single region for now): on-demand, TTL, PITR, streams where asked, GSIs as listed.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, type GlobalSecondaryIndexPropsV2, ProjectionType, StreamViewType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { type IndexDef, type TableDef, tables } from '../tables.ts';

export interface BoundTable {
  table: TableV2;
  def: TableDef;
}

function indexProps(index: IndexDef): GlobalSecondaryIndexPropsV2 {
  const base = {
    indexName: index.name,
    partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
    sortKey: { name: index.sortKey, type: index.sortKeyType === 'N' ? AttributeType.NUMBER : AttributeType.STRING },
  };
  if (index.projection === 'ALL') return { ...base, projectionType: ProjectionType.ALL };
  if (index.projection.length === 0) return { ...base, projectionType: ProjectionType.KEYS_ONLY };
  return { ...base, projectionType: ProjectionType.INCLUDE, nonKeyAttributes: [...index.projection] };
}

export function tableProps(def: TableDef) {
  return {
    partitionKey: { name: def.partitionKey, type: AttributeType.STRING },
    sortKey: { name: def.sortKey, type: AttributeType.STRING },
    billing: Billing.onDemand(),
    timeToLiveAttribute: def.ttlAttribute,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    dynamoStream: def.stream ? StreamViewType.NEW_AND_OLD_IMAGES : undefined,
    globalSecondaryIndexes: def.indexes.map(indexProps),
    // user data: never dropped by a stack update or delete
    removalPolicy: RemovalPolicy.RETAIN,
  };
}

/**
 * Creates every table of lib/tables.ts directly in `scope`, so each table's
 * construct id (and logical id prefix) is its `id` there ('Presence', 'Graph').
 */
export function createTables(scope: Construct): Record<TableDef['id'], BoundTable> {
  const byId: Partial<Record<TableDef['id'], BoundTable>> = {};
  for (const def of tables) {
    byId[def.id] = { def, table: new TableV2(scope, def.id, tableProps(def)) };
  }
  return byId as Record<TableDef['id'], BoundTable>;
}
