import { httpRoute } from '../commons/http.ts';
import { subscribe } from '../commons/operations.ts';
import { subscribeBody } from '../core/schemas.ts';

export const handler = httpRoute<{ userIds: string[]; expiresIn?: number }>({ body: subscribeBody }, ({ userId, body }) =>
  subscribe(userId, body.userIds, body.expiresIn),
);
