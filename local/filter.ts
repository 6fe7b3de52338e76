/**
 * The subset of Lambda event filtering (EventBridge-style patterns) that the
 * stack's stream filter uses: nested objects, value lists, `exists`,
 * `anything-but`. The local poller applies the same patterns as the event
 * source mapping, so the stream handler sees the same records in both places.
 */
type Pattern = Record<string, unknown>;

function matchValue(rule: unknown, value: unknown, present: boolean): boolean {
  if (rule !== null && typeof rule === 'object') {
    const r = rule as Record<string, unknown>;
    if ('exists' in r) return r.exists === present;
    if ('anything-but' in r) {
      const list = Array.isArray(r['anything-but']) ? r['anything-but'] : [r['anything-but']];
      return present && !list.includes(value);
    }
    return false;
  }
  return present && rule === value;
}

export function matches(pattern: Pattern, event: unknown): boolean {
  const obj = (event ?? {}) as Record<string, unknown>;
  return Object.entries(pattern).every(([key, rule]) => {
    const present = obj[key] !== undefined;
    if (Array.isArray(rule)) {
      const values = Array.isArray(obj[key]) ? (obj[key] as unknown[]) : [obj[key]];
      return rule.some((r) =>
        r !== null && typeof r === 'object' && 'exists' in r ? matchValue(r, undefined, present) : values.some((v) => matchValue(r, v, present)),
      );
    }
    if (rule !== null && typeof rule === 'object') return matches(rule as Pattern, obj[key]);
    return false;
  });
}

/** Filters are ORed, as in an event source mapping's FilterCriteria. */
export const matchesAny = (patterns: readonly Pattern[], event: unknown): boolean => patterns.length === 0 || patterns.some((p) => matches(p, event));
