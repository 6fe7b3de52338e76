import { updatePresence } from '../commons/operations.ts';
import { wsAction } from '../commons/ws.ts';
import type { DeviceStatus, PresencePatch } from '../core/presence.ts';
import { wsSetPresence } from '../core/validators.generated.js';

type SetPresence = PresencePatch & { status?: DeviceStatus; ext?: string | null; action: string; requestId?: unknown };

// the message's touch returns the state item: the change is then one conditional write on it
export const handler = wsAction<SetPresence>({ schema: wsSetPresence, withState: true }, (msg, who, touch) => {
  const { action: _a, requestId: _r, status, ext, ...patch } = msg;
  return updatePresence(who.userId, patch, { device: who.device, kind: 'ws', conn: who.connectionId, status, ext }, touch.current);
});
