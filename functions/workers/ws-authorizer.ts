/**
 * WebSocket `$connect` REQUEST authorizer: verifies the `token` query
 * parameter and hands the identity to every later route of the connection
 * through the authorizer context.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { verifyToken } from '../commons/auth.ts';
import { log } from '../commons/log.ts';

export const handler = async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  const token = event.queryStringParameters?.token;
  if (!token) throw new Error('Unauthorized');
  try {
    const claims = await verifyToken(token);
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
  } catch (err) {
    log.info('websocket token rejected', { reason: (err as Error).message });
    // API Gateway answers the handshake with 401 for this exact message.
    throw new Error('Unauthorized');
  }
};
