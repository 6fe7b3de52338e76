import { httpRoute } from '../commons/http.ts';
import { ownPresence } from '../commons/operations.ts';

export const handler = httpRoute({}, ({ userId }) => ownPresence(userId));
