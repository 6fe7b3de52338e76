/**
 * The functions' AWS SDK clients carry the house defaults (functions/commons/sdk.ts):
 * no logger middleware, which would otherwise walk every request and response
 * through the sensitive-member filter for a logger that throws the result away.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';

const hasLogger = (c: { middlewareStack: { identify(): string[] } }) => c.middlewareStack.identify().some((m) => m.startsWith('loggerMiddleware'));

describe('SDK clients', () => {
  it('a plain client has the logger middleware (what lean removes)', () => {
    expect(hasLogger(new DynamoDBClient({ region: 'local' }))).toBe(true);
  });

  it('the DynamoDB, @connections and SQS clients of the functions have none, and keep the rest of their stack', async () => {
    process.env.WS_CALLBACK_URL ??= 'http://127.0.0.1:1';
    process.env.FANOUT_QUEUE_URL ??= 'http://127.0.0.1:1/000000000000/q';
    process.env.AWS_REGION ??= 'local';
    const { dynamodb, connections } = await import('../../functions/commons/clients.ts');
    const { sqs } = await import('../../functions/commons/chunk-queue.ts');
    for (const client of [dynamodb, connections(), sqs]) {
      expect(client).toBeDefined();
      expect(hasLogger(client as DynamoDBClient)).toBe(false);
      expect((client as DynamoDBClient).middlewareStack.identify().some((m) => m.startsWith('retryMiddleware'))).toBe(true);
    }
  });
});
