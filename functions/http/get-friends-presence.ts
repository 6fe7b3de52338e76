import { httpRoute, paged } from '../commons/http.ts';
import { friendsPresence } from '../commons/operations.ts';
import { friendsPresenceQuery } from '../core/validators.generated.js';

/** All friends at once, or page by page when `limit` or `cursor` is given (the listen reply's `nextCursor` continues here). */
export const handler = httpRoute({ query: friendsPresenceQuery }, ({ userId, query }) => {
  const includeOffline = query.includeOffline === 'true';
  if (query.limit === undefined && query.cursor === undefined) return friendsPresence(userId, includeOffline);
  return paged(query, async (limit, after) => {
    const page = await friendsPresence(userId, includeOffline, { limit, after });
    return { presence: page.presence, nextCursor: page.nextCursor ?? null };
  });
});
