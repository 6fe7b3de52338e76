import { httpRoute } from '../commons/http.ts';
import { setDevice } from '../commons/operations.ts';
import type { CallState, Status } from '../core/presence.ts';
import { device, putDeviceBody } from '../core/validators.generated.js';

export const handler = httpRoute<{ status: Status; ext?: string | null; call?: CallState }>(
  { body: putDeviceBody, params: { device } },
  ({ userId, params, body }) => setDevice(userId, params.device as string, body.status, body.ext, body.call),
);
