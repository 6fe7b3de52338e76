import { subscribe } from '../commons/operations.ts';
import { fitted, wsAction } from '../commons/ws.ts';
import { wsSubscribe } from '../core/validators.generated.js';

export const handler = wsAction<{ userIds: string[]; expiresIn?: number }>({ schema: wsSubscribe }, async (msg, who) =>
  fitted(await subscribe(who.userId, msg.userIds, msg.expiresIn)),
);
