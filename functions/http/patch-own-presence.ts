import { httpRoute } from '../commons/http.ts';
import { updatePresence } from '../commons/operations.ts';
import type { PresencePatch } from '../core/presence.ts';
import { patchPresenceBody } from '../core/validators.generated.js';

export const handler = httpRoute<PresencePatch>({ body: patchPresenceBody }, ({ userId, body }) => updatePresence(userId, body));
