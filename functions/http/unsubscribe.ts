import { httpRoute } from '../commons/http.ts';
import { unsubscribe } from '../commons/operations.ts';
import { unsubscribeBody } from '../core/validators.generated.js';

export const handler = httpRoute<{ userIds: string[] }>({ body: unsubscribeBody }, ({ userId, body }) => unsubscribe(userId, body.userIds));
