/**
 * The local gateway keeps API Gateway's WebSocket quotas
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html):
 * frames of at most 32 KB, messages of at most 128 KB, "if a larger message (or larger frame size) is
 * received, the connection is closed with code 1009"; messages over 32 KB are split into frames of at
 * most 32 KB, "this applies to @connections commands"; PostToConnection refuses data over 128 KB with
 * PayloadTooLargeException (413). Real `ws` clients, the real management API client. And the HTTP API's
 * JWT authorizer: the scopes it checks (`scope` or an `scp` list) and hands on (requestContext.authorizer.jwt).
 */
import { ApiGatewayManagementApiClient, PayloadTooLargeException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signHs256 } from '../../functions/core/jwt.ts';
import { type FrameHeader, FrameHeaderReader, jwtAuthorizerContext, WS_FRAME_LIMIT, WS_MESSAGE_LIMIT } from '../../local/gateway.ts';
import { type Client, eventually, SECRET, token, useStack } from '../support/e2e.ts';

const KB = 1024;
const fx = useStack();

/** a JSON text of exactly `bytes` bytes (ASCII) */
function jsonOf(bytes: number, fields: Record<string, unknown>): string {
  const bare = JSON.stringify({ ...fields, pad: '' });
  return JSON.stringify({ ...fields, pad: 'x'.repeat(bytes - bare.length) });
}

/** sends `text` as one message in frames of the given sizes (a text message: the first frame's opcode, then continuations) */
function sendInFrames(ws: WebSocket, text: string, sizes: number[]): void {
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(text.length);
  let at = 0;
  sizes.forEach((size, i) => {
    ws.send(text.slice(at, at + size), { fin: i === sizes.length - 1 });
    at += size;
  });
}

const closeOf = (ws: WebSocket) => new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

async function openClient(user: string): Promise<Client> {
  const c = await fx.client(user);
  c.ws.on('error', () => {}); // a refused frame ends the connection: not an error of the test
  return c;
}

describe('client frames and messages', () => {
  it('a single 40 KB frame: the connection is closed with 1009 and the frame is never routed', async () => {
    const c = await openClient('gl-frame');
    const closed = closeOf(c.ws);
    c.ws.send(jsonOf(40 * KB, { action: 'heartbeat', requestId: 'big' })); // ws sends one message as one frame
    expect(await closed).toBe(1009);
    expect(c.messages).toEqual([]); // no reply, not even the app's payload_too_large
  });

  it('a message ahead of the oversized frame is still routed; the oversized frame and what follows are not', async () => {
    const c = await openClient('gl-order');
    const closed = closeOf(c.ws);
    c.ws.send(JSON.stringify({ action: 'subscribe', userIds: ['gl-before'], requestId: 'a' }));
    c.ws.send(jsonOf(40 * KB, { action: 'subscribe', userIds: ['gl-big'], requestId: 'b' }));
    c.ws.send(JSON.stringify({ action: 'subscribe', userIds: ['gl-after'], requestId: 'c' }));
    expect(await closed).toBe(1009);
    const subscribed = await eventually(async () => {
      const res = await fx.call('GET', '/v1/me/subscriptions', token('gl-order'));
      const ids = (res.body.subscriptions ?? []).map((s: { userId: string }) => s.userId);
      return ids.includes('gl-before') && ids;
    }, 10_000);
    expect(subscribed).toEqual(['gl-before']);
  });

  it('a 40 KB message in two 20 KB frames reaches the route (the app answers payload_too_large) and the connection stays open', async () => {
    const c = await openClient('gl-frag');
    sendInFrames(c.ws, jsonOf(40 * KB, { action: 'heartbeat', requestId: 'frag' }), [20 * KB, 20 * KB]);
    expect(await c.next((m) => m.requestId === 'frag')).toMatchObject({ type: 'error', error: 'payload_too_large' });
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    expect(await c.request('heartbeat')).not.toMatchObject({ type: 'error' });
  });

  it('frames of exactly 32 KB and a message of exactly 128 KB are accepted', async () => {
    const c = await openClient('gl-edge');
    c.ws.send(jsonOf(WS_FRAME_LIMIT, { action: 'heartbeat', requestId: 'one-frame' }));
    expect(await c.next((m) => m.requestId === 'one-frame')).toBeDefined();
    const quarter = WS_MESSAGE_LIMIT / 4;
    sendInFrames(c.ws, jsonOf(WS_MESSAGE_LIMIT, { action: 'heartbeat', requestId: 'max' }), [quarter, quarter, quarter, quarter]);
    expect(await c.next((m) => m.requestId === 'max')).toMatchObject({ type: 'error', error: 'payload_too_large' });
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('a 130 KB message in 32 KB frames: the connection is closed with 1009 and nothing is routed', async () => {
    const c = await openClient('gl-msg');
    const closed = closeOf(c.ws);
    sendInFrames(c.ws, jsonOf(130 * KB, { action: 'heartbeat', requestId: 'huge' }), [32 * KB, 32 * KB, 32 * KB, 32 * KB, 2 * KB]);
    expect(await closed).toBe(1009);
    expect(c.messages).toEqual([]);
  });
});

describe('@connections (PostToConnection through the AWS SDK)', () => {
  it('refuses 129 KB with PayloadTooLargeException (413) and delivers 128 KB - 1 in frames of at most 32 KB', async () => {
    // a client that also reads the frame headers of what it receives
    const ws = new WebSocket(`${fx.stack.wsUrl}/?token=${token('gl-post')}`);
    const frames: FrameHeader[] = [];
    const received: string[] = [];
    const reader = new FrameHeaderReader((f) => frames.push(f));
    ws.on('upgrade', (res) => {
      // tapped once ws's own reader is attached (it is when 'open' fires), so ws still gets every byte
      ws.once('open', () => res.socket.on('data', (chunk: Buffer) => reader.push(chunk)));
    });
    ws.on('message', (data) => received.push(data.toString()));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const connectionId = [...fx.stack.gateway.connections.values()].find((c) => c.authorizer.userId === 'gl-post')?.id;
    expect(connectionId).toBeDefined();
    const management = new ApiGatewayManagementApiClient({
      endpoint: fx.stack.wsUrl.replace(/^ws/, 'http'),
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    try {
      const tooLarge = await management
        .send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(jsonOf(129 * KB, { type: 'too-large' })) }))
        .catch((err: unknown) => err);
      expect(tooLarge).toBeInstanceOf(PayloadTooLargeException);
      expect((tooLarge as PayloadTooLargeException).$metadata.httpStatusCode).toBe(413);

      const largest = jsonOf(WS_MESSAGE_LIMIT - 1, { type: 'largest' });
      await management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(largest) }));
      await eventually(async () => received.length > 0, 10_000);
      expect(received).toEqual([largest]); // the refused one never arrived
      expect(frames.map((f) => [f.opcode, f.length, f.fin])).toEqual([
        [1, 32 * KB, false],
        [0, 32 * KB, false],
        [0, 32 * KB, false],
        [0, 32 * KB - 1, true],
      ]);
    } finally {
      management.destroy();
      ws.close();
    }
  });
});

describe('HTTP API JWT authorizer', () => {
  it('hands the integration the claims as strings, and the scopes only on routes with authorization scopes', () => {
    const claims = { sub: 'u1', exp: 1_900_000_000, scp: ['presence:sys', 'other'], verified: true, gone: null, nested: { a: 1 } };
    expect(jwtAuthorizerContext(claims, ['presence:sys'])).toEqual({
      claims: { sub: 'u1', exp: '1900000000', scp: '[presence:sys other]', verified: 'true', nested: '{"a":1}' },
      scopes: ['presence:sys', 'other'],
    });
    expect(jwtAuthorizerContext({ sub: 'u1', scope: 'presence:sys other' }, ['presence:sys']).scopes).toEqual(['presence:sys', 'other']);
    expect(jwtAuthorizerContext({ sub: 'u1', scope: 'presence:sys' }, []).scopes).toBeNull(); // a route without authorization scopes
  });

  const sysToken = (scopes: Record<string, unknown>) => signHs256({ sub: 'gl-sys', exp: Math.floor(Date.now() / 1000) + 600, ...scopes }, SECRET);
  it.each([
    ['a scope string', { scope: 'presence:sys' }, 200],
    ['an scp list', { scp: ['presence:admin', 'presence:sys'] }, 200],
    ['an scp string', { scp: 'presence:sys' }, 200],
    ['an scp list without the scope', { scp: ['presence:admin'] }, 403],
    ['no scopes', {}, 403],
  ])('a sys route with %s: %i', async (_name, scopes, status) => {
    expect((await fx.call('PUT', '/v1/sys/users/gl-a/friends/gl-b', sysToken(scopes))).status).toBe(status);
  });
});

describe('FrameHeaderReader', () => {
  /** one frame as RFC 6455 §5.2 lays it out */
  function frame(opcode: number, payload: Buffer, { fin = true, mask = false } = {}): Buffer {
    const n = payload.length;
    const head = n < 126 ? Buffer.from([0, n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    if (n >= 126 && n < 65536) {
      head[1] = 126;
      head.writeUInt16BE(n, 2);
    } else if (n >= 65536) {
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(n), 2);
    }
    head[0] = (fin ? 0x80 : 0) | opcode;
    if (!mask) return Buffer.concat([head, payload]);
    head[1] = (head[1] as number) | 0x80;
    const key = Buffer.from([1, 2, 3, 4]);
    return Buffer.concat([head, key, payload.map((b, i) => b ^ (key[i % 4] as number))]);
  }

  const stream = Buffer.concat([
    frame(1, Buffer.alloc(5, 'a'), { fin: false }),
    frame(9, Buffer.alloc(0)), // a ping between fragments
    frame(0, Buffer.alloc(300, 'b'), { mask: true }),
    frame(2, Buffer.alloc(70_000, 'c'), { mask: true }),
    frame(1, Buffer.alloc(125, 'd')),
    frame(1, Buffer.alloc(126, 'e')),
  ]);
  const expected: FrameHeader[] = [
    { fin: false, opcode: 1, length: 5 },
    { fin: true, opcode: 9, length: 0 },
    { fin: true, opcode: 0, length: 300 },
    { fin: true, opcode: 2, length: 70_000 },
    { fin: true, opcode: 1, length: 125 },
    { fin: true, opcode: 1, length: 126 },
  ];

  it.each([
    ['in one chunk', [stream.length]],
    ['byte by byte', Array.from({ length: stream.length }, () => 1)],
    ['in chunks of 3 and 7 bytes', Array.from({ length: stream.length }, (_, i) => (i % 2 ? 3 : 7))],
  ])('reads every header %s', (_name, sizes) => {
    const seen: FrameHeader[] = [];
    const reader = new FrameHeaderReader((f) => seen.push(f));
    for (let at = 0, i = 0; at < stream.length; at += sizes[i++] as number) reader.push(stream.subarray(at, at + (sizes[i] as number)));
    expect(seen).toEqual(expected);
  });
});
