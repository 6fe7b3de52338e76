/**
 * The record of the last version fanned out lives in the Graph table under
 * the user's relations (`USER#<id>/PUSHED`), so the fan-out's Query of the
 * user's friends and groups reads it too: a fan-out costs no GetItem of its
 * own, a replay is still recognised, and a record the Presence table kept
 * before the move still counts until the user's next fan-out is recorded.
 * (Stream handler and chunk delivery against DynamoDB Local; the audiences
 * here are empty, so nothing is posted.)
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ddb, dynamodb } from '../../functions/commons/clients.ts';
import { deliverChunk } from '../../functions/commons/fanout.ts';
import * as store from '../../functions/commons/store.ts';
import { emptyState, finalize, type UserState, upsertDevice } from '../../functions/core/presence.ts';
import { handler } from '../../functions/workers/stream.ts';
import { countRequests, createTables } from '../support/dynamo.ts';

const requests = countRequests(dynamodb);
beforeAll(createTables);
beforeEach(() => requests.reset());

/** successive states of a user, versions 1..n (never written: only the records tell of them) */
function states(userId: string, n: number): UserState[] {
  const t = Date.now();
  const out = [emptyState(userId)];
  for (let i = 1; i <= n; i++) {
    const prev = out[i - 1] as UserState;
    out.push(finalize(prev, upsertDevice(prev, `d${i}`, { kind: 'http', expiresAt: t + 60_000 }, t)).state);
  }
  return out;
}

let seq = 0;
/** a stream batch of one record: before → after */
function batch(before: UserState, after: UserState): DynamoDBStreamEvent {
  const img = (s: UserState) => marshall({ pk: `USER#${s.userId}`, sk: 'STATE', ...s }, { removeUndefinedValues: true });
  return {
    Records: [
      {
        eventName: 'MODIFY',
        dynamodb: {
          Keys: { pk: { S: `USER#${after.userId}` }, sk: { S: 'STATE' } },
          OldImage: img(before),
          NewImage: img(after),
          SequenceNumber: String(++seq),
        },
      },
    ],
  } as never;
}

describe('the record of the version pushed', () => {
  it('is read with the relations (no GetItem once recorded), written once delivered, and recognises a replay', async () => {
    const s = states('pr-a', 3);
    await store.addGroupMember('pr-club', 'pr-a', Date.now());
    requests.reset();
    expect((await handler(batch(s[0] as UserState, s[1] as UserState))).batchItemFailures).toEqual([]);
    // the user's first fan-out: no record in the Graph table yet, so the Presence table's old place is looked at once
    expect(requests.counts).toEqual({ Query: 3, GetItem: 1, UpdateItem: 1 });
    expect(await store.relationsOf('pr-a')).toEqual({ friends: new Set(), groups: ['pr-club'], pushed: 1 });
    requests.reset();
    await handler(batch(s[1] as UserState, s[2] as UserState));
    expect(requests.counts).toEqual({ Query: 3, UpdateItem: 1 }); // watchers, relations with the version pushed, the group's listeners
    expect((await store.relationsOf('pr-a')).pushed).toBe(2);
    requests.reset();
    // replayed: recognised by the same Query, nothing recorded again
    await handler(batch(s[1] as UserState, s[2] as UserState));
    expect(requests.counts).toEqual({ Query: 2 });
    await handler(batch(s[2] as UserState, s[3] as UserState));
    expect((await store.relationsOf('pr-a')).pushed).toBe(3);
    // an older record after a newer one: no regression
    await handler(batch(s[0] as UserState, s[1] as UserState));
    expect(await store.pushedVersion('pr-a')).toBe(3);
  });

  it('still recognises what the Presence table recorded before the move, until the next fan-out is recorded in the Graph table', async () => {
    const s = states('pr-old', 3);
    await ddb.put({ TableName: process.env.PRESENCE_TABLE, Item: { pk: 'USER#pr-old', sk: 'PUSHED', v: 2 } });
    requests.reset();
    await handler(batch(s[1] as UserState, s[2] as UserState));
    expect(requests.counts).toEqual({ Query: 2, GetItem: 1 }); // pushed before the move: skipped
    expect((await store.relationsOf('pr-old')).pushed).toBeNull();
    expect(await store.pushedVersion('pr-old')).toBe(2);
    await handler(batch(s[2] as UserState, s[3] as UserState));
    expect((await store.relationsOf('pr-old')).pushed).toBe(3);
    requests.reset();
    await handler(batch(s[2] as UserState, s[3] as UserState));
    expect(requests.counts).toEqual({ Query: 2 }); // the Graph table's record alone from now on
  });

  it('lets a queued chunk skip when a newer version was pushed, and deliver otherwise', async () => {
    const s = states('pr-q', 3);
    await handler(batch(s[1] as UserState, s[2] as UserState));
    const chunk = (after: UserState) => ({
      before: s[0] as UserState,
      after,
      at: Date.now(),
      recipients: [{ u: 'pr-q-w', friend: false, direct: true }],
      queued: true as const,
    });
    requests.reset();
    await deliverChunk(chunk(s[1] as UserState));
    expect(requests.counts).toEqual({ GetItem: 1 }); // version 2 was pushed: skipped before reading any recipient
    requests.reset();
    await deliverChunk(chunk(s[3] as UserState));
    expect(requests.counts).toEqual({ GetItem: 1, BatchGetItem: 1 });
  });
});
