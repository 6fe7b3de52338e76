import { httpRoute } from '../commons/http.ts';
import { forcePush } from '../commons/operations.ts';

export const handler = httpRoute({}, ({ userId }) => forcePush(userId));
