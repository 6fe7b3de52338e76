import { SCOPES } from '../../lib/routes.ts';
import { httpRoute } from '../commons/http.ts';
import { addFriends } from '../commons/operations.ts';
import { userId } from '../core/validators.generated.js';

export const handler = httpRoute({ scope: SCOPES.sys, params: { userId, friendId: userId } }, ({ params }) =>
  addFriends(params.userId as string, params.friendId as string),
);
