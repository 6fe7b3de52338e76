import { httpRoute } from '../commons/http.ts';
import { friendsPresence } from '../commons/operations.ts';
import { friendsPresenceQuery } from '../core/schemas.ts';

export const handler = httpRoute({ query: friendsPresenceQuery }, ({ userId, query }) => friendsPresence(userId, query.includeOffline === 'true'));
