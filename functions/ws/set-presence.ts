import { updatePresence } from '../commons/operations.ts';
import { wsAction } from '../commons/ws.ts';
import type { DeviceStatus, PresencePatch } from '../core/presence.ts';
import { wsSchemas } from '../core/schemas.ts';

type SetPresence = PresencePatch & { status?: DeviceStatus; ext?: string | null; action: string; requestId?: unknown };

// the message's touch returns the state item: the change is then one conditional write on it
export const handler = wsAction<SetPresence>({ schema: wsSchemas.setPresence, withState: true }, (msg, who, touch) => {
  const { action: _a, requestId: _r, status, ext, ...patch } = msg;
  return updatePresence(who.userId, patch, { device: who.device, kind: 'ws', conn: who.connectionId, status, ext }, touch.current);
});
