/**
 * Peak memory per handler: each bundle loaded in a fresh process against the
 * bench's DynamoDB Local and invoked 20 times with a representative event
 * (full run only).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { httpRoutes, workers, wsRoutes } from '../../lib/routes.ts';
import { ROOT, round, SECRET } from '../common.ts';
import type { Stack } from '../stack.ts';

/** A representative event for each function (valid input, real DynamoDB Local behind it). */
function sampleEvent(kind: 'http' | 'ws' | 'worker', id: string, extra: { method?: string; path?: string; routeKey?: string }): unknown {
  const ids = Array.from({ length: 100 }, (_, i) => `heap-t${i}`);
  if (kind === 'http') {
    const bodies: Record<string, unknown> = {
      PatchOwnPresence: { customStatus: 'measuring', activity: { game: 'chess' } },
      Heartbeat: { device: 'web' },
      PutDevice: { status: 'busy', ext: 'v1' },
      Subscribe: { userIds: ids },
      Unsubscribe: { userIds: ids.slice(0, 10) },
      SysPutPresence: { expiresIn: 60 },
      SysExtendPresence: { expiresIn: 60 },
    };
    const path = (extra.path ?? '').replace('{userId}', 'heap-user').replace('{device}', 'web').replace('{groupId}', 'heap-g').replace('{friendId}', 'heap-f');
    return {
      version: '2.0',
      routeKey: `${extra.method} ${extra.path}`,
      rawPath: path,
      headers: { 'content-type': 'application/json' },
      queryStringParameters: id === 'GetPresenceBatch' ? { userIds: ids.join(',') } : undefined,
      pathParameters: { userId: 'heap-user', device: 'web', groupId: 'heap-g', friendId: 'heap-f' },
      requestContext: {
        authorizer: { jwt: { claims: { sub: 'heap-user', scope: 'presence:sys presence:admin' }, scopes: null } },
        http: { method: extra.method, path },
        routeKey: `${extra.method} ${extra.path}`,
      },
      body: bodies[id] === undefined ? undefined : JSON.stringify(bodies[id]),
      isBase64Encoded: false,
    };
  }
  if (kind === 'ws') {
    const fields: Record<string, unknown> = {
      getPresence: { userIds: ids },
      subscribe: { userIds: ids },
      unsubscribe: { userIds: ids.slice(0, 10) },
      setPresence: { customStatus: 'measuring', status: 'busy' },
      listen: { userIds: ids.slice(0, 20) },
    };
    const key = extra.routeKey ?? '$default';
    return {
      requestContext: {
        routeKey: key,
        eventType: key === '$connect' ? 'CONNECT' : key === '$disconnect' ? 'DISCONNECT' : 'MESSAGE',
        connectionId: 'heapconn',
        authorizer: { userId: 'heap-user', device: 'web' },
      },
      body: key.startsWith('$') && key !== '$default' ? undefined : JSON.stringify({ action: key, requestId: 'r', ...((fields[key] as object) ?? {}) }),
      isBase64Encoded: false,
    };
  }
  const image = (v: number) => ({
    pk: { S: 'USER#heap-user' },
    sk: { S: 'STATE' },
    version: { N: String(v) },
    userId: { S: 'heap-user' },
    devices: { M: {} },
    conns: { M: {} },
  });
  const workerEvents: Record<string, unknown> = {
    WsAuthorizer: { type: 'REQUEST', methodArn: 'arn:aws:execute-api:local:0:api/live/$connect', queryStringParameters: { token: 'x.y.z' } },
    StreamFanout: {
      Records: [{ eventName: 'MODIFY', dynamodb: { Keys: { pk: image(1).pk, sk: image(1).sk }, OldImage: image(1), NewImage: image(2), SequenceNumber: '1' } }],
    },
    Sweeper: {},
    FanoutChunk: {
      Records: [
        {
          messageId: 'm',
          body: JSON.stringify({
            before: { userId: 'heap-user', version: 1 },
            after: { userId: 'heap-user', version: 2 },
            at: Date.now(),
            recipients: ids.map((u) => ({ u, friend: false, direct: true })),
          }),
        },
      ],
    },
    SysInvoke: { op: 'initializePresence', userId: 'heap-user', expiresIn: 60 },
  };
  return workerEvents[id] ?? {};
}

/** Loads each bundle in a fresh process against the bench's DynamoDB Local and invokes it 20 times: peak heap and RSS. */
export async function measureHandlerMemory(stack: Stack) {
  const rows: Record<string, { peakHeapMB: number; peakRssMB: number }> = {};
  const all = [
    ...httpRoutes.map((r) => ({ id: r.id, kind: 'http' as const, extra: { method: r.method, path: r.path } })),
    ...wsRoutes.map((r) => ({ id: r.id, kind: 'ws' as const, extra: { routeKey: r.routeKey } })),
    ...Object.values(workers).map((w) => ({ id: w.id, kind: 'worker' as const, extra: {} })),
  ];
  for (const { id, kind, extra } of all) {
    const file = join(ROOT, 'bench/.bundles', `${id}.mjs`);
    const probe = `const {handler}=await import(${JSON.stringify(file)});const ev=JSON.parse(process.env.HEAP_EVENT);let heap=0,rss=0;for(let i=0;i<20;i++){try{await handler(structuredClone(ev),{})}catch{};const m=process.memoryUsage();heap=Math.max(heap,m.heapUsed);rss=Math.max(rss,m.rss)}console.log(JSON.stringify({heap,rss}))`;
    const txt = execFileSync(process.execPath, ['--input-type=module', '-e', probe], {
      cwd: ROOT,
      env: {
        ...process.env,
        HEAP_EVENT: JSON.stringify(sampleEvent(kind, id, extra)),
        AWS_REGION: 'local',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_DYNAMODB: stack.dynamodb,
        PRESENCE_TABLE: 'Presence',
        GRAPH_TABLE: 'Graph',
        WS_CALLBACK_URL: stack.ws.replace('ws://', 'http://'),
        PRESENCE_JWT_SECRET: SECRET,
        LOG_LEVEL: 'silent',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    }).toString();
    const m = JSON.parse(txt.trim().split('\n').pop() as string);
    rows[id] = { peakHeapMB: round(m.heap / 1024 / 1024), peakRssMB: round(m.rss / 1024 / 1024) };
  }
  return rows;
}
