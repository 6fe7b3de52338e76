import { SCOPES } from '../../lib/routes.ts';
import { httpRoute } from '../commons/http.ts';
import { type SysPresenceInput, sysInitialize } from '../commons/operations.ts';
import { sysPresenceBody, userId } from '../core/validators.generated.js';

export const handler = httpRoute<SysPresenceInput>({ scope: SCOPES.sys, body: sysPresenceBody, params: { userId } }, ({ params, body }) =>
  sysInitialize(params.userId as string, body),
);
