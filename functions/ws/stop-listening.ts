import { stopListening } from '../commons/operations.ts';
import { wsAction } from '../commons/ws.ts';
import { wsStopListening } from '../core/validators.generated.js';

export const handler = wsAction({ schema: wsStopListening }, (_msg, who) => stopListening(who));
