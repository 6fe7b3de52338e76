import { lookupPresence } from '../commons/operations.ts';
import { fitted, wsAction } from '../commons/ws.ts';
import { wsGetPresence } from '../core/validators.generated.js';

export const handler = wsAction<{ userIds: string[]; includeOffline?: boolean }>({ schema: wsGetPresence }, async (msg, who) =>
  fitted({ presence: await lookupPresence(who.userId, msg.userIds, msg.includeOffline) }),
);
