import { SCOPES } from '../../lib/routes.ts';
import { httpRoute } from '../commons/http.ts';
import { sysExtend } from '../commons/operations.ts';
import { sysExtendBody, userId } from '../core/validators.generated.js';

export const handler = httpRoute<{ expiresIn: number; device?: string }>({ scope: SCOPES.sys, body: sysExtendBody, params: { userId } }, ({ params, body }) =>
  sysExtend(params.userId as string, body),
);
