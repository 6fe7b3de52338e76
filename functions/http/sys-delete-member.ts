import { SCOPES } from '../../lib/routes.ts';
import { httpRoute } from '../commons/http.ts';
import { removeMember } from '../commons/operations.ts';
import { groupId, userId } from '../core/validators.generated.js';

export const handler = httpRoute({ scope: SCOPES.sys, params: { groupId, userId } }, ({ params }) =>
  removeMember(params.groupId as string, params.userId as string),
);
