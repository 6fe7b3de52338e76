import { unsubscribe } from '../commons/operations.ts';
import { wsAction } from '../commons/ws.ts';
import { wsUnsubscribe } from '../core/validators.generated.js';

export const handler = wsAction<{ userIds: string[] }>({ schema: wsUnsubscribe }, (msg, who) => unsubscribe(who.userId, msg.userIds));
