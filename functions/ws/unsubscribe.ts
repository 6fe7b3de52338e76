import { unsubscribe } from '../commons/operations.ts';
import { wsAction } from '../commons/ws.ts';
import { wsSchemas } from '../core/schemas.ts';

export const handler = wsAction<{ userIds: string[] }>({ schema: wsSchemas.unsubscribe }, (msg, who) => unsubscribe(who.userId, msg.userIds));
