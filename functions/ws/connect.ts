/**
 * `$connect`: the connection becomes a live device of the token's user;
 * `?format=<name>` asks for a compatibility facade's push format
 * (functions/compat/push-formats.ts, docs/compat.md).
 */
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { lambdaHandler } from '../commons/lambda.ts';
import { logger } from '../commons/logger.ts';
import { count, MetricName } from '../commons/metrics.ts';
import { connectDevice } from '../commons/operations.ts';
import { correlate, identityOf, type WsEvent } from '../commons/ws.ts';
import { isPushFormat, PUSH_FORMATS } from '../compat/push-formats.ts';
import { toApiError } from '../core/errors.ts';
import { validate } from '../core/validate.ts';
import { device } from '../core/validators.generated.js';

export const handler = lambdaHandler(
  async (event: WsEvent): Promise<APIGatewayProxyResultV2> => {
    try {
      const who = identityOf(event);
      const problem = validate(device, who.device, 'device');
      if (problem) return { statusCode: 400, body: JSON.stringify({ error: 'bad_request', message: problem }) };
      const format = event.queryStringParameters?.format;
      if (format !== undefined && !isPushFormat(format)) {
        const message = `format must be one of ${Object.keys(PUSH_FORMATS).join(', ')} (or absent: the contract's pushes)`;
        return { statusCode: 400, body: JSON.stringify({ error: 'bad_request', message }) };
      }
      await connectDevice(who.userId, who.device, who.connectionId, format);
      return { statusCode: 200 };
    } catch (error) {
      const err = toApiError(error);
      if (err.status >= 500) logger.error('connect failed', { error });
      if (err.code === 'rate_limited') count(MetricName.RateLimited);
      return { statusCode: err.status, body: JSON.stringify(err.toBody()) };
    }
  },
  { use: [correlate()] },
);
