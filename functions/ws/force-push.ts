import { forcePush } from '../commons/operations.ts';
import { wsAction } from '../commons/ws.ts';
import { wsForcePush } from '../core/validators.generated.js';

export const handler = wsAction({ schema: wsForcePush }, (_msg, who) => forcePush(who.userId));
