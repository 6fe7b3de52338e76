/**
 * The store: every DynamoDB key shape and query of the product lives here.
 * Handlers and workers call intent-named functions; nothing else builds keys.
 *
 * This is its one import point; the code lives in ./store/, split by table:
 *   store/keys.ts            table and index names, the key shapes of both tables (and the item layout), shard helpers
 *   store/requests.ts        paged Queries, batches with retries, backoff (shared by both tables)
 *   store/state-item.ts      the Presence table's user-state item: how a state is stored and read back
 *   store/presence-table.ts  user states, the PATCH and heartbeat fast paths, the sweep index, the online list
 *   store/graph-table.ts     subscriptions, listeners, friends, groups, what was fanned out, the liveness wheel, leases
 */

export * from './store/graph-table.ts';
export { leases, ONLINE_SHARDS, SWEEP_SHARDS, sweepShard, sweepShards } from './store/keys.ts';
export * from './store/presence-table.ts';
export { stateFromItem, userIdOfStateKey } from './store/state-item.ts';
