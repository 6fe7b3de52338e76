import { updatePresence } from '../commons/operations.ts';
import { wsAction } from '../commons/ws.ts';
import type { DeviceStatus, PresencePatch } from '../core/presence.ts';
import { wsSchemas } from '../core/schemas.ts';

type SetPresence = PresencePatch & { status?: DeviceStatus; ext?: string | null; action: string; requestId?: unknown };

export const handler = wsAction<SetPresence>({ schema: wsSchemas.setPresence }, (msg, who) => {
  const { action: _a, requestId: _r, status, ext, ...patch } = msg;
  return updatePresence(who.userId, patch, { device: who.device, kind: 'ws', conn: who.connectionId, status, ext });
});
