import { presenceFor } from '../commons/operations.ts';
import { fitted, wsAction } from '../commons/ws.ts';
import { wsGetPresence } from '../core/validators.generated.js';

export const handler = wsAction<{ userIds: string[] }>({ schema: wsGetPresence }, async (msg, who) =>
  fitted({ presence: await presenceFor(who.userId, msg.userIds) }),
);
