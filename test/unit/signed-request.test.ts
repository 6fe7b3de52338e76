/**
 * An AWS JSON-protocol call without the SDK's pipeline (functions/commons/signed-request.ts), as the
 * local stream reader makes it: the request the SDK's GetRecordsCommand sends (target, content type,
 * body, signed headers), the answer parsed whole even when a character straddles two chunks, and an
 * error answer raised with the service's name for it and the HTTP status, as the SDK's exceptions are;
 * and which errors the local stream reader tries again.
 */

import { Readable } from 'node:stream';
import { DynamoDBStreamsClient, GetRecordsCommand } from '@aws-sdk/client-dynamodb-streams';
import type { HttpRequest } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import { AwsJsonError, awsJsonCaller, readBody } from '../../functions/commons/signed-request.ts';
import { mayPass } from '../../local/stream-poller.ts';

const ENDPOINT = 'http://127.0.0.1:8000';
const SDK_ONLY = ['user-agent', 'x-amz-user-agent', 'amz-sdk-invocation-id', 'amz-sdk-request', 'authorization', 'x-amz-date'];

const chunks = (...parts: Buffer[]) => Readable.from(parts);

function clientAnswering(status: number, body: Buffer[], sent: HttpRequest[]) {
  const requestHandler = {
    handle: async (req: HttpRequest) => {
      sent.push(req);
      return { response: { statusCode: status, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: chunks(...body) } };
    },
  };
  return new DynamoDBStreamsClient({
    endpoint: ENDPOINT,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    requestHandler: requestHandler as never,
  });
}

describe('awsJsonCaller', () => {
  it("sends what the SDK's command sends and answers the parsed JSON, a character split across chunks included", async () => {
    const answer = Buffer.from(JSON.stringify({ Records: [{ dynamodb: { NewImage: { s: { S: 'é😀' } } } }], NextShardIterator: 'next' }));
    const at = answer.indexOf(Buffer.from('😀')) + 2; // inside the 4-byte character
    const sent: HttpRequest[] = [];
    const client = clientAnswering(200, [answer.subarray(0, at), answer.subarray(at)], sent);
    await client.send(new GetRecordsCommand({ ShardIterator: 'it-1', Limit: 100 }));
    const out = await awsJsonCaller(
      client,
      ENDPOINT,
      'DynamoDBStreams_20120810',
    )<{ Records: unknown[]; NextShardIterator: string }>('GetRecords', {
      ShardIterator: 'it-1',
      Limit: 100,
    });
    expect(out).toEqual({ Records: [{ dynamodb: { NewImage: { s: { S: 'é😀' } } } }], NextShardIterator: 'next' });
    const [sdk, ours] = sent as [HttpRequest, HttpRequest];
    expect([ours.method, ours.hostname, ours.port, ours.path]).toEqual([sdk.method, sdk.hostname, sdk.port, sdk.path]);
    expect(JSON.parse(String(ours.body))).toEqual(JSON.parse(String(sdk.body)));
    const keep = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([k]) => !SDK_ONLY.includes(k)));
    expect(keep(ours.headers)).toEqual(keep(sdk.headers));
    expect(ours.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=local\/\d{8}\/local\/dynamodb\/aws4_request, SignedHeaders=.*x-amz-target/);
  });

  it("raises an error answer with the service's name for it and the HTTP status", async () => {
    const body = Buffer.from(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ExpiredIteratorException', message: 'Iterator expired' }));
    const call = awsJsonCaller(clientAnswering(400, [body], []), ENDPOINT, 'DynamoDBStreams_20120810');
    const err = await call('GetRecords', { ShardIterator: 'old' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsJsonError);
    expect(err).toMatchObject({ name: 'ExpiredIteratorException', message: 'Iterator expired', $metadata: { httpStatusCode: 400 } });
  });

  it('reads an empty or absent body as empty', async () => {
    expect(await readBody(undefined)).toBe('');
    expect(await readBody(chunks())).toBe('');
  });

  it('raises an error answer that is not JSON with its status and the error-type header, not a SyntaxError', async () => {
    const requestHandler = {
      handle: async () => ({
        response: { statusCode: 502, headers: { 'x-amzn-errortype': 'BadGateway' }, body: chunks(Buffer.from('<html>bad gateway</html>')) },
      }),
    };
    const client = new DynamoDBStreamsClient({
      endpoint: ENDPOINT,
      region: 'local',
      credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
      requestHandler: requestHandler as never,
    });
    const err = await awsJsonCaller(client, ENDPOINT, 'DynamoDBStreams_20120810')('GetRecords', {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'BadGateway', message: '<html>bad gateway</html>', $metadata: { httpStatusCode: 502 } });
  });
});

describe("the local stream reader's retry rule (mayPass)", () => {
  it('retries what may pass: no answer, 5xx, throttling; not a client error or a stale iterator', () => {
    expect(mayPass(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
    expect(mayPass(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe(true);
    expect(mayPass(new AwsJsonError(500, 'InternalServerError', ''))).toBe(true);
    expect(mayPass(new AwsJsonError(400, 'ThrottlingException', ''))).toBe(true);
    expect(mayPass(new AwsJsonError(400, 'LimitExceededException', ''))).toBe(true);
    expect(mayPass(new AwsJsonError(400, 'ExpiredIteratorException', ''))).toBe(false);
    expect(mayPass(new AwsJsonError(400, 'ValidationException', ''))).toBe(false);
    expect(mayPass(new Error('a bug'))).toBe(false);
  });
});
