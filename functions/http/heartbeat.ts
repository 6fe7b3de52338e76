import { httpRoute } from '../commons/http.ts';
import { heartbeat } from '../commons/operations.ts';
import { heartbeatBody } from '../core/validators.generated.js';

export const handler = httpRoute<{ device?: string }>({ body: heartbeatBody }, ({ userId, body }) => heartbeat(userId, body.device ?? 'http', 'http'));
