import { presenceFor } from '../commons/operations.ts';
import { fitted, wsAction } from '../commons/ws.ts';
import { wsSchemas } from '../core/schemas.ts';

export const handler = wsAction<{ userIds: string[] }>({ schema: wsSchemas.getPresence }, async (msg, who) =>
  fitted({ presence: await presenceFor(who.userId, msg.userIds) }),
);
