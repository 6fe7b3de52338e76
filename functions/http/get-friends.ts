import { httpRoute } from '../commons/http.ts';
import { friends } from '../commons/operations.ts';

export const handler = httpRoute({}, ({ userId }) => friends(userId));
