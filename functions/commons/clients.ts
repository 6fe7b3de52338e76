/** SDK clients, created once per execution environment. */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { config } from './config.ts';
import { DocClient } from './dynamo-doc.ts';
import { connectionPoster } from './post-to-connection.ts';
import { lean } from './sdk.ts';

// the endpoint is the SDK's own business: AWS's by default, DynamoDB Local's when the
// environment names one (AWS_ENDPOINT_URL_DYNAMODB, set by the local stack as Lambda sets AWS_REGION)
export const dynamodb = lean(
  new DynamoDBClient({
    // fail fast rather than hang when the table is unreachable (answered as 503)
    requestHandler: { connectionTimeout: 1000, requestTimeout: 5000 },
    maxAttempts: 3,
    // the resolved middleware stack is built once per command class, not on every send (dynamo-doc.ts says why and how much)
    cacheMiddleware: true,
  }),
);

/** document-style calls (plain values in and out) for the store */
export const ddb = new DocClient(dynamodb);

// one attempt per send: fanout.ts retries throttled and failed posts itself, and re-queues what still fails
export const management = config.wsCallbackUrl
  ? lean(new ApiGatewayManagementApiClient({ endpoint: config.wsCallbackUrl, maxAttempts: 1, cacheMiddleware: true }))
  : undefined;

/** The @connections management API client (only workers that push have WS_CALLBACK_URL). */
export function connections(): ApiGatewayManagementApiClient {
  if (!management) throw new Error('WS_CALLBACK_URL is not set');
  return management;
}

const post = management && config.wsCallbackUrl ? connectionPoster(management, config.wsCallbackUrl) : undefined;

/** Posts to a connection (post-to-connection.ts: the SDK's request, signed by its signer, without the command pipeline). */
export function postToConnection(connectionId: string, data: string): Promise<void> {
  if (!post) throw new Error('WS_CALLBACK_URL is not set');
  return post(connectionId, data);
}
