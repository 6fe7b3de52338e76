import { SCOPES } from '../../lib/routes.ts';
import { httpRoute } from '../commons/http.ts';
import { sysSetProfile } from '../commons/operations.ts';
import type { Profile } from '../core/presence.ts';
import { sysProfileBody, userId } from '../core/validators.generated.js';

export const handler = httpRoute<Partial<Profile>>({ scope: SCOPES.sys, body: sysProfileBody, params: { userId } }, ({ params, body }) =>
  sysSetProfile(params.userId as string, body),
);
