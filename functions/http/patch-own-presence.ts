import { httpRoute } from '../commons/http.ts';
import { updatePresence } from '../commons/operations.ts';
import type { PresencePatch } from '../core/presence.ts';
import { patchPresenceBody } from '../core/schemas.ts';

export const handler = httpRoute<PresencePatch>({ body: patchPresenceBody }, ({ userId, body }) => updatePresence(userId, body));
