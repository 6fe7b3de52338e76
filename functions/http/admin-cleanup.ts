import { httpRoute } from '../commons/http.ts';
import { sweep } from '../commons/operations.ts';
import { SCOPES } from '../../lib/routes.ts';

export const handler = httpRoute({ scope: SCOPES.admin }, () => sweep());
