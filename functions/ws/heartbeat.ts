import { wsAction } from '../commons/ws.ts';
import { wsSchemas } from '../core/schemas.ts';

/**
 * Every message is a heartbeat; this one does nothing else. One-way: answered
 * with the new expiry only when it carries a requestId (see wsAction).
 */
export const handler = wsAction({ schema: wsSchemas.heartbeat, oneWay: true }, async (_msg, _who, touch) => ({
  device: touch.device,
  expiresAt: touch.expiresAt,
}));
