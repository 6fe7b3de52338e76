import { httpRoute } from '../commons/http.ts';
import { heartbeat } from '../commons/operations.ts';
import { heartbeatBody } from '../core/schemas.ts';

export const handler = httpRoute<{ device?: string }>({ body: heartbeatBody }, ({ userId, body }) => heartbeat(userId, body.device ?? 'http', 'http'));
