import { httpRoute } from '../commons/http.ts';
import { subscribe } from '../commons/operations.ts';
import { subscribeBody } from '../core/validators.generated.js';

export const handler = httpRoute<{ userIds: string[]; expiresIn?: number }>({ body: subscribeBody }, ({ userId, body }) =>
  subscribe(userId, body.userIds, body.expiresIn),
);
