import { SCOPES } from '../../lib/routes.ts';
import { httpRoute } from '../commons/http.ts';
import { sweep } from '../commons/operations.ts';

export const handler = httpRoute({ scope: SCOPES.admin }, () => sweep());
