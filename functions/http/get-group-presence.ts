import { httpRoute, paged } from '../commons/http.ts';
import { groupPresence } from '../commons/operations.ts';
import { groupId, groupPresenceQuery } from '../core/validators.generated.js';

export const handler = httpRoute({ query: groupPresenceQuery, params: { groupId } }, ({ userId, params, query }) =>
  paged(query, (limit, after) => groupPresence(userId, params.groupId as string, query.includeOffline === 'true', limit, after)),
);
