import { wsAction } from '../commons/ws.ts';
import { wsSchemas } from '../core/schemas.ts';

/** Every message is a heartbeat; this one only answers with the new expiry. */
export const handler = wsAction({ schema: wsSchemas.heartbeat }, async (_msg, _who, touch) => ({ device: touch.device, expiresAt: touch.expiresAt }));
