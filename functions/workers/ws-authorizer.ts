/**
 * WebSocket `$connect` REQUEST authorizer: verifies the `token` query
 * parameter and hands the identity to every later route of the connection
 * through the authorizer context.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { verifyToken } from '../commons/auth.ts';
import { lambdaHandler } from '../commons/lambda.ts';
import { logger } from '../commons/logger.ts';
import { count, MetricName } from '../commons/metrics.ts';

/** API Gateway answers the handshake with 401 for this exact message. */
const unauthorized = (reason: string): Error => {
  count(MetricName.AuthorizerRejections);
  logger.info('websocket token rejected', { reason });
  return new Error('Unauthorized');
};

export const handler = lambdaHandler(async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  logger.appendKeys({ correlation_id: event.requestContext?.requestId, connectionId: event.requestContext?.connectionId });
  const token = event.queryStringParameters?.token;
  if (!token) throw unauthorized('no token');
  let claims: Awaited<ReturnType<typeof verifyToken>>;
  try {
    claims = await verifyToken(token);
  } catch (err) {
    throw unauthorized((err as Error).message);
  }
  return {
    principalId: claims.sub,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }],
    },
    context: {
      userId: claims.sub,
      // an authorizer context carries strings only: the scopes (from `scope` or `scp`) space-separated
      scope: claims.scopes.join(' '),
      device: event.queryStringParameters?.device ?? '',
    },
  };
});
