import { heartbeat } from '../commons/operations.ts';
import { wsAction } from '../commons/ws.ts';
import { wsSchemas } from '../core/schemas.ts';

export const handler = wsAction({ schema: wsSchemas.heartbeat, touch: false }, (_msg, who) => heartbeat(who.userId, who.device, 'ws', who.connectionId));
