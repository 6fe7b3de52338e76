/**
 * API Gateway and Lambda behaviours the product relies on that no other test
 * showed on the local stack (docs/api-gateway-fidelity.md has the whole table
 * with AWS's documentation for each): the idle and maximum connection
 * lifetimes, $disconnect on every kind of close, GoneException (410) from
 * @connections for a closed connection, route selection on
 * `$request.body.action` with `$default`, the JWT authorizer's several
 * audiences and `client_id`, the $connect authorizer's context, duplicate
 * query strings in payload format 2.0, the stream event record shape, and
 * the event source mapping giving up on a record after its retries.
 *
 * Its own local stack: short idle / maximum connection lifetimes (the 10 min
 * and 2 h of AWS scaled down through startLocalStack's options) and JWT
 * audiences configured, as a deployed stack has them.
 */
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { signHs256 } from '../../functions/core/jwt.ts';
import { streamFilterPatterns, tables } from '../../lib/tables.ts';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { StreamPoller } from '../../local/stream-poller.ts';
import { ensureTable } from '../../local/tables.ts';
import { api, type Client, connect, eventually, SECRET, sleep } from '../support/e2e.ts';
import { freePort } from '../support/ports.ts';

/** the audiences the JWT authorizers accept (CDK context `jwtAudience` on AWS) */
const AUDIENCES = ['presence-api', 'presence-web'];
// read by functions/commons/config.ts, which the stack imports only when it starts (below)
process.env.JWT_AUDIENCE = AUDIENCES.join(',');
/** AWS: 10 minutes idle, 2 hours in all; scaled down so a test can wait for them */
const IDLE_SECONDS = 4;
const MAX_SECONDS = 12;

let stack: LocalStack;
const open: Client[] = [];

beforeAll(async () => {
  stack = await startLocalStack({
    httpPort: await freePort(),
    wsPort: await freePort(),
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tablePrefix: `e2e_${process.env.TABLE_SUFFIX}_`,
    jwtSecret: SECRET,
    idleTimeoutSeconds: IDLE_SECONDS,
    maxConnectionSeconds: MAX_SECONDS,
    onLog: (line) => {
      if (process.env.E2E_VERBOSE) console.error(line);
    },
  });
}, 120_000);

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await stack?.stop();
});

/** a token of this deployment: signed with the stack's secret, for the first audience unless `claims` say otherwise */
const tokenOf = (sub: string, claims: Record<string, unknown> = { aud: AUDIENCES[0] }) =>
  signHs256({ sub, exp: Math.floor(Date.now() / 1000) + 3600, ...claims }, SECRET);

const call = (method: string, path: string, auth?: string, body?: unknown) => api(stack)(method, path, auth, body);

async function client(user: string, device?: string): Promise<Client> {
  const c = await connect(stack, tokenOf(user), device);
  c.ws.on('error', () => {}); // a connection the gateway ends is not an error of the test
  open.push(c);
  return c;
}

const closed = (ws: WebSocket) => (ws.readyState === WebSocket.CLOSED ? Promise.resolve() : new Promise<void>((resolve) => ws.once('close', () => resolve())));

/** the devices the user's own presence lists (a device goes when its connection's $disconnect ran) */
const devicesOf = async (user: string): Promise<string[]> =>
  ((await call('GET', '/v1/me/presence', tokenOf(user))).body.devices as { device: string }[]).map((d) => d.device);

const connectionIdOf = (user: string): string | undefined => [...stack.gateway.connections.values()].find((c) => c.authorizer.userId === user)?.id;

function managementApi(): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({
    endpoint: stack.wsUrl.replace(/^ws/, 'http'),
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

describe('WebSocket connection lifetime', () => {
  it('a silent connection is closed at the idle timeout, one that keeps sending stays open; $disconnect runs', async () => {
    const silent = await client('life-silent', 'quiet');
    const active = await client('life-active', 'busy');
    const keepSending = setInterval(() => active.send(JSON.stringify({ action: 'heartbeat' })), 1000);
    try {
      await closed(silent.ws);
      // the active one outlives it: still open and answering (the maximum duration has not closed them both)
      expect(active.ws.readyState).toBe(WebSocket.OPEN);
      expect(await active.request('heartbeat')).toMatchObject({ type: 'response' });
      expect(await active.request('heartbeat')).toMatchObject({ type: 'response' });
      await eventually(async () => (await devicesOf('life-silent')).length === 0, 10_000);
    } finally {
      clearInterval(keepSending);
    }
  }, 60_000);

  it('a connection is closed at the maximum duration even while it keeps sending; $disconnect runs', async () => {
    const c = await client('life-max', 'marathon');
    const replies = () => c.messages.filter((m) => m.type === 'response').length;
    const keepSending = setInterval(() => {
      if (c.ws.readyState === WebSocket.OPEN) c.send(JSON.stringify({ action: 'heartbeat', requestId: 'hb' }));
    }, 1000);
    try {
      await closed(c.ws);
      // it was active to the end: the idle timeout cannot have closed it
      expect(replies()).toBeGreaterThanOrEqual(MAX_SECONDS / IDLE_SECONDS);
      await eventually(async () => (await devicesOf('life-max')).length === 0, 10_000);
    } finally {
      clearInterval(keepSending);
    }
  }, 90_000);
});

describe('$disconnect runs on every close', () => {
  let management: ApiGatewayManagementApiClient;
  beforeAll(() => {
    management = managementApi();
  });
  afterAll(() => management?.destroy());

  it.each([
    ['the client closes the connection', 'dc-close', async (c: Client) => c.ws.close()],
    ['the client connection drops without a close frame', 'dc-drop', async (c: Client) => c.ws.terminate()],
    [
      'the back end deletes the connection through @connections',
      'dc-delete',
      async () => {
        await management.send(new DeleteConnectionCommand({ ConnectionId: connectionIdOf('dc-delete') }));
      },
    ],
    ['a frame over 32 KB closes it (1009)', 'dc-frame', async (c: Client) => c.ws.send('x'.repeat(40 * 1024))],
  ])('%s', async (_name, user, close) => {
    const c = await client(user, 'd1');
    expect(await devicesOf(user)).toEqual(['d1']);
    await close(c);
    await closed(c.ws);
    await eventually(async () => (await devicesOf(user)).length === 0, 10_000);
  });
});

describe('@connections for a closed connection', () => {
  it('PostToConnection, GetConnection and DeleteConnection answer GoneException (410)', async () => {
    const c = await client('gone-user');
    const id = connectionIdOf('gone-user');
    expect(id).toBeDefined();
    const management = managementApi();
    try {
      // while it is open the post is delivered
      await management.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('{"type":"hello"}') }));
      await c.next((m) => m.type === 'hello');
      await c.close();
      await eventually(async () => !stack.gateway.connections.has(id as string));
      for (const command of [
        new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('{"type":"late"}') }),
        new GetConnectionCommand({ ConnectionId: id }),
        new DeleteConnectionCommand({ ConnectionId: id }),
        new PostToConnectionCommand({ ConnectionId: 'neverExisted0=', Data: Buffer.from('{}') }),
      ]) {
        const err = await management.send(command as never).catch((e: unknown) => e);
        expect(err, command.constructor.name).toBeInstanceOf(GoneException);
        expect((err as GoneException).$metadata.httpStatusCode).toBe(410);
      }
    } finally {
      management.destroy();
    }
  });
});

describe('route selection on $request.body.action', () => {
  it('a message whose action names a route goes to that route; anything else to $default, and the connection stays open', async () => {
    const c = await client('route-user');
    const invocations = async () => (await stack.metrics.snapshot()).invocations;
    const before = await invocations();
    expect(await c.request('getPresence', { userIds: ['route-user'] })).toMatchObject({ type: 'response' });

    const errorFor = async (raw: string) => {
      const from = c.messages.length;
      c.send(raw);
      return c.next((m) => m.type === 'error', 5000, from);
    };
    expect(await errorFor('not json')).toMatchObject({ error: 'bad_request' });
    expect(await errorFor(JSON.stringify({ userIds: ['x'] }))).toMatchObject({ error: 'bad_request', message: 'Message needs an "action"' });
    expect(await errorFor(JSON.stringify({ action: 'noSuchRoute' }))).toMatchObject({ message: 'Unknown action "noSuchRoute"' });
    // route keys match exactly
    expect(await errorFor(JSON.stringify({ action: 'GetPresence' }))).toMatchObject({ message: 'Unknown action "GetPresence"' });
    expect(await errorFor(JSON.stringify({ action: 5 }))).toMatchObject({ message: 'Message needs an "action"' });

    const after = await invocations();
    expect((after.WsGetPresence ?? 0) - (before.WsGetPresence ?? 0)).toBe(1);
    expect((after.WsDefault ?? 0) - (before.WsDefault ?? 0)).toBe(5);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });
});

describe('JWT authorizers: several audiences and client_id', () => {
  const accepted: [string, Record<string, unknown>][] = [
    ['aud is the first configured audience', { aud: AUDIENCES[0] }],
    ['aud is the second configured audience', { aud: AUDIENCES[1] }],
    ['aud is a list naming a configured audience', { aud: ['someone-else', AUDIENCES[1]] }],
    ['no aud, client_id is a configured audience (Cognito access token)', { client_id: AUDIENCES[1], token_use: 'access' }],
  ];
  const refused: [string, Record<string, unknown>][] = [
    ['aud is another audience', { aud: 'someone-else' }],
    ['aud is another audience, client_id a configured one (aud decides)', { aud: 'someone-else', client_id: AUDIENCES[0] }],
    ['no aud, client_id is another client', { client_id: 'someone-else' }],
    ['neither aud nor client_id', {}],
  ];

  it.each(accepted)('accepts a token whose %s: HTTP route and WebSocket $connect', async (_name, claims) => {
    const t = tokenOf('aud-ok', claims);
    expect((await call('GET', '/v1/me/presence', t)).status).toBe(200);
    const c = await connect(stack, t);
    open.push(c);
    await c.close();
  });

  it.each(refused)('refuses a token whose %s with 401: HTTP route and WebSocket $connect', async (_name, claims) => {
    const t = tokenOf('aud-no', claims);
    expect((await call('GET', '/v1/me/presence', t)).status).toBe(401);
    await expect(connect(stack, t)).rejects.toMatchObject({ status: 401 });
  });
});

describe('the $connect authorizer context', () => {
  it('holds strings only and reaches every later route', async () => {
    const sysUser = await connect(stack, tokenOf('ctx-user', { aud: AUDIENCES[0], scp: ['presence:sys', 'presence:admin'] }), 'ctx-device');
    open.push(sysUser);
    const context = [...stack.gateway.connections.values()].find((c) => c.authorizer.userId === 'ctx-user')?.authorizer;
    expect(context).toMatchObject({ userId: 'ctx-user', device: 'ctx-device', scope: 'presence:sys presence:admin' });
    for (const [key, value] of Object.entries(context ?? {})) expect(typeof value, key).toBe('string');
    // a later route knows the user and the device from it
    expect(await sysUser.request('heartbeat')).toMatchObject({ type: 'response', data: { device: 'ctx-device' } });
  });
});

describe('HTTP API payload format 2.0', () => {
  it('combines duplicate query strings with commas: ?userIds=a&userIds=b reads as ?userIds=a,b', async () => {
    const t = tokenOf('qs-user');
    const repeated = await call('GET', '/v1/presence?userIds=qs-a&userIds=qs-b', t);
    const joined = await call('GET', '/v1/presence?userIds=qs-a,qs-b', t);
    expect(repeated.status).toBe(200);
    expect(repeated.body.presence.map((p: { userId: string }) => p.userId)).toEqual(['qs-a', 'qs-b']);
    expect(repeated.body).toEqual(joined.body);
  });
});

describe('DynamoDB stream events', () => {
  it('a change reaches the stream function as a Lambda DynamoDB event record with the documented fields', async () => {
    const watcher = await client('rec-watch');
    expect((await call('PATCH', '/v1/me/presence', tokenOf('rec-user'), { customStatus: 'shape' })).status).toBe(200);
    const record = await eventually(async () =>
      (await stack.consumer.recentBatches())
        .flatMap((b) => b.Records)
        .find((r) => r.dynamodb?.Keys?.pk?.S === 'USER#rec-user' && r.dynamodb.NewImage?.customStatus?.S === 'shape'),
    );
    expect(record).toMatchObject({
      eventID: expect.any(String),
      eventName: expect.stringMatching(/^(INSERT|MODIFY)$/),
      eventVersion: expect.any(String),
      eventSource: 'aws:dynamodb',
      awsRegion: expect.any(String),
      eventSourceARN: expect.stringContaining('/stream/'),
      dynamodb: {
        Keys: { pk: { S: 'USER#rec-user' }, sk: { S: 'STATE' } },
        NewImage: { pk: { S: 'USER#rec-user' }, version: { N: expect.stringMatching(/^\d+$/) } },
        SequenceNumber: expect.stringMatching(/^\d+$/),
        SizeBytes: expect.any(Number),
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    } satisfies Partial<Record<keyof DynamoDBRecord, unknown>>);
    // ApproximateCreationDateTime: epoch seconds (a number), not milliseconds, not a date string
    const created = record.dynamodb?.ApproximateCreationDateTime as number;
    expect(typeof created).toBe('number');
    expect(Math.abs(created - Date.now() / 1000)).toBeLessThan(3600);
    await watcher.close();
  });
});

describe('event source mapping retries', () => {
  it('a record that keeps failing is handed over 1 + MaximumRetryAttempts times, then given up on; the records behind it are delivered', async () => {
    // a table of its own: the stack's consumer must not see these records
    const def = tables.find((t) => t.id === 'Presence');
    expect(def).toBeDefined();
    const tableName = `fidelity_${process.env.TABLE_SUFFIX}_Presence`;
    const dynamodb = new DynamoDBClient({ endpoint: stack.dynamodbEndpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    await ensureTable(dynamodb, def!, tableName);
    const MAX_RETRIES = 2; // the stack's mapping has STREAM_RETRY_ATTEMPTS (10; test/infra/stack.test.ts): fewer here, same mechanism
    const batches: number[][] = [];
    const log: string[] = [];
    const poller = new StreamPoller({
      client: dynamodb,
      endpoint: stack.dynamodbEndpoint,
      tableName,
      filterPatterns: streamFilterPatterns,
      maxRetries: MAX_RETRIES,
      intervalMs: 50,
      onLog: (line) => log.push(line),
      handler: async ({ Records }) => {
        batches.push(Records.map((r) => Number(r.dynamodb?.NewImage?.version?.N)));
        const bad = Records.find((r) => r.dynamodb?.NewImage?.version?.N === '2');
        return { batchItemFailures: bad ? [{ itemIdentifier: bad.dynamodb?.SequenceNumber as string }] : [] };
      },
    });
    await poller.start('LATEST');
    try {
      for (const version of [1, 2, 3]) {
        await dynamodb.send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: 'USER#esm' }, sk: { S: 'STATE' }, version: { N: String(version) } } }));
      }
      // given up on 2, the mapping goes on with what follows it: 3 alone
      await eventually(async () => poller.stats.dropped === 1 && batches.at(-1)?.join() === '3', 20_000);
      await sleep(500);
      expect(batches.filter((b) => b.includes(2))).toHaveLength(1 + MAX_RETRIES);
      // what came before the failed record is not handed over again
      expect(batches.flat().filter((v) => v === 1)).toHaveLength(1);
      expect(batches.at(-1)).toEqual([3]);
      expect(log.filter((l) => l.includes('dropped after retries'))).toHaveLength(1);
    } finally {
      await poller.stop();
      dynamodb.destroy();
    }
  }, 60_000);
});
