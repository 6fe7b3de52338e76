/** `$disconnect` (best effort on AWS; a missed one is covered by expiry). */
import { lambdaHandler } from '../commons/lambda.ts';
import { disconnect } from '../commons/operations.ts';
import { correlate, identityOf, type WsEvent } from '../commons/ws.ts';

export const handler = lambdaHandler(
  async (event: WsEvent) => {
    const who = identityOf(event);
    await disconnect(who.userId, who.connectionId);
    return { statusCode: 200 };
  },
  { use: [correlate()] },
);
