import { httpRoute } from '../commons/http.ts';
import { lookupPresence } from '../commons/operations.ts';
import { badRequest } from '../core/errors.ts';
import { LIMITS } from '../core/schemas.ts';
import { validate } from '../core/validate.ts';
import { batchPresenceQuery, userId } from '../core/validators.generated.js';

export const handler = httpRoute({ query: batchPresenceQuery }, async (req) => {
  const ids = (req.query.userIds as string).split(',');
  for (const [i, id] of ids.entries()) {
    const problem = validate(userId, id, `userIds[${i}]`);
    if (problem) throw badRequest(problem);
  }
  if (new Set(ids).size > LIMITS.userIdsPerCall) throw badRequest(`At most ${LIMITS.userIdsPerCall} distinct userIds per call`);
  // offline users are included unless includeOffline=false
  return { presence: await lookupPresence(req.userId, ids, req.query.includeOffline !== 'false') };
});
