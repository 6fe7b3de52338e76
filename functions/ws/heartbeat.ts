import { wsAction } from '../commons/ws.ts';
import { wsHeartbeat } from '../core/validators.generated.js';

/**
 * Every message is a heartbeat; this one does nothing else. One-way: answered
 * with the new expiry only when it carries a requestId (see wsAction).
 */
export const handler = wsAction({ schema: wsHeartbeat, oneWay: true }, async (_msg, _who, touch) => ({
  device: touch.device,
  expiresAt: touch.expiresAt,
}));
