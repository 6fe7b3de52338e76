import { httpRoute } from '../commons/http.ts';
import { groupPresence } from '../commons/operations.ts';
import { badRequest } from '../core/errors.ts';
import { decodeCursor, encodeCursor, groupId, groupPresenceQuery, pageLimit } from '../core/schemas.ts';

export const handler = httpRoute({ query: groupPresenceQuery, params: { groupId } }, async ({ userId, params, query }) => {
  const limit = pageLimit(query.limit);
  if (typeof limit === 'string') throw badRequest(limit);
  const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
  if (after === undefined) throw badRequest('cursor is not valid');
  const page = await groupPresence(userId, params.groupId as string, query.includeOffline === 'true', limit, after);
  return { ...page, nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor) };
});
