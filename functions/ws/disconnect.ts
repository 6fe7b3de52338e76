/** `$disconnect` (best effort on AWS; a missed one is covered by expiry). */
import { disconnect } from '../commons/operations.ts';
import { identityOf, type WsEvent } from '../commons/ws.ts';

export const handler = async (event: WsEvent) => {
  const who = identityOf(event);
  await disconnect(who.userId, who.connectionId);
  return { statusCode: 200 };
};
