/**
 * The local API Gateway: an HTTP API (payload format 2.0, JWT authorizer
 * emulation with scopes per route) and a WebSocket API (`$connect` REQUEST
 * authorizer, route selection on `$request.body.action`, route responses,
 * `$disconnect`) plus the `@connections` management API, so the real
 * `@aws-sdk/client-apigatewaymanagementapi` client posts through it.
 * Handlers are the same modules that are deployed to Lambda, wired from the
 * same route table (lib/routes.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { asyncApiDocument, openApiDocument } from '../lib/api-docs.ts';
import { type Facade, facadeRoutes, facades, HEARTBEAT_ROUTE_KEY, type HeartbeatMode, httpRoutes, routeScopes, workers, wsRoutes } from '../lib/routes.ts';
import { bindHost, urlHost } from './dynamodb.ts';
import type { LocalWebPage } from './web.ts';

const ROOT = resolve(import.meta.dirname, '..');
type Handler = (event: any, context: any) => Promise<any>;

export async function loadHandler(entry: string): Promise<Handler> {
  const mod = (await import(pathToFileURL(resolve(ROOT, entry)).href)) as { handler?: Handler };
  if (typeof mod.handler !== 'function') throw new Error(`${entry} exports no handler`);
  return mod.handler;
}

/** The context Lambda hands a handler (what the handlers and Powertools read of it). */
export const lambdaContext = (functionName: string) => ({
  awsRequestId: randomUUID(),
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
  memoryLimitInMB: '256',
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: 'local',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 29_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
});

const errorBody = (error: string, message: string) => JSON.stringify({ error, message });
const API_PAYLOAD_LIMIT = 10 * 1024 * 1024;
/**
 * API Gateway's WebSocket quotas (not adjustable), https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html:
 * "WebSocket frame size 32 KB", "Message payload size 128 KB"; "a message larger than 32 KB must be split into
 * multiple frames, each 32 KB or smaller. This applies to @connections commands. If a larger message (or larger
 * frame size) is received, the connection is closed with code 1009."
 */
export const WS_FRAME_LIMIT = 32 * 1024;
export const WS_MESSAGE_LIMIT = 128 * 1024;
/** the close code API Gateway ends a connection with when it receives a frame or message over the quota */
const MESSAGE_TOO_BIG = 1009;

/** An HTTP API route as the gateway matches it. */
export interface RoutePattern {
  method: string;
  path: string;
}

interface CompiledRoute extends RoutePattern {
  /** the function's id (the route's, or its facade's) */
  fn: string;
  /** the JWT authorizer's scopes for the route (the token needs one; none: any valid token); null: no gateway authorizer (a compatibility facade's route) */
  scopes: string[] | null;
  regex: RegExp;
  params: string[];
  handler: Handler;
}

const segments = (path: string) => path.split('/').filter(Boolean);
const isVariable = (segment: string) => segment.startsWith('{');

/**
 * Whether route `a` is a more specific match than `b` (both matching the same
 * request): API Gateway "selects the route with the most-specific match"
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html#http-api-develop-routes.evaluation:
 * a full match for a route and method before a path variable; its example:
 * GET /pets/dog/1 before GET /pets/dog/{id}). So: more literal segments
 * first; between as many, the one whose first differing segment is literal.
 */
export function moreSpecific(a: RoutePattern, b: RoutePattern): boolean {
  const sa = segments(a.path);
  const sb = segments(b.path);
  const literals = (s: string[]) => s.filter((x) => !isVariable(x)).length;
  if (literals(sa) !== literals(sb)) return literals(sa) > literals(sb);
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    const va = isVariable(sa[i] as string);
    const vb = isVariable(sb[i] as string);
    if (va !== vb) return vb;
  }
  return false;
}

/** The route a request takes among those of its method whose pattern matches its path (null: none, API Gateway's 404). */
export function selectRoute<R extends RoutePattern & { regex: RegExp }>(routes: readonly R[], method: string, path: string): R | null {
  let best: R | null = null;
  for (const r of routes) if (r.method === method && r.regex.test(path) && (best === null || moreSpecific(r, best))) best = r;
  return best;
}

const compile = (path: string): { regex: RegExp; params: string[] } => {
  const params: string[] = [];
  const pattern = path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    params.push(name);
    return '([^/]+)';
  });
  return { regex: new RegExp(`^${pattern}$`), params };
};

interface Connection {
  id: string;
  socket: WebSocket;
  authorizer: Record<string, unknown>;
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  idleTimer?: NodeJS.Timeout;
  maxTimer?: NodeJS.Timeout;
  /** messages received so far (ws emits them in order) */
  received: number;
  /** from this message on nothing is routed: a frame over 32 KB came in and the connection is closing */
  refusedFrom?: number;
}

export interface GatewayOptions {
  /** the address both ports listen on; default bindHost() (127.0.0.1 unless PRESENCE_LOCAL_HOST is set) */
  host?: string;
  /** loads a route's function (default: its handler module from the sources; local/assembly.ts: the synthesized bundle) */
  loadFunction?: (id: string, entry: string) => Promise<Handler>;
  httpPort: number;
  wsPort: number;
  /** verifies a bearer token like the HTTP API's JWT authorizer (rejects an invalid one) */
  verifyToken: (token: string) => Promise<unknown>;
  idleTimeoutSeconds?: number;
  maxConnectionSeconds?: number;
  /** local-only DynamoDB request/capacity counters, served at /__local/metrics */
  metrics?: { snapshot(): Promise<unknown>; reset(): Promise<void>; invoke<T>(fn: string, run: () => Promise<T>): Promise<T> };
  /** the live presence page (local/web.ts) */
  page?: LocalWebPage;
  /** the compatibility facades whose routes the HTTP API has (lib/routes.ts parseCompat); default: every facade */
  facades?: readonly Facade[];
  /**
   * `gateway`: the heartbeat route is a MOCK integration, as the stack deploys it with
   * `-c heartbeat=gateway`: no function runs, nothing is answered, only LastActiveAt moves
   */
  heartbeat?: HeartbeatMode;
  onLog?: (line: string) => void;
}

export class LocalGateway {
  private http: Server | undefined;
  private wsHttp: Server | undefined;
  private wss: WebSocketServer | undefined;
  private routes: CompiledRoute[] = [];
  private wsHandlers = new Map<string, Handler>();
  /** route keys without a route response: what their integration returns is not sent to the client */
  private oneWay = new Set<string>();
  /** route keys answered by a MOCK integration: nothing runs */
  private mock = new Set<string>();
  private authorizer: Handler | undefined;
  readonly connections = new Map<string, Connection>();
  /** connection id → until when pushes to it are refused with 429 (fault injection for tests) */
  private readonly throttledUntil = new Map<string, number>();
  private readonly inflight = new Set<Promise<unknown>>();
  private stopping = false;

  private readonly host: string;

  constructor(private readonly opts: GatewayOptions) {
    this.host = opts.host ?? bindHost();
  }

  get httpUrl(): string {
    return `http://${urlHost(this.host)}:${this.opts.httpPort}`;
  }
  get wsUrl(): string {
    return `ws://${urlHost(this.host)}:${this.opts.wsPort}`;
  }

  async start(): Promise<void> {
    for (const route of httpRoutes) {
      const handler = await this.load(route.entry, route.id);
      this.routes.push({ method: route.method, path: route.path, fn: route.id, scopes: routeScopes(route), ...compile(route.path), handler });
    }
    // a facade's routes share its one function, and have no gateway authorizer (the function verifies the token)
    const enabled = this.opts.facades ?? facades;
    for (const facade of enabled) {
      const handler = await this.load(facade.entry, facade.id);
      for (const route of facadeRoutes([facade]))
        this.routes.push({ method: route.method, path: route.path, fn: facade.id, scopes: null, ...compile(route.path), handler });
    }
    if (this.opts.heartbeat === 'gateway') this.mock.add(HEARTBEAT_ROUTE_KEY);
    for (const r of wsRoutes) {
      this.wsHandlers.set(r.routeKey, this.mock.has(r.routeKey) ? async () => undefined : await this.load(r.entry, r.id));
      if (r.oneWay || this.mock.has(r.routeKey)) this.oneWay.add(r.routeKey);
    }
    this.authorizer = await this.load(workers.wsAuthorizer.entry, workers.wsAuthorizer.id);

    this.http = createServer((req, res) => this.track(answered(res, this.onHttp(req, res))));
    this.wsHttp = createServer((req, res) => this.track(answered(res, this.onManagement(req, res))));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: WS_MESSAGE_LIMIT });
    this.wsHttp.on('upgrade', (req, socket, head) => this.track(this.onUpgrade(req, socket, head)));
    // keep idle client connections open longer than clients' own keep-alive (as load balancers do),
    // so a client never reuses a socket the server is just closing
    for (const server of [this.http, this.wsHttp]) {
      server.keepAliveTimeout = 65_000;
      server.headersTimeout = 66_000;
    }
    await Promise.all([listen(this.http, this.opts.httpPort, this.host), listen(this.wsHttp, this.opts.wsPort, this.host)]);
  }

  /** a handler module, its invocations attributed to `id` in the local metrics */
  private async load(entry: string, id: string): Promise<Handler> {
    const handler = await (this.opts.loadFunction ?? ((_, e) => loadHandler(e)))(id, entry);
    const metrics = this.opts.metrics;
    return metrics ? (event, context) => metrics.invoke(id, () => handler(event, context)) : handler;
  }

  /**
   * Answers every push to the user's open connections with 429 for `ms`, as
   * API Gateway does past its rate limits (tests: throttled pushes are retried).
   */
  throttlePushesTo(userId: string, ms: number): number {
    let n = 0;
    for (const c of this.connections.values())
      if (c.authorizer.userId === userId) {
        this.throttledUntil.set(c.id, Date.now() + ms);
        n++;
      }
    return n;
  }

  async stop(): Promise<void> {
    this.stopping = true; // no new WebSocket connections from here on
    for (const c of this.connections.values()) c.socket.close(1001, 'Going away');
    // let $disconnect handlers run; sockets that do not finish the close handshake are cut
    await new Promise((r) => setTimeout(r, 50));
    await Promise.allSettled([...this.inflight]);
    for (const c of this.connections.values()) c.socket.terminate();
    for (const client of this.wss?.clients ?? []) client.terminate();
    this.wss?.close();
    await Promise.all([close(this.http), close(this.wsHttp)]);
  }

  private track<T>(p: Promise<T>): void {
    this.inflight.add(p);
    p.catch((err) => this.opts.onLog?.(`gateway error: ${(err as Error).stack}`)).finally(() => this.inflight.delete(p));
  }

  // ---------------- HTTP API ----------------
  private async onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };
    const method = req.method ?? 'GET';
    if (method === 'GET' && (url.pathname === '/openapi.json' || url.pathname === '/asyncapi.json')) {
      const doc = url.pathname === '/openapi.json' ? openApiDocument(this.httpUrl, this.opts.facades ?? facades) : asyncApiDocument(this.wsUrl);
      send(200, JSON.stringify(doc), { 'access-control-allow-origin': '*' });
      return;
    }
    const page = await this.opts.page?.serve(
      method,
      url.pathname,
      req.headers,
      async () => JSON.parse(((await readBody(req, 4096)) ?? '').toString()),
      req.socket.remoteAddress,
    );
    if (page) {
      send(page.status, page.body, { 'content-type': page.type, 'cache-control': 'no-store' });
      return;
    }
    if (url.pathname === '/__local/metrics' && this.opts.metrics) {
      if (method === 'DELETE') await this.opts.metrics.reset();
      send(200, JSON.stringify({ ...((await this.opts.metrics.snapshot()) as object), connections: this.connections.size }));
      return;
    }
    const match = selectRoute(this.routes, method, url.pathname);
    if (!match) {
      send(404, errorBody('not_found', `No route ${method} ${url.pathname}`));
      return;
    }
    const body = await readBody(req, API_PAYLOAD_LIMIT);
    if (body === null) {
      send(413, errorBody('payload_too_large', 'Request body too large'));
      return;
    }
    // JWT authorizer emulation (a route without a gateway authorizer passes the request on as it is)
    let authorizer: { jwt: ReturnType<typeof jwtAuthorizerContext> } | undefined;
    if (match.scopes !== null) {
      const auth = req.headers.authorization ?? '';
      const token = /^Bearer (.+)$/i.exec(auth)?.[1];
      let claims: Record<string, unknown>;
      try {
        if (!token) throw new Error('no token');
        await this.opts.verifyToken(token.trim());
        // what API Gateway hands on are the token's own claims (not what the verifier adds to them)
        claims = JSON.parse(Buffer.from(token.trim().split('.')[1] ?? '', 'base64url').toString('utf8'));
      } catch {
        send(401, errorBody('unauthorized', 'Missing or invalid token'), { 'www-authenticate': 'Bearer' });
        return;
      }
      // the route's authorizationScopes (lib/presence-stack.ts): the token needs one of them
      const needed = match.scopes;
      const scopes = tokenScopes(claims);
      if (needed.length > 0 && !needed.some((s) => scopes.includes(s))) {
        send(403, errorBody('forbidden', `This route needs the ${needed.join(' or ')} scope`));
        return;
      }
      authorizer = { jwt: jwtAuthorizerContext(claims, needed) };
    }
    const values = match.regex.exec(url.pathname)?.slice(1) ?? [];
    const pathParameters: Record<string, string> = {};
    try {
      match.params.forEach((p, i) => {
        pathParameters[p] = decodeURIComponent(values[i] ?? '');
      });
    } catch {
      send(400, errorBody('bad_request', 'Malformed percent-encoding in the path'));
      return;
    }
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
    const now = Date.now();
    const routeKey = `${method} ${match.path}`;
    const event = {
      version: '2.0',
      routeKey,
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      queryStringParameters: Object.keys(query).length ? query : undefined,
      pathParameters: Object.keys(pathParameters).length ? pathParameters : undefined,
      requestContext: {
        accountId: '000000000000',
        apiId: 'local',
        ...(authorizer ? { authorizer } : {}),
        domainName: headers.host ?? 'localhost',
        domainPrefix: 'local',
        http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
        requestId: randomUUID(),
        routeKey,
        stage: '$default',
        time: new Date(now).toUTCString(),
        timeEpoch: now,
      },
      body: body.length ? body.toString('utf8') : undefined,
      isBase64Encoded: false,
    };
    try {
      const result = await match.handler(event, lambdaContext(match.fn));
      if (result && typeof result === 'object' && 'statusCode' in result) {
        send(result.statusCode, result.body ?? '', result.headers ?? {});
      } else {
        send(200, JSON.stringify(result ?? null));
      }
    } catch (err) {
      this.opts.onLog?.(`handler ${match.fn} threw: ${(err as Error).stack}`);
      send(500, errorBody('internal', 'Internal error'));
    }
  }

  // ---------------- WebSocket API ----------------
  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (this.stopping) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://local');
    const reject = (status: number, text: string, body?: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body ?? ''}`);
    };
    const connectionId = randomBytes(12).toString('base64').replace(/[+/]/g, 'A');
    const query = Object.fromEntries(url.searchParams);
    // a compatibility facade's WebSocket path (e.g. /ws/presence): its push format, as `?format=` asks for it on AWS
    // (there, a custom domain's API mapping can give the stage that path; the format stays a query parameter)
    const facadeWs = (this.opts.facades ?? facades).find((f) => f.ws?.path === url.pathname)?.ws;
    if (facadeWs) query.format ??= facadeWs.format;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const now = Date.now();
    const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
    const baseContext = {
      routeKey: '$connect',
      eventType: 'CONNECT',
      extendedRequestId: randomUUID(),
      requestTime: new Date(now).toUTCString(),
      messageDirection: 'IN',
      stage: 'local',
      connectedAt: now,
      requestTimeEpoch: now,
      identity: { sourceIp },
      requestId: randomUUID(),
      domainName: headers.host ?? 'localhost',
      connectionId,
      apiId: 'local',
    };
    let authorizer: Record<string, unknown>;
    try {
      const result = await this.authorizer?.(
        {
          type: 'REQUEST',
          methodArn: 'arn:aws:execute-api:local:000000000000:local/local/$connect',
          headers,
          queryStringParameters: query,
          stageVariables: {},
          requestContext: baseContext,
        },
        lambdaContext(workers.wsAuthorizer.id),
      );
      const allowed = result?.policyDocument?.Statement?.some((s: { Effect?: string }) => s.Effect === 'Allow');
      if (!allowed) {
        reject(403, 'Forbidden', errorBody('forbidden', 'Forbidden'));
        return;
      }
      authorizer = { ...(result.context ?? {}), principalId: result.principalId };
    } catch (err) {
      if ((err as Error).message === 'Unauthorized') reject(401, 'Unauthorized', errorBody('unauthorized', 'Missing or invalid token'));
      else reject(500, 'Internal Server Error', errorBody('internal', 'Internal error'));
      return;
    }
    const connect = this.wsHandlers.get('$connect');
    try {
      const res = await connect?.(
        { headers, queryStringParameters: query, requestContext: { ...baseContext, authorizer }, isBase64Encoded: false },
        lambdaContext('WsConnect'),
      );
      const status = res?.statusCode ?? 200;
      if (status < 200 || status >= 300) {
        reject(status, status === 400 ? 'Bad Request' : 'Error', res?.body);
        return;
      }
    } catch (err) {
      this.opts.onLog?.(`$connect threw: ${(err as Error).stack}`);
      reject(500, 'Internal Server Error', errorBody('internal', 'Internal error'));
      return;
    }
    this.wss?.handleUpgrade(req, socket, head, (ws) => {
      const conn: Connection = { id: connectionId, socket: ws, authorizer, connectedAt: now, lastActiveAt: Date.now(), sourceIp, received: 0 };
      this.connections.set(connectionId, conn);
      this.armTimers(conn);
      this.refuseLargeFrames(conn, socket);
      ws.on('message', (data, isBinary) => {
        const index = conn.received++;
        if (conn.refusedFrom !== undefined && index >= conn.refusedFrom) return;
        this.track(this.onMessage(conn, data as Buffer, isBinary));
      });
      ws.on('close', (code, reason) => this.track(this.onClose(conn, code, reason.toString())));
      ws.on('error', () => {});
    });
  }

  /**
   * Closes the connection with 1009 at the header of a data frame over 32 KB, as API Gateway does, and
   * routes nothing from that frame on. `ws` limits whole messages only (its maxPayload, set to 128 KB, ends
   * the connection with 1009 too), so the frame headers are read here, from the raw socket, ahead of ws's
   * own reader: a read-only tap (prependListener), ws still gets every byte and answers the close handshake.
   */
  private refuseLargeFrames(conn: Connection, socket: Duplex): void {
    let completed = 0; // messages whose last frame has been seen
    const tap = (chunk: Buffer) => frames.push(chunk);
    const frames = new FrameHeaderReader((frame) => {
      if (frame.opcode >= 0x8) return; // control frames: ≤ 125 bytes, ws checks them
      if (frame.length > WS_FRAME_LIMIT) {
        conn.refusedFrom = completed;
        socket.removeListener('data', tap);
        conn.socket.close(MESSAGE_TOO_BIG);
        return;
      }
      if (frame.fin) completed++;
    });
    socket.prependListener('data', tap);
  }

  private armTimers(conn: Connection): void {
    const idle = (this.opts.idleTimeoutSeconds ?? 600) * 1000;
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    conn.idleTimer = setTimeout(() => conn.socket.close(1001, 'Going away'), idle);
    conn.maxTimer ??= setTimeout(() => conn.socket.close(1001, 'Going away'), (this.opts.maxConnectionSeconds ?? 7200) * 1000);
  }

  private event(conn: Connection, routeKey: string, eventType: string, extra: Record<string, unknown> = {}) {
    const now = Date.now();
    return {
      requestContext: {
        routeKey,
        eventType,
        messageId: eventType === 'MESSAGE' ? randomBytes(8).toString('base64') : undefined,
        extendedRequestId: randomUUID(),
        requestTime: new Date(now).toUTCString(),
        messageDirection: 'IN',
        stage: 'local',
        connectedAt: conn.connectedAt,
        requestTimeEpoch: now,
        identity: { sourceIp: conn.sourceIp },
        requestId: randomUUID(),
        domainName: 'localhost',
        connectionId: conn.id,
        apiId: 'local',
        authorizer: conn.authorizer,
        ...extra,
      },
      isBase64Encoded: false,
    };
  }

  private async onMessage(conn: Connection, data: Buffer, isBinary: boolean): Promise<void> {
    conn.lastActiveAt = Date.now();
    this.armTimers(conn);
    const body = isBinary ? data.toString('base64') : data.toString('utf8');
    let routeKey = '$default';
    try {
      const action = (JSON.parse(body) as { action?: unknown })?.action;
      if (typeof action === 'string' && this.wsHandlers.has(action) && !action.startsWith('$')) routeKey = action;
    } catch {
      // not JSON: $default, like API Gateway when route selection fails
    }
    const handler = this.wsHandlers.get(routeKey);
    try {
      const res = await handler?.({ ...this.event(conn, routeKey, 'MESSAGE'), body, isBase64Encoded: isBinary }, lambdaContext(routeKey));
      // a one-way route (no route response) sends nothing back, whatever the integration returned
      if (res?.body !== undefined && !this.oneWay.has(routeKey) && conn.socket.readyState === WebSocket.OPEN) {
        const reply = Buffer.from(String(res.body), 'utf8');
        // the quota is API Gateway's for every message it sends (the reply of a route response included)
        if (reply.length > WS_MESSAGE_LIMIT) this.opts.onLog?.(`ws route ${routeKey}: a ${reply.length}-byte reply is over the 128 KB message quota, not sent`);
        else sendInFrames(conn.socket, reply);
      }
    } catch (err) {
      this.opts.onLog?.(`ws route ${routeKey} threw: ${(err as Error).stack}`);
      // API Gateway's answer when the integration fails
      if (conn.socket.readyState === WebSocket.OPEN)
        conn.socket.send(JSON.stringify({ message: 'Internal server error', connectionId: conn.id, requestId: randomUUID() }));
    }
  }

  private async onClose(conn: Connection, code: number, reason: string): Promise<void> {
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    if (conn.maxTimer) clearTimeout(conn.maxTimer);
    if (!this.connections.delete(conn.id)) return;
    try {
      await this.wsHandlers.get('$disconnect')?.(
        this.event(conn, '$disconnect', 'DISCONNECT', { disconnectStatusCode: code, disconnectReason: reason }),
        lambdaContext('WsDisconnect'),
      );
    } catch (err) {
      this.opts.onLog?.(`$disconnect threw: ${(err as Error).stack}`);
    }
  }

  // ---------------- @connections management API ----------------
  private async onManagement(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const m = /^\/@connections\/([^/]+)$/.exec(url.pathname);
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    // a REST-JSON error as AWS answers it: the SDK raises the exception named by x-amzn-ErrorType
    const sendError = (status: number, name: string, message: string) => send(status, { message }, { 'x-amzn-errortype': name });
    if (!m) {
      send(404, { message: 'Not Found' });
      return;
    }
    let id: string;
    try {
      id = decodeURIComponent(m[1] as string);
    } catch {
      send(400, { message: 'Bad connection id' });
      return;
    }
    const conn = this.connections.get(id);
    const body = await readBody(req, WS_MESSAGE_LIMIT);
    if (!conn || conn.socket.readyState !== WebSocket.OPEN) {
      sendError(410, 'GoneException', 'Gone');
      return;
    }
    switch (req.method) {
      case 'POST':
        if (body === null) {
          // PostToConnection's PayloadTooLargeException, "The data has exceeded the maximum size allowed."
          // (https://docs.aws.amazon.com/botocore/latest/reference/services/apigatewaymanagementapi/client/exceptions/PayloadTooLargeException.html),
          // HTTP 413 in the service model the AWS SDK is generated from
          sendError(413, 'PayloadTooLargeException', `Message payload size exceeds the ${WS_MESSAGE_LIMIT}-byte quota`);
          return;
        }
        if ((this.throttledUntil.get(id) ?? 0) > Date.now()) {
          sendError(429, 'LimitExceededException', 'Too Many Requests');
          return;
        }
        sendInFrames(conn.socket, Buffer.from(body.toString('utf8'), 'utf8'));
        send(200);
        return;
      case 'GET':
        // GetConnection's wire shape (the service model's jsonNames, which the AWS SDK reads): camelCase;
        // lastActiveAt moves with every client message, whatever its route (a MOCK one included)
        send(200, {
          connectedAt: new Date(conn.connectedAt).toISOString(),
          identity: { sourceIp: conn.sourceIp },
          lastActiveAt: new Date(conn.lastActiveAt).toISOString(),
        });
        return;
      case 'DELETE':
        conn.socket.close(1000, 'Closed by server');
        send(204);
        return;
      default:
        send(405, { message: 'Method Not Allowed' });
    }
  }
}

/** Sends a message the way API Gateway does: in text frames of at most 32 KB (see WS_FRAME_LIMIT). */
function sendInFrames(socket: WebSocket, data: Buffer): void {
  if (data.length <= WS_FRAME_LIMIT) {
    socket.send(data, { binary: false });
    return;
  }
  for (let at = 0; at < data.length; at += WS_FRAME_LIMIT)
    socket.send(data.subarray(at, at + WS_FRAME_LIMIT), { binary: false, fin: at + WS_FRAME_LIMIT >= data.length });
}

export interface FrameHeader {
  fin: boolean;
  opcode: number;
  /** payload length in bytes */
  length: number;
}

/**
 * Reads the headers of WebSocket frames (RFC 6455 §5.2) from a byte stream, in chunks of any size, and
 * skips their payloads: only header bytes are looked at (at most 14 per frame), payloads are never copied.
 */
export class FrameHeaderReader {
  private readonly header = Buffer.alloc(14);
  private have = 0;
  private skip = 0;

  constructor(private readonly onFrame: (frame: FrameHeader) => void) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        this.skip -= n;
        at += n;
        continue;
      }
      this.header[this.have++] = chunk[at++] as number;
      if (this.have < 2) continue;
      const second = this.header[1] as number;
      const len7 = second & 0x7f;
      const extended = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      if (this.have < 2 + extended + (second & 0x80 ? 4 : 0)) continue; // length and masking key still to come
      const length = len7 === 126 ? this.header.readUInt16BE(2) : len7 === 127 ? Number(this.header.readBigUInt64BE(2)) : len7;
      const first = this.header[0] as number;
      this.have = 0;
      this.skip = length;
      this.onFrame({ fin: (first & 0x80) !== 0, opcode: first & 0x0f, length });
    }
  }
}

/**
 * `requestContext.authorizer.jwt` as an HTTP API's JWT authorizer hands it to the integration (payload 2.0,
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html):
 * `claims` with every value a string, and `scopes` the token's scopes (read as in tokenScopes) on a route
 * with authorizationScopes, null on a route without (even when the token has a scope claim). AWS documents
 * the shape, not these details: they are what real API Gateway was measured to send (e.g. the captures in
 * https://github.com/floci-io/floci/pull/2011 and https://github.com/DefinitelyTyped/DefinitelyTyped/pull/75458).
 */
export function jwtAuthorizerContext(claims: Record<string, unknown>, routeScopes: readonly string[]) {
  return { claims: claimsAsApiGatewayPassesThem(claims), scopes: routeScopes.length > 0 ? tokenScopes(claims) : null };
}

/**
 * The token's scopes as API Gateway's JWT authorizer reads them, "scope or scp – The token must include at
 * least one of the scopes in the route's authorizationScopes"
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html): the `scope`
 * claim (space-delimited, RFC 6749 §3.3), else `scp` (a list, or space-delimited).
 */
export function tokenScopes(claims: Record<string, unknown>): string[] {
  const words = (s: string) => s.split(' ').filter(Boolean);
  if (typeof claims.scope === 'string') return words(claims.scope);
  if (typeof claims.scp === 'string') return words(claims.scp);
  if (Array.isArray(claims.scp)) return claims.scp.filter((s): s is string => typeof s === 'string');
  return [];
}

/**
 * The claims as the HTTP API hands them to the integration: every value a string (a list as `[a b]`,
 * an object as JSON), null values left out.
 */
function claimsAsApiGatewayPassesThem(claims: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(claims)) {
    if (v === null || v === undefined) continue;
    out[k] = Array.isArray(v) ? `[${v.map(String).join(' ')}]` : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  return out;
}

/** A request whose handling failed unexpectedly still gets an answer (500, the contract's body), never a hang; the error is logged by track(). */
async function answered(res: ServerResponse, handling: Promise<void>): Promise<void> {
  try {
    await handling;
  } catch (err) {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
    if (!res.writableEnded) res.end(errorBody('internal', 'Internal error'));
    throw err;
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolveBody, rejectBody) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolveBody(over ? null : Buffer.concat(chunks)));
    req.on('error', rejectBody);
  });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok();
    });
  });
}

function close(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  server.closeAllConnections?.();
  return new Promise((ok) => server.close(() => ok()));
}
