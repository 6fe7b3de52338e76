import { httpRoute } from '../commons/http.ts';
import { presenceFor } from '../commons/operations.ts';
import { userId } from '../core/validators.generated.js';

export const handler = httpRoute({ params: { userId } }, async (req) => {
  const [presence] = await presenceFor(req.userId, [req.params.userId as string]);
  return presence;
});
