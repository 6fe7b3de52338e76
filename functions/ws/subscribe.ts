import { subscribe } from '../commons/operations.ts';
import { wsAction } from '../commons/ws.ts';
import { wsSchemas } from '../core/schemas.ts';

export const handler = wsAction<{ userIds: string[]; expiresIn?: number }>({ schema: wsSchemas.subscribe }, (msg, who) =>
  subscribe(who.userId, msg.userIds, msg.expiresIn),
);
