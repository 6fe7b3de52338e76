import { httpRoute } from '../commons/http.ts';
import { listSubscriptions } from '../commons/operations.ts';
import { badRequest } from '../core/errors.ts';
import { decodeCursor, encodeCursor, listSubscriptionsQuery, pageLimit } from '../core/schemas.ts';

export const handler = httpRoute({ query: listSubscriptionsQuery }, async ({ userId, query }) => {
  const limit = pageLimit(query.limit);
  if (typeof limit === 'string') throw badRequest(limit);
  const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
  if (after === undefined) throw badRequest('cursor is not valid');
  const page = await listSubscriptions(userId, limit, after);
  return { ...page, nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor) };
});
