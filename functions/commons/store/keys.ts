/**
 * Table and index names, and the key shapes of both tables, defined once
 * (the store's: functions/commons/store.ts is its one import point).
 *
 * Presence table (one item per user):
 *   USER#<userId> / STATE   the user's devices, settings, aggregate and version; `gone`: devices that went offline
 *                           lately (≤ 10, ≤ 24 h; functions/core/presence.ts rememberGone), for the Agora facade
 *     writtenAt             epoch ms of the item's last full write (the stream consumer's NotifyLag starts there)
 *     sweepShard/sweepAt    sparse GSI `bySweepDue`: when the sweeper must look again
 *     onlineShard           sparse GSI `byOnlineShard` (sort key pk): O#<n>, present exactly while the user is
 *                           online and visible to everyone (listedOnline), set and removed by the write that makes it so
 *   USER#<userId> / PUSHED  legacy place of the last version fanned out: read only while the Graph table has none
 * Graph table (GSI `byWatchedUser` on gpk/gsk):
 *   SUB#<subscriber> / T#<target>      a subscription (exp, ttl); gpk W#<target>, gsk S#<subscriber>
 *   LCONN#<conn> / T#<target>          a userIds listener of a connection (u, exp, ttl); gpk W#<target>, gsk L#<conn>
 *   LCONN#<conn> / G#<groupId>         a group listener (u, exp, ttl); gpk GL#<groupId>, gsk C#<conn>
 *   LCONN#<conn> / ~R#T#<target>       a bidirectional userIds listen's reverse registration: <target> (u) hears the
 *                                      connection's user <caller>; gpk W#<caller>, gsk L#<conn> (read like a listener)
 *   LCONN#<conn> / ~R#G#<groupId>      a bidirectional group listen's: the group's members hear <caller> (u);
 *                                      gpk W#<caller>, gsk M#<groupId>
 *   LCONN#<conn> / ~R#F                a bidirectional friends listen's: <caller>'s friends hear it (u); gpk W#<caller>, gsk F#<conn>
 *   LCONN#<conn> / B#<format>          the connection hears every change in that push format (u, exp, ttl);
 *                                      gpk BCAST#<format>, gsk C#<conn> (a compatibility facade's everyone-broadcast)
 *   USER#<userId> / FRIEND#<friendId>  friendship, one item per direction
 *   GROUP#<groupId> / MEMBER#<userId>  membership, listed per group
 *   USER#<userId> / GROUP#<groupId>    the same membership, listed per user (one Query with the friends)
 *   USER#<userId> / PUSHED             the last version fanned out (v): stream idempotency, read by that same
 *                                      Query (its sort key sorts after FRIEND# and GROUP#)
 *   LEASE#<name> / LEASE               a short lease that serializes one cap's read-then-write (until, owner, ttl)
 *   LIVE#<shard>#<bucket> / <random>   `gateway` heartbeat mode: WebSocket connections to check in that time
 *                                      bucket, up to 200 per item (w: [userId, device, conn, due, stale?][], ttl)
 *   LIVECURSOR / CURSOR                the last liveness bucket the sweeper looked at (b)
 * Friends listeners are a flag on the connection in the user's state (conns[c].f).
 */

import { graphTable, presenceTable } from '../../../lib/tables.ts';
import { config } from '../config.ts';

export const PRESENCE = config.presenceTable;
export const GRAPH = config.graphTable;
export const SWEEP_INDEX = presenceTable.indexes[0]?.name as string;
export const WATCH_INDEX = graphTable.indexes[0]?.name as string;
export const SUB_EXPIRY_INDEX = graphTable.indexes[1]?.name as string;
export const ONLINE_INDEX = presenceTable.indexes[1]?.name as string;
export const SWEEP_SHARDS = 4;
/**
 * Partitions of the online list's index (`byOnlineShard`): every user going
 * online or offline writes one of them, so a reconnect herd spreads over
 * ONLINE_SHARDS keys instead of one (numbers in docs/scale.md).
 */
export const ONLINE_SHARDS = 16;

// ---------- key shapes (defined once) ----------
export const PUSHED_SK = 'PUSHED';
/**
 * sort key prefix of a connection's reverse registrations (bidirectional
 * listens), which are no listener targets of their own: `~` sorts after every
 * listener's (`G#`, `T#`), so the cap's count reads the listeners alone
 */
export const REVERSE_SK = '~R#';
/** `byWatchedUser` sort keys: who hears the partition's user, and how */
export const WATCH_GSK = {
  subscriber: (subscriber: string) => `S#${subscriber}`,
  /** a userIds listener of the user, or a user a bidirectional listen of the user's registered (u hears) */
  listener: (conn: string) => `L#${conn}`,
  /** the members of a group hear the user */
  members: (groupId: string) => `M#${groupId}`,
  /** the user's friends hear the user */
  friends: (conn: string) => `F#${conn}`,
};
export const keys = {
  userState: (userId: string) => ({ pk: `USER#${userId}`, sk: 'STATE' }),
  /** the last version the fan-out delivered (replays and late duplicates are skipped); in the Graph table, under the user's relations */
  pushed: (userId: string) => ({ pk: `USER#${userId}`, sk: PUSHED_SK }),
  /** where the Presence table kept it before (read while the Graph table has none for the user) */
  legacyPushed: (userId: string) => ({ pk: `USER#${userId}`, sk: PUSHED_SK }),
  subscription: (subscriber: string, target: string) => ({ pk: `SUB#${subscriber}`, sk: `T#${target}` }),
  subscriptionsOf: (subscriber: string) => `SUB#${subscriber}`,
  watchersOf: (target: string) => `W#${target}`,
  friend: (userId: string, friendId: string) => ({ pk: `USER#${userId}`, sk: `FRIEND#${friendId}` }),
  member: (groupId: string, userId: string) => ({ pk: `GROUP#${groupId}`, sk: `MEMBER#${userId}` }),
  groupOfUser: (userId: string, groupId: string) => ({ pk: `USER#${userId}`, sk: `GROUP#${groupId}` }),
  listenersOfConn: (conn: string) => `LCONN#${conn}`,
  /** a bidirectional listen's reverse registrations, in the connection's partition (sort keys after REVERSE_SK) */
  heardByUser: (target: string) => `${REVERSE_SK}T#${target}`,
  heardByGroup: (groupId: string) => `${REVERSE_SK}G#${groupId}`,
  heardByFriends: `${REVERSE_SK}F`,
  groupListeners: (groupId: string) => `GL#${groupId}`,
  /** the connections that hear every change in a push format (a compatibility facade's everyone-broadcast) */
  broadcastListeners: (format: string) => `BCAST#${format}`,
  lease: (name: string) => ({ pk: `LEASE#${name}`, sk: 'LEASE' }),
  /** a partition of the online list (`byOnlineShard`) */
  onlineShard: (shard: number) => `O#${shard}`,
  /** `gateway` heartbeat mode: the connections to look at in one time bucket of one sweep shard (any number of items) */
  livenessBucket: (shard: string, bucket: number) => `LIVE#${shard}#${bucket}`,
  /** the last bucket (of every shard) the sweeper has looked at */
  livenessCursor: { pk: 'LIVECURSOR', sk: 'CURSOR' },
};

/** The leases the caps are checked under: what is counted and written together. */
export const leases = {
  subscriptionsOf: (subscriber: string) => `SUB#${subscriber}`,
  listenersOf: (conn: string) => `LCONN#${conn}`,
};

/** A stable hash of a userId into 0..n-1. */
export const shardOf = (userId: string, n: number): number => {
  let h = 0;
  for (let i = 0; i < userId.length; i++) h = (h * 31 + userId.charCodeAt(i)) | 0;
  return Math.abs(h) % n;
};

/** Spreads a sparse "due" index over SWEEP_SHARDS partitions (no hot key). */
export const sweepShard = (userId: string): string => `S#${shardOf(userId, SWEEP_SHARDS)}`;

/** The sweep shards (the due index's and the liveness wheel's partitions). */
export const sweepShards = (): string[] => Array.from({ length: SWEEP_SHARDS }, (_, i) => `S#${i}`);
