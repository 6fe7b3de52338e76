/** The subscription cap rule of the contract, as a pure plan. */
export interface SubscriptionPlan {
  /** written (new or renewed), in request order */
  subscribed: { userId: string; expiresAt: number }[];
  /** new ones shorter than every existing one when the cap is reached */
  rejected: string[];
  /** existing ones replaced by longer new ones */
  evicted: string[];
}

/**
 * Re-subscribing renews. New targets fill free slots; past the cap a new one
 * replaces the existing subscription with the least remaining time if it
 * outlives it, else it is rejected.
 */
export function planSubscriptions(
  existing: readonly { userId: string; expiresAt: number }[],
  targets: readonly string[],
  expiresAt: number,
  cap: number,
): SubscriptionPlan {
  const held = new Map(existing.map((s) => [s.userId, s.expiresAt]));
  const requested = new Set(targets);
  // candidates for eviction: held and not renewed by this call, shortest first
  const evictable = existing.filter((s) => !requested.has(s.userId)).sort((a, b) => a.expiresAt - b.expiresAt || (a.userId < b.userId ? -1 : 1));
  let count = held.size;
  const plan: SubscriptionPlan = { subscribed: [], rejected: [], evicted: [] };
  for (const t of targets) {
    if (held.has(t)) {
      plan.subscribed.push({ userId: t, expiresAt });
      continue;
    }
    if (count < cap) {
      count++;
      plan.subscribed.push({ userId: t, expiresAt });
      continue;
    }
    const shortest = evictable[0];
    if (shortest && shortest.expiresAt < expiresAt) {
      evictable.shift();
      plan.evicted.push(shortest.userId);
      plan.subscribed.push({ userId: t, expiresAt });
    } else {
      plan.rejected.push(t);
    }
  }
  return plan;
}
