import { SCOPES } from '../../lib/routes.ts';
import { httpRoute, paged } from '../commons/http.ts';
import { onlinePresence } from '../commons/operations.ts';
import { decodeShardCursor, encodeShardCursor } from '../core/schemas.ts';
import { onlinePresenceQuery } from '../core/validators.generated.js';

/** The account-wide online list, page by page (operators, or an app's back end). */
export const handler = httpRoute({ scope: [SCOPES.admin as string, SCOPES.app as string], query: onlinePresenceQuery }, ({ query }) =>
  paged(query, (limit, after) => onlinePresence(limit, after), { encode: encodeShardCursor, decode: decodeShardCursor }),
);
