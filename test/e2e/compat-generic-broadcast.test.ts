/**
 * The generic facade's everyone-broadcast (opt-in, docs/compat.md): with
 * `genericBroadcast: 2`, the first two `format=generic` connections hear
 * every change, followed or not, in the API's `presence_update` format; a
 * third hears what it follows; a closed connection's place is taken by the
 * next one; the contract's connections and visibility are as without it.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { eventually, isPushOf, sleep, token, useStack } from '../support/e2e.ts';

const CAP = 2;
const fx = useStack({ genericBroadcast: CAP, sweepIntervalSeconds: 3600 });

interface Generic {
  ws: WebSocket;
  messages: any[];
  close(): Promise<void>;
}

/** A connection as the API's clients open it: /ws/presence?token= */
async function generic(user: string): Promise<Generic> {
  const ws = new WebSocket(`${fx.stack.wsUrl}/ws/presence?token=${token(user)}`);
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ws,
    messages,
    close: () =>
      new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close();
      }),
  };
}

const heartbeat = (user: string) => fetch(`${fx.stack.httpUrl}/users/me/heartbeat`, { method: 'POST', headers: { authorization: `Bearer ${token(user)}` } });
const of = (c: Generic, userId: number) => c.messages.filter((m) => m.type === 'presence_update' && m.data.user_id === userId);

describe('the everyone-broadcast of the generic facade (cap 2)', () => {
  it('the first two generic connections hear a stranger; the third, and contract connections, do not; a closed one leaves its place', async () => {
    const a = await generic('7001');
    const b = await generic('7002');
    const c = await generic('7003');
    const contract = await fx.client('7001', 'contract-tab');
    expect((await heartbeat('7009')).status).toBe(200);
    for (const listener of [a, b]) {
      const [m] = await eventually(async () => (of(listener, 7009).length ? of(listener, 7009) : undefined));
      expect(m).toMatchObject({ type: 'presence_update', data: { user_id: 7009, is_online: true, is_busy: false } });
    }
    // the change reached both broadcast listeners; a third one would have had it in the same delivery
    await sleep(300);
    expect(of(c, 7009)).toEqual([]);
    expect(contract.pushes().filter(isPushOf('7009'))).toEqual([]);

    // one place frees up: a generic connection opened once the closed one's $disconnect ran takes it
    await a.close();
    let d: Generic | undefined;
    for (let attempt = 0; attempt < 20 && !d; attempt++) {
      const candidate = await generic('7004');
      const stranger = 7200 + attempt;
      await heartbeat(String(stranger));
      const heard = await eventually(async () => of(candidate, stranger).length > 0 || undefined, 2000).then(
        () => true,
        () => false,
      );
      if (heard) d = candidate;
      else await candidate.close();
    }
    expect(d).toBeDefined();
    await d?.close();
    await Promise.all([b.close(), c.close(), contract.close()]);
  });

  it('visibility applies: a user nobody may see is not broadcast', async () => {
    const listener = await generic('7101');
    try {
      await fetch(`${fx.stack.httpUrl}/v1/me/presence`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token('7102')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ visibility: 'nobody' }),
      });
      await heartbeat('7102');
      // a change of a visible user, after: once it arrives, the hidden one's would have too
      await heartbeat('7103');
      await eventually(async () => of(listener, 7103).length > 0 || undefined);
      expect(of(listener, 7102)).toEqual([]);
    } finally {
      await listener.close();
    }
  });
});
