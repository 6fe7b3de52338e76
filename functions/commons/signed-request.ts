/**
 * One HTTP request to an AWS API, signed by an SDK client's own SigV4 signer
 * (`client.config.signer()`: the SDK's SignatureV4 with the client's
 * credentials, region and hash, taken from the client rather than imported,
 * so a bundle carries no second copy) and sent by the client's own HTTP
 * handler (its keep-alive agent, timeouts, and the local stack's IAM check,
 * which patches that handler), without the command's middleware pipeline
 * (serializer, endpoint rules, retry strategy, user agent, schema
 * deserializer, each allocating on every send).
 *
 * Used where a call is small, frequent and its protocol trivial:
 * post-to-connection.ts (the fan-out's pushes) and local/stream-poller.ts
 * (the local event source mapping's GetRecords, through `awsJsonCaller`).
 */
import type { HttpRequest, HttpResponse, RequestSigner } from '@smithy/types';

/** what a request needs besides its method, path, headers and body: where it goes */
export interface Target {
  protocol: string;
  hostname: string;
  port?: number;
  /** `host` header value */
  host: string;
  /** path prefix (an API Gateway stage), no trailing slash */
  base: string;
}

export const targetOf = (endpoint: string): Target => {
  const url = new URL(endpoint);
  return {
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    host: url.host,
    base: url.pathname.replace(/\/+$/, ''),
  };
};

type SigningClient = { config: object };

/** Sends `method path` with `headers` and `body` to `target`, signed: the answer's status and body text (the body is always read, freeing the socket). */
export function signedSender(
  client: SigningClient,
  target: Target,
): (
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string,
) => Promise<{ statusCode: number; headers: Record<string, string>; text: string }> {
  const config = client.config as { signer: () => Promise<RequestSigner>; requestHandler: unknown };
  const handler = config.requestHandler as { handle(req: HttpRequest): Promise<{ response: HttpResponse }> };
  let signer: Promise<RequestSigner> | undefined;
  const { protocol, hostname, port, host, base } = target;
  return async (method, path, headers, body) => {
    const request = {
      method,
      protocol,
      hostname,
      ...(port ? { port } : {}),
      path: `${base}${path}`,
      query: {},
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)), host },
      body,
    } as HttpRequest;
    signer ??= config.signer();
    const { response } = await handler.handle((await (await signer).sign(request)) as HttpRequest);
    return { statusCode: response.statusCode, headers: response.headers, text: await readBody(response.body) };
  };
}

/** Reads an answer's body whole, as UTF-8 (chunks are joined before decoding: a character may straddle two). */
export async function readBody(body: unknown): Promise<string> {
  if (!body || typeof (body as AsyncIterable<Buffer>)[Symbol.asyncIterator] !== 'function') return '';
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array | string>)
    chunks.push(
      typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
  return chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8');
}

/** An AWS JSON-protocol error answer, shaped as the SDK's service exceptions are for what callers read: `name`, `message`, `$metadata.httpStatusCode`. */
export class AwsJsonError extends Error {
  readonly $metadata: { httpStatusCode: number };
  constructor(status: number, name: string, message: string) {
    super(message || `${name} (HTTP ${status})`);
    this.name = name;
    this.$metadata = { httpStatusCode: status };
  }
}

/**
 * A caller of an AWS JSON-protocol API (`X-Amz-Target: <prefix>.<Operation>`,
 * a JSON body in, a JSON body out; DynamoDB and DynamoDB Streams speak
 * `application/x-amz-json-1.0`): `call(op, input)` answers the parsed output,
 * or throws an AwsJsonError named as the service named it (`__type` after
 * its `#`). One attempt: the caller decides what to retry.
 */
export function awsJsonCaller(client: SigningClient, endpoint: string, targetPrefix: string) {
  const send = signedSender(client, targetOf(endpoint));
  return async <T>(op: string, input: object): Promise<T> => {
    const { statusCode, headers, text } = await send(
      'POST',
      '/',
      { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `${targetPrefix}.${op}` },
      JSON.stringify(input),
    );
    if (statusCode >= 200 && statusCode < 300) return (text ? JSON.parse(text) : {}) as T;
    // an error answer that is not JSON (a proxy's HTML page, a truncated body) keeps its status and the header's name
    let parsed: { __type?: unknown; message?: unknown; Message?: unknown } = {};
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { message: text.slice(0, 200) };
    }
    const type = String(parsed.__type ?? headers['x-amzn-errortype'] ?? 'UnknownError');
    throw new AwsJsonError(statusCode, type.slice(type.lastIndexOf('#') + 1).split(':')[0] as string, String(parsed.message ?? parsed.Message ?? ''));
  };
}
