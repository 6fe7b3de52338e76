import { describe, expect, it } from 'vitest';
import { planSubscriptions } from '../../functions/core/subscriptions.ts';

const subs = (n: number, exp: (i: number) => number) => Array.from({ length: n }, (_, i) => ({ userId: `u${i}`, expiresAt: exp(i) }));

describe('subscription cap', () => {
  it('fills free slots and renews existing ones', () => {
    const plan = planSubscriptions(
      subs(2, () => 100),
      ['u0', 'x'],
      500,
      3,
    );
    expect(plan).toEqual({
      subscribed: [
        { userId: 'u0', expiresAt: 500 },
        { userId: 'x', expiresAt: 500 },
      ],
      rejected: [],
      evicted: [],
    });
  });

  it('evicts the shortest existing subscriptions for longer new ones', () => {
    const existing = subs(3, (i) => 100 * (i + 1)); // u0:100 u1:200 u2:300
    const plan = planSubscriptions(existing, ['a', 'b'], 250, 3);
    expect(plan.evicted).toEqual(['u0', 'u1']);
    expect(plan.subscribed.map((s) => s.userId)).toEqual(['a', 'b']);
    expect(plan.rejected).toEqual([]);
  });

  it('rejects a new one shorter than every existing one', () => {
    const plan = planSubscriptions(
      subs(3, () => 1000),
      ['a'],
      999,
      3,
    );
    expect(plan).toEqual({ subscribed: [], rejected: ['a'], evicted: [] });
  });

  it('never evicts a subscription renewed in the same call', () => {
    const plan = planSubscriptions(
      subs(2, (i) => (i === 0 ? 10 : 20)),
      ['u0', 'new'],
      30,
      2,
    );
    expect(plan.evicted).toEqual(['u1']);
    expect(plan.subscribed.map((s) => s.userId)).toEqual(['u0', 'new']);
  });
});
