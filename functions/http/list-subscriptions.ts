import { httpRoute, paged } from '../commons/http.ts';
import { listSubscriptions } from '../commons/operations.ts';
import { listSubscriptionsQuery } from '../core/validators.generated.js';

export const handler = httpRoute({ query: listSubscriptionsQuery }, ({ userId, query }) =>
  paged(query, (limit, after) => listSubscriptions(userId, limit, after)),
);
