import { httpRoute } from '../commons/http.ts';
import { listSubscriptions } from '../commons/operations.ts';
import { badRequest } from '../core/errors.ts';
import { decodeCursor, encodeCursor, LIMITS, listSubscriptionsQuery } from '../core/schemas.ts';

export const handler = httpRoute({ query: listSubscriptionsQuery }, async ({ userId, query }) => {
  const limit = query.limit === undefined ? LIMITS.listPageDefault : Number(query.limit);
  if (limit < 1 || limit > LIMITS.listPageMax) throw badRequest(`limit must be 1–${LIMITS.listPageMax}`);
  const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
  if (after === undefined) throw badRequest('cursor is not valid');
  const page = await listSubscriptions(userId, limit, after);
  return { ...page, nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor) };
});
