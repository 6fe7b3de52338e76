/**
 * The PATCH fast path (store.quickPatch: one conditional UpdateItem, no read)
 * against DynamoDB Local: for the same starting item and the same patch it
 * writes exactly the item the full read-modify-write (mutateUser) writes;
 * when its condition does not hold it writes nothing and hands the item it
 * found to the full path, which then needs no read (2 requests, as before);
 * and it keeps optimistic concurrency (a read-modify-write that read before
 * it starts again).
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ddb, dynamodb } from '../../functions/commons/clients.ts';
import * as store from '../../functions/commons/store.ts';
import { applyPatch, type ChangeBudget, type PresencePatch, type UserState, upsertDevice, type Visibility } from '../../functions/core/presence.ts';
import { countRequests, createTables } from '../support/dynamo.ts';

const requests = countRequests(dynamodb);
beforeAll(createTables);
beforeEach(() => requests.reset());

const budget: ChangeBudget = { limit: 60, windowMs: 60_000 };
/** the start of a budget window (a fake clock: nothing here waits) */
const t0 = Math.floor(Date.now() / budget.windowMs) * budget.windowMs + 1_000;
/** the next budget window, the device (live until t0 + 120 s) still live */
const later = t0 + 61_000;
let n = 0;

async function item(userId: string): Promise<Record<string, unknown> | undefined> {
  const out = await ddb.get({ TableName: process.env.PRESENCE_TABLE, Key: { pk: `USER#${userId}`, sk: 'STATE' }, ConsistentRead: true });
  return out.Item;
}

/** An item with the user id taken out (and the sweep shard, a hash of it), to compare two users' items. */
async function comparable(userId: string): Promise<Record<string, unknown>> {
  const found = { ...(await item(userId)) };
  expect(found.pk).toBe(`USER#${userId}`);
  expect(found.userId).toBe(userId);
  if (found.sweepAt !== undefined) expect(found.sweepShard).toMatch(/^S#\d$/);
  delete found.pk;
  delete found.userId;
  delete found.sweepShard;
  // the online list's shard is the user's own too: compared as there or not
  if (found.onlineShard !== undefined) {
    expect(found.onlineShard).toMatch(/^O#\d+$/);
    found.onlineShard = 'listed';
  }
  return found;
}

interface Start {
  visibility?: Visibility;
  customStatus?: string;
  activity?: Record<string, unknown>;
  /** no device: only settings */
  offline?: true;
  /** the last write recorded a friendship change (`rc`) */
  friendship?: true;
  /** a heartbeat extended the device after the last full write */
  heartbeat?: true;
}

/** Two users with the same history (the same writes at the same fake times). */
async function twins(start: Start): Promise<[string, string]> {
  const pair: [string, string] = [`qp-${++n}-fast`, `qp-${n}-full`];
  for (const u of pair) {
    const opts = { clock: () => t0, budget };
    if (!start.offline) await store.mutateUser(u, (s, now) => upsertDevice(s, 'web', { kind: 'ws', conn: 'c1', expiresAt: now + 120_000 }, now), opts);
    if (start.visibility) await store.mutateUser(u, (s) => ({ ...s, visibility: start.visibility as Visibility }), opts);
    if (start.customStatus !== undefined || start.activity !== undefined)
      await store.mutateUser(u, (s, now) => applyPatch(s, { customStatus: start.customStatus, activity: start.activity }, now), opts);
    if (start.friendship) await store.changeFriendship(u, `${u}-friend`, true, () => true);
    if (start.heartbeat) expect(await store.touchDevice(u, 'web', t0 + 150_000, t0 + 500, { id: 'c1', window: 1 })).not.toBeNull();
  }
  return pair;
}

/** What updatePresence's full path does: the read-modify-write with the change budget. */
const fullPath = (userId: string, patch: PresencePatch, now: number, current?: { item: Record<string, unknown> | undefined }) =>
  store.mutateUser(userId, (s, t) => applyPatch(s, patch, t), { clock: () => now, budget, current });

describe('PATCH fast path', () => {
  const cases: [string, Start, store.QuickPatch][] = [
    ['a custom status, visible to everyone', {}, { customStatus: 'In a meeting' }],
    ['an activity, visible to friends (hidden view frozen)', { visibility: 'friends' }, { activity: { game: 'chess', move: 12 } }],
    [
      'both, one of them unchanged, visible to nobody',
      { visibility: 'nobody', customStatus: 'same', activity: { a: 1 } },
      { customStatus: 'same', activity: { a: 2 } },
    ],
    ['clearing both', { customStatus: 'x', activity: { a: 1 } }, { customStatus: null, activity: null }],
    ['after a friendship change recorded on the item (rc)', { visibility: 'friends', friendship: true }, { customStatus: 'rc gone' }],
  ];
  for (const [name, start, patch] of cases) {
    it(`writes exactly what the full path writes: ${name}`, async () => {
      const [fast, full] = await twins(start);
      requests.reset();
      const out = await store.quickPatch(fast, patch, budget, later);
      expect(requests.counts).toEqual({ UpdateItem: 1 });
      expect('state' in out).toBe(true);
      const result = await fullPath(full, patch, later);
      expect(result.visibleChange).toBe(true);
      const written = await comparable(fast);
      expect(written).toEqual(await comparable(full));
      expect(written.quiet).toBeUndefined();
      expect(written.rc).toBeUndefined();
      // and answers with the state it wrote
      const { userId: _a, ...returned } = (out as { state: UserState }).state;
      const { userId: _b, ...expected } = result.state;
      expect(returned).toEqual(expected);
    });
  }

  it('after heartbeats, writes the same but keeps the earlier sweepAt (a lower bound, as every heartbeat leaves it)', async () => {
    const [fast, full] = await twins({ heartbeat: true });
    expect('state' in (await store.quickPatch(fast, { customStatus: 'hb' }, budget, later))).toBe(true);
    await fullPath(full, { customStatus: 'hb' }, later);
    const [a, b] = [await comparable(fast), await comparable(full)];
    expect(a.sweepAt).toBe(t0 + 120_000);
    expect(b.sweepAt).toBe(t0 + 150_000);
    delete a.sweepAt;
    delete b.sweepAt;
    expect(a).toEqual(b);
  });

  const misses: [string, Start, store.QuickPatch, number][] = [
    ['the value is unchanged (a quiet write)', { customStatus: 'same' }, { customStatus: 'same' }, later],
    ['the budget window of the last change is this one', {}, { customStatus: 'soon' }, t0 + 1_000],
    ['the device has expired (the sweep is due)', {}, { customStatus: 'late' }, t0 + 121_000],
    ['the user has no device', { offline: true, customStatus: 'x' }, { customStatus: 'y' }, later],
    ['the user has no item yet', { offline: true }, { customStatus: 'first' }, later],
  ];
  for (const [name, start, patch, now] of misses) {
    it(`writes nothing and hands the item to the full path (2 requests in all) when ${name}`, async () => {
      const [fast, full] = await twins(start);
      const before = await item(fast);
      requests.reset();
      const out = await store.quickPatch(fast, patch, budget, now);
      expect('miss' in out).toBe(true);
      const { miss } = out as { miss: { item: Record<string, unknown> | undefined } };
      expect(miss.item).toEqual(before);
      expect(await item(fast)).toEqual(before);
      requests.reset();
      await fullPath(fast, patch, now, miss);
      expect(requests.counts).toEqual({ PutItem: 1 });
      await fullPath(full, patch, now);
      expect(await comparable(fast)).toEqual(await comparable(full));
    });
  }

  it('keeps optimistic concurrency: a read-modify-write that read before the fast write starts again, and both changes stay', async () => {
    const [u] = await twins({});
    const stale = await item(u);
    expect('state' in (await store.quickPatch(u, { customStatus: 'fast' }, budget, later))).toBe(true);
    requests.reset();
    // the full path holding the item as it was before the fast write: its conditional Put fails on `rev`, then it reads again
    const result = await store.mutateUser(u, (s, now) => applyPatch(s, { activity: { slow: true } }, now), {
      clock: () => later + 1,
      budget,
      current: { item: stale },
    });
    expect(requests.counts).toEqual({ PutItem: 2, GetItem: 1 });
    expect(result.state.customStatus).toBe('fast');
    expect(result.state.activity).toEqual({ slow: true });
    expect(result.state.version).toBe(3); // connect 1, fast 2, slow 3
  });
});
