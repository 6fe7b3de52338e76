import { subscribe } from '../commons/operations.ts';
import { fitted, wsAction } from '../commons/ws.ts';
import { wsSchemas } from '../core/schemas.ts';

export const handler = wsAction<{ userIds: string[]; expiresIn?: number }>({ schema: wsSchemas.subscribe }, async (msg, who) =>
  fitted(await subscribe(who.userId, msg.userIds, msg.expiresIn)),
);
