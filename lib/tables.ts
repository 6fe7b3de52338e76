/**
 * Table definitions, shared by the CDK stack and the local stack (which
 * creates the same tables in DynamoDB Local). Key shapes live in
 * functions/commons/store/keys.ts; this file only names attributes and indexes.
 */
export interface IndexDef {
  /** named after the access pattern it serves */
  name: string;
  partitionKey: string;
  sortKey: string;
  sortKeyType: 'S' | 'N';
  /** attributes projected besides the keys; 'ALL' for the whole item, [] for keys only */
  projection: 'ALL' | readonly string[];
}

export interface TableDef {
  /** logical id in the stack, and the env var that carries its name */
  id: 'Presence' | 'Graph';
  envVar: 'PRESENCE_TABLE' | 'GRAPH_TABLE';
  partitionKey: 'pk';
  sortKey: 'sk';
  ttlAttribute: 'ttl';
  stream: boolean;
  indexes: readonly IndexDef[];
}

/** One item per user (devices, settings, aggregate, version). Streams feed the fan-out. */
export const presenceTable: TableDef = {
  id: 'Presence',
  envVar: 'PRESENCE_TABLE',
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'ttl',
  stream: true,
  indexes: [
    // sparse: only users with something that can expire carry sweepShard/sweepAt; keys only,
    // so a heartbeat (which changes no index key) writes the table alone, not the index
    { name: 'bySweepDue', partitionKey: 'sweepShard', sortKey: 'sweepAt', sortKeyType: 'N', projection: [] },
    // sparse: only users online and visible to everyone carry onlineShard (write-sharded, docs/scale.md), sorted by
    // the item's own key; keys only, so nothing but going online or offline writes it (the account-wide online list)
    { name: 'byOnlineShard', partitionKey: 'onlineShard', sortKey: 'pk', sortKeyType: 'S', projection: [] },
  ],
};

/** Who watches whom: subscriptions, listeners, friendships, group memberships. */
export const graphTable: TableDef = {
  id: 'Graph',
  envVar: 'GRAPH_TABLE',
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'ttl',
  stream: false,
  indexes: [
    // who watches a user (subscriptions and userIds listeners) and a group's listeners
    { name: 'byWatchedUser', partitionKey: 'gpk', sortKey: 'gsk', sortKeyType: 'S', projection: ['exp', 'u'] },
    // sparse: subscriptions only; the sweeper deletes expired ones with a Query, never a Scan
    { name: 'bySubscriptionExpiry', partitionKey: 'xshard', sortKey: 'exp', sortKeyType: 'N', projection: [] },
  ],
};

export const tables = [presenceTable, graphTable] as const;

/**
 * Lambda event filter for the stream consumer: only user-state items whose
 * write changed what subscribers see (quiet writes, e.g. heartbeats, carry
 * `quiet: true`). Used by the event source mapping and by the local poller.
 */
export const streamFilterPatterns: readonly Record<string, unknown>[] = [
  {
    eventName: ['INSERT', 'MODIFY'],
    dynamodb: { NewImage: { sk: { S: ['STATE'] }, quiet: { BOOL: [{ exists: false }] } } },
  },
];

/**
 * Concurrent batches per stream shard (Lambda's ParallelizationFactor, max 10):
 * records are spread over this many lanes by partition key, so order per user
 * holds while one slow fan-out does not hold up everyone else's changes.
 * The event source mapping and the local poller both use it.
 */
export const STREAM_PARALLELIZATION = 10;

/**
 * Retries of a failed stream record before it goes to the dead-letter queue
 * (the event source mapping's MaximumRetryAttempts; the local poller the
 * same, with backoff capped at 5 s: about half a minute of a failing
 * dependency is ridden out). A record that fails every time holds up only
 * its own lane (its users' later changes) for that long, never the shard.
 */
export const STREAM_RETRY_ATTEMPTS = 10;
