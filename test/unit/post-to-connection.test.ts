/**
 * The fan-out's PostToConnection (functions/commons/post-to-connection.ts) sends the request the SDK's
 * PostToConnectionCommand sends, less the SDK's own bookkeeping headers, signed the same way; and it
 * reports failures with the status the fan-out reads.
 */
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { HttpRequest } from '@smithy/types';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectionPoster, PostError } from '../../functions/commons/post-to-connection.ts';

const ENDPOINT = 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod';
const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session-token' };
const SDK_ONLY = ['user-agent', 'x-amz-user-agent', 'amz-sdk-invocation-id', 'amz-sdk-request'];

function clientAnswering(status: number, sent: HttpRequest[]) {
  const requestHandler = {
    handle: async (req: HttpRequest) => {
      sent.push(req);
      return { response: { statusCode: status, headers: {}, body: undefined } };
    },
  };
  return new ApiGatewayManagementApiClient({
    endpoint: ENDPOINT,
    region: 'eu-west-1',
    credentials: CREDENTIALS,
    maxAttempts: 1,
    requestHandler: requestHandler as never,
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('connectionPoster', () => {
  it("sends the SDK's request (method, path, body, headers) signed as the SDK signs it", async () => {
    vi.useFakeTimers({ now: new Date('2026-12-03T10:00:00Z'), toFake: ['Date'] });
    const sent: HttpRequest[] = [];
    const client = clientAnswering(200, sent);
    const id = 'Ab1cD=+/x';
    const data = JSON.stringify({ type: 'presence', data: { userId: 'ü' } });
    await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: data }));
    await connectionPoster(client, ENDPOINT)(id, data);
    const [sdk, ours] = sent as [HttpRequest, HttpRequest];
    expect(ours.method).toBe(sdk.method);
    expect(ours.protocol).toBe(sdk.protocol);
    expect(ours.hostname).toBe(sdk.hostname);
    expect(ours.path).toBe(sdk.path);
    expect(ours.path).toBe('/prod/@connections/Ab1cD%3D%2B%2Fx');
    expect(String(ours.body)).toBe(String(sdk.body));
    const sdkHeaders = Object.fromEntries(Object.entries(sdk.headers).filter(([k]) => !SDK_ONLY.includes(k) && k !== 'authorization'));
    const ourHeaders = Object.fromEntries(Object.entries(ours.headers).filter(([k]) => k !== 'authorization'));
    expect(ourHeaders).toEqual(sdkHeaders);
    // the SDK's request without its bookkeeping headers, signed by the same signer at the same time, is ours to the byte
    const stripped = {
      ...sdk,
      headers: Object.fromEntries(Object.entries(sdk.headers).filter(([k]) => !SDK_ONLY.includes(k) && !k.startsWith('x-amz-') && k !== 'authorization')),
    };
    const sdkSigner = await (client.config as unknown as { signer: () => Promise<{ sign(r: HttpRequest): Promise<HttpRequest> }> }).signer();
    const resigned = await sdkSigner.sign(stripped as HttpRequest);
    expect(ours.headers.authorization).toBe(resigned.headers.authorization);
    expect(ours.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261203\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
  });

  it('a 410 fails as GoneException with its status, a 429 and a 413 with theirs; a 2xx succeeds', async () => {
    for (const [status, name] of [
      [410, 'GoneException'],
      [429, 'LimitExceededException'],
      [413, 'PayloadTooLargeException'],
      [500, 'PostToConnectionError'],
    ] as const) {
      const post = connectionPoster(clientAnswering(status, []), ENDPOINT);
      const err = await post('c1', 'x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PostError);
      expect((err as PostError).name).toBe(name);
      expect((err as PostError).$metadata.httpStatusCode).toBe(status);
    }
    await expect(connectionPoster(clientAnswering(204, []), ENDPOINT)('c1', 'x')).resolves.toBeUndefined();
  });

  it('a local endpoint keeps its port and has no stage path', async () => {
    const sent: HttpRequest[] = [];
    const client = clientAnswering(200, sent);
    await connectionPoster(client, 'http://127.0.0.1:3001')('c 1', 'x');
    expect(sent[0]).toMatchObject({ protocol: 'http:', hostname: '127.0.0.1', port: 3001, path: '/@connections/c%201' });
    expect(sent[0]?.headers.host).toBe('127.0.0.1:3001');
  });
});
