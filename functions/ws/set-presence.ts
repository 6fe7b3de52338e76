import { updatePresence } from '../commons/operations.ts';
import { wsAction } from '../commons/ws.ts';
import type { DeviceChange, PresencePatch } from '../core/presence.ts';
import { wsSetPresence } from '../core/validators.generated.js';

type SetPresence = PresencePatch & DeviceChange & { action: string; requestId?: unknown };

// the message's touch returns the state item: the change is then one conditional write on it
export const handler = wsAction<SetPresence>({ schema: wsSetPresence, withState: true }, (msg, who, touch) => {
  const { action: _a, requestId: _r, status, ext, call, ...patch } = msg;
  return updatePresence(who.userId, patch, { device: who.device, kind: 'ws', conn: who.connectionId, status, ext, call }, touch.current);
});
