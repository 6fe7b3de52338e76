import { SCOPES } from '../../lib/routes.ts';
import { httpRoute } from '../commons/http.ts';
import { sysTerminate } from '../commons/operations.ts';
import { sysTerminateQuery, userId } from '../core/validators.generated.js';

export const handler = httpRoute({ scope: SCOPES.sys, query: sysTerminateQuery, params: { userId } }, ({ params, query }) =>
  sysTerminate(params.userId as string, query.device, query.all === 'true'),
);
