/** `$connect`: the connection becomes a live device of the token's user. */
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { log } from '../commons/log.ts';
import { connectDevice } from '../commons/operations.ts';
import { identityOf, type WsEvent } from '../commons/ws.ts';
import { toApiError } from '../core/errors.ts';
import { validate } from '../core/validate.ts';
import { device } from '../core/validators.generated.js';

export const handler = async (event: WsEvent): Promise<APIGatewayProxyResultV2> => {
  try {
    const who = identityOf(event);
    const problem = validate(device, who.device, 'device');
    if (problem) return { statusCode: 400, body: JSON.stringify({ error: 'bad_request', message: problem }) };
    await connectDevice(who.userId, who.device, who.connectionId);
    return { statusCode: 200 };
  } catch (error) {
    const err = toApiError(error);
    if (err.status >= 500) log.error('connect failed', { error });
    return { statusCode: err.status, body: JSON.stringify(err.toBody()) };
  }
};
