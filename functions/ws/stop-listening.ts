import { stopListening } from '../commons/operations.ts';
import { wsAction } from '../commons/ws.ts';
import { wsSchemas } from '../core/schemas.ts';

export const handler = wsAction({ schema: wsSchemas.stopListening }, (_msg, who) => stopListening(who));
