/**
 * Agora Chat Web SDK presence facade: the method names, options, results and
 * callback of the Agora Chat Web SDK's presence API on top of this service's
 * SDK (`./index.ts`), so that an app written against Agora's `conn` runs
 * with one change, the creation of the connection:
 *
 *   import AgoraChat from '@presence-backend/client/agora';
 *   const conn = new AgoraChat.connection({ url: 'wss://…/live', apiUrl: 'https://…' });
 *   await conn.open({ user: 'alice', accessToken: jwtOfThisService });
 *   conn.addEventHandler('MESSAGES', { onPresenceStatusChange: (msg) => render(msg) });
 *   const res = await conn.subscribePresence({ usernames: ['bob'], expiry: 7 * 24 * 3600 });
 *   res.data.result[0].status; // { webim_…: '1' }
 *
 * Every method answers `Promise<{ type: 0, data }>` (Agora's AsyncResult),
 * calls the optional `success`/`error` callbacks of its options, and rejects
 * with an `AgoraPresenceError` (Agora's numeric `type`, this service's `code`,
 * a `message` saying what was wrong). How Agora's fields map onto this
 * service's presence is in docs/compat.md, "Agora Chat SDK adapter".
 */
import { type ConnectOptions, connect, type Presence, type PresenceClient, PresenceError, type WebSocketFactory } from './index.ts';

/** The Agora error codes (`type`) this adapter answers with (values as in the Agora Chat Web SDK's `statusCode`). */
export const AgoraCode = {
  REQUEST_SUCCESS: 0,
  REQUEST_TIMEOUT: -1,
  REQUEST_UNKNOWN: -2,
  REQUEST_PARAMETER_ERROR: -3,
  WEBIM_CONNCTION_OPEN_ERROR: 1,
  WEBIM_CONNCTION_AUTH_ERROR: 2,
  WEBIM_CONNCTION_DISCONNECTED: 16,
  WEBIM_CONNECTION_ERROR: 40,
  NO_PERMISSION: 52,
  SERVER_BUSY: 500,
  SERVER_UNKNOWN_ERROR: 503,
  PRESENCE_PARAM_EXCEED: 1100,
} as const;

/** This service's error codes (PresenceError.code) as Agora error types. */
const TYPE_OF_CODE: Record<string, number> = {
  bad_request: AgoraCode.REQUEST_PARAMETER_ERROR,
  payload_too_large: AgoraCode.PRESENCE_PARAM_EXCEED,
  unauthorized: AgoraCode.WEBIM_CONNCTION_AUTH_ERROR,
  forbidden: AgoraCode.NO_PERMISSION,
  not_found: AgoraCode.REQUEST_UNKNOWN,
  rate_limited: AgoraCode.SERVER_BUSY,
  unavailable: AgoraCode.SERVER_BUSY,
  internal: AgoraCode.SERVER_UNKNOWN_ERROR,
  timeout: AgoraCode.REQUEST_TIMEOUT,
  disconnected: AgoraCode.WEBIM_CONNCTION_DISCONNECTED,
};

/** What every method rejects with (and passes to `error` callbacks and `onError` handlers): Agora's ErrorEvent, as an Error. */
export class AgoraPresenceError extends Error {
  constructor(
    /** the Agora error code (see AgoraCode) */
    readonly type: number,
    message: string,
    /** this service's error code (`bad_request`, `rate_limited`, …; `param` for options refused before sending) */
    readonly code: string,
  ) {
    super(message);
    this.name = 'AgoraPresenceError';
  }
}

/** Agora's limits, the same as this service's (functions/core/schemas.ts LIMITS). */
export const AGORA_LIMITS = {
  /** usernames per subscribe, unsubscribe or status call */
  usernamesPerCall: 100,
  /** subscription duration, seconds (30 days) */
  expiryMaxSeconds: 2_592_000,
  /** getSubscribedPresenceList page size */
  pageSizeMax: 500,
} as const;

/** Devices remembered per user to report the ones that went away as offline ("0"): this service's device cap. */
const DEVICES_REMEMBERED = 32;

// ---- Agora's shapes ----

/** Agora's AsyncResult of a successful call. */
export interface AsyncResult<T> {
  type: 0;
  data: T;
}

/** Per device (resource): '1' online, '0' offline, other strings a custom status (here `away`, `busy`, `dnd`). */
export type PresenceStatusMap = Record<string, string>;

/** One user's presence as subscribePresence and getPresenceStatus return it. */
export interface SubscribePresence {
  uid: string;
  /** Unix seconds of the user's last sign of life (0: never seen) */
  last_time: number;
  /** Unix seconds when the subscription expires (subscribePresence only) */
  expiry?: number;
  /** the published description ('' when none) */
  ext: string;
  status: PresenceStatusMap;
}

export interface SubscribePresenceResult {
  result: SubscribePresence[];
  /** not Agora's: the usernames refused because 3000 longer subscriptions are held (present only when there are some) */
  rejected?: string[];
  /** not Agora's: subscriptions this call replaced at the 3000 cap (present only when there are some) */
  evicted?: string[];
}

export interface PublishPresenceResult {
  result: 'ok';
}

export interface GetSubscribedPresenceListResult {
  result: { totalnum: number; sublist: { uid: string; expiry: number }[] };
}

/** What onPresenceStatusChange receives, one per changed user. */
export interface PresenceType {
  userId: string;
  /** per device: 1 live (whatever its own status), 0 gone */
  statusDetails: { device: string; status: number }[];
  ext: string;
  /** Unix seconds of the user's last sign of life (0: never seen) */
  lastTime: number;
  /** Unix seconds when this connection's subscription expires, when this connection knows it (else 0) */
  expire: number;
}

/** The handlers addEventHandler takes; Agora's other handlers are accepted and never called. */
export interface EventHandlerType {
  onPresenceStatusChange?: (msg: PresenceType[]) => void;
  onConnected?: () => void;
  onDisconnected?: () => void;
  onError?: (error: AgoraPresenceError) => void;
  [handler: string]: unknown;
}

/** Every method's options may carry Agora's callbacks besides the promise. */
interface Callbacks<T> {
  success?: (res: AsyncResult<T>) => void;
  error?: (error: AgoraPresenceError) => void;
}

export interface AgoraConnectionOptions {
  /** this service's WebSocket url (ws://127.0.0.1:3001 locally, the stack's WebSocketUrl on AWS) */
  url: string;
  /** this service's HTTP url (the stack's HttpApiUrl): needed by getSubscribedPresenceList only */
  apiUrl?: string;
  /** Agora's app key: accepted and not used (the service is chosen by `url`) */
  appKey?: string;
  /** a token of this service, used when open() is given none */
  accessToken?: string;
  /** or a function giving a fresh token on every (re)connect (wins over any fixed token) */
  getToken?: () => string | Promise<string>;
  /** the device (Agora "resource") is `webim_<deviceId>`; default a random id per connection object */
  deviceId?: string;
  /** the WebSocket implementation (browsers: the global one; Node 20: the `ws` package) */
  WebSocket?: WebSocketFactory;
  heartbeatSeconds?: ConnectOptions['heartbeatSeconds'];
  requestTimeoutMs?: ConnectOptions['requestTimeoutMs'];
  backoff?: ConnectOptions['backoff'];
}

export interface OpenParams {
  /** the user: must be the token's `sub` when given */
  user?: string;
  /** a token of this service (Agora's `accessToken` or `agoraToken` option: either is read) */
  accessToken?: string;
  agoraToken?: string;
  /** Agora's password login: not supported (rejected) */
  pwd?: string;
}

// ---- option checks (before anything is sent) ----

const paramError = (message: string, type: number = AgoraCode.REQUEST_PARAMETER_ERROR) => new AgoraPresenceError(type, message, 'param');

function optionsObject(method: string, o: unknown): Record<string, unknown> {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw paramError(`${method}: options must be an object, got ${o === null ? 'null' : typeof o}`);
  return o as Record<string, unknown>;
}

/** `usernames`: 1–100 non-empty strings; answered without duplicates, in first-seen order. */
function usernamesOf(method: string, o: Record<string, unknown>): string[] {
  const u = o.usernames;
  if (!Array.isArray(u) || u.length === 0) throw paramError(`${method}: usernames must be a non-empty array of user IDs`);
  if (u.length > AGORA_LIMITS.usernamesPerCall)
    throw paramError(`${method}: at most ${AGORA_LIMITS.usernamesPerCall} usernames per call, got ${u.length}`, AgoraCode.PRESENCE_PARAM_EXCEED);
  const bad = u.findIndex((x) => typeof x !== 'string' || x === '');
  if (bad >= 0) throw paramError(`${method}: usernames[${bad}] must be a non-empty string`);
  return [...new Set(u as string[])];
}

function integerIn(method: string, name: string, v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw paramError(`${method}: ${name} must be an integer from ${min} to ${max} (${what}), got ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
}

// ---- conversions to Agora's shapes ----

const unixSeconds = (iso: string | null): number => (iso ? Math.floor(Date.parse(iso) / 1000) : 0);

/** The `sub` of a JWT, or undefined when the token is not one. */
function jwtSubject(token: string): string | undefined {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(
      part
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(part.length / 4) * 4, '='),
    );
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

function toAgoraError(err: unknown): AgoraPresenceError {
  if (err instanceof AgoraPresenceError) return err;
  if (err instanceof PresenceError) return new AgoraPresenceError(TYPE_OF_CODE[err.code] ?? AgoraCode.REQUEST_UNKNOWN, err.message, err.code);
  if (err instanceof Error) return new AgoraPresenceError(AgoraCode.REQUEST_UNKNOWN, err.message, 'unknown');
  return new AgoraPresenceError(AgoraCode.WEBIM_CONNECTION_ERROR, describe(err), 'websocket');
}

/** What an error event says: an Error's message, a WebSocket ErrorEvent's message, else that it was one. */
function describe(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message ? message : 'WebSocket error';
}

const ok = <T>(data: T): AsyncResult<T> => ({ type: AgoraCode.REQUEST_SUCCESS, data });

/** A handler that throws must not stop the others, nor the SDK's message loop: its error is rethrown on its own. */
function invoke<A extends unknown[]>(fn: unknown, ...args: A): void {
  if (typeof fn !== 'function') return;
  try {
    fn(...args);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

export class AgoraPresenceConnection {
  private client: PresenceClient | undefined;
  private readonly handlers = new Map<string, EventHandlerType>();
  /** Unix seconds when this connection's subscriptions expire, as its calls learnt them */
  private readonly expiries = new Map<string, number>();
  /** per user, the devices seen most recently first (at most DEVICES_REMEMBERED) */
  private readonly devicesSeen = new Map<string, string[]>();
  private readonly device: string;

  constructor(private readonly opts: AgoraConnectionOptions) {
    if (typeof opts?.url !== 'string' || !opts.url) throw paramError('connection: options.url (the WebSocket url of the presence service) is required');
    const id = opts.deviceId ?? globalThis.crypto?.randomUUID?.() ?? Math.random().toString(36).slice(2);
    this.device = `webim_${id}`;
  }

  /** The underlying client of this service's SDK (after open()), for what Agora's API does not cover. */
  get presenceClient(): PresenceClient | undefined {
    return this.client;
  }

  /** Connects as the token's user; resolves once connected, rejects when the handshake is refused. */
  async open(params: OpenParams = {}): Promise<{ accessToken: string | undefined }> {
    if (this.client) throw paramError('open: the connection is already open (close() it first)');
    if (typeof params !== 'object' || params === null) throw paramError('open: options must be an object');
    if (params.pwd !== undefined) throw paramError('open: password login is not supported: pass accessToken, a token of the presence service');
    const token = params.accessToken ?? params.agoraToken ?? this.opts.accessToken;
    if (!token && !this.opts.getToken) throw paramError('open: accessToken (a token of the presence service) is required');
    if (params.user !== undefined && token) {
      const sub = jwtSubject(token);
      if (sub !== undefined && sub !== params.user)
        throw paramError(`open: user '${params.user}' is not the token's user '${sub}'`, AgoraCode.WEBIM_CONNCTION_AUTH_ERROR);
    }
    const client = connect({
      url: this.opts.url,
      httpUrl: this.opts.apiUrl,
      getToken: this.opts.getToken ?? (() => token as string),
      device: this.device,
      WebSocket: this.opts.WebSocket,
      heartbeatSeconds: this.opts.heartbeatSeconds,
      requestTimeoutMs: this.opts.requestTimeoutMs,
      backoff: this.opts.backoff,
    });
    this.client = client;
    // the first of: connected, or a failure before it (a refused handshake, a getToken that throws)
    const opened = new Promise<void>((resolve, reject) => {
      const offs = [
        client.on('connected', () => settle()),
        client.on('disconnected', ({ code }) => settle(`close code ${code ?? 'none'}`)),
        client.on('error', (err) => settle(describe(err))),
      ];
      const settle = (failure?: string) => {
        for (const off of offs) off();
        if (failure === undefined) resolve();
        else
          reject(
            new AgoraPresenceError(
              AgoraCode.WEBIM_CONNCTION_OPEN_ERROR,
              `open: the presence service refused the connection (${failure}; a bad or expired token?)`,
              'open',
            ),
          );
      };
    });
    client.on('presence', (p) => this.emit('onPresenceStatusChange', [this.toPresenceType(p)]));
    client.on('connected', () => this.emit('onConnected'));
    client.on('disconnected', () => this.emit('onDisconnected'));
    client.on('error', (err) => this.emit('onError', toAgoraError(err)));
    try {
      await opened;
    } catch (err) {
      client.close();
      this.client = undefined;
      throw err;
    }
    return { accessToken: token };
  }

  isOpened(): boolean {
    return this.client?.connected ?? false;
  }

  /** Ends the session (no reconnect); onDisconnected follows. */
  close(): void {
    this.client?.close();
    this.client = undefined;
  }

  /** Adds (or replaces) the handlers registered under `id`. */
  addEventHandler(id: string, handlers: EventHandlerType): void {
    if (typeof handlers !== 'object' || handlers === null) throw paramError('addEventHandler: handlers must be an object');
    this.handlers.set(id, handlers);
  }

  removeEventHandler(id: string): void {
    this.handlers.delete(id);
  }

  private emit(name: 'onPresenceStatusChange' | 'onConnected' | 'onDisconnected' | 'onError', ...args: unknown[]): void {
    for (const h of [...this.handlers.values()]) invoke(h[name], ...args);
  }

  // ---- presence ----

  /** Publishes `description` as the user's custom status (this service's `customStatus`); '' or null clears it. */
  publishPresence(params: { description?: string | null } & Callbacks<PublishPresenceResult>): Promise<AsyncResult<PublishPresenceResult>> {
    return this.run('publishPresence', params, async (o, client) => {
      const d = o.description;
      if (d !== undefined && d !== null && typeof d !== 'string') throw paramError(`publishPresence: description must be a string, got ${typeof d}`);
      const own = await client().setPresence({ customStatus: d ? d : null });
      // the publisher's own handlers hear it too, as Agora's do
      this.emit('onPresenceStatusChange', [this.toPresenceType(own)]);
      return { result: 'ok' as const };
    });
  }

  /** Subscribes for `expiry` seconds (1 to 30 days); resolves with the users' presence. */
  subscribePresence(params: { usernames: string[]; expiry: number } & Callbacks<SubscribePresenceResult>): Promise<AsyncResult<SubscribePresenceResult>> {
    return this.run('subscribePresence', params, async (o, client) => {
      const users = usernamesOf('subscribePresence', o);
      const expiry = integerIn(
        'subscribePresence',
        'expiry',
        o.expiry,
        1,
        AGORA_LIMITS.expiryMaxSeconds,
        'the subscription duration in seconds, at most 30 days',
      );
      const r = await client().subscribe(users, expiry);
      for (const u of r.evicted) this.expiries.delete(u);
      const presence = new Map(r.presence.map((p) => [p.userId, p]));
      const result = r.subscribed.map(({ userId, expiresAt }) => {
        const exp = unixSeconds(expiresAt);
        this.expiries.set(userId, exp);
        const { uid, last_time, ext, status } = this.toSubscribePresence(presence.get(userId) ?? offline(userId));
        return { uid, last_time, expiry: exp, ext, status };
      });
      return { result, ...(r.rejected.length ? { rejected: r.rejected } : {}), ...(r.evicted.length ? { evicted: r.evicted } : {}) };
    });
  }

  unsubscribePresence(params: { usernames: string[] } & Callbacks<PublishPresenceResult>): Promise<AsyncResult<PublishPresenceResult>> {
    return this.run('unsubscribePresence', params, async (o, client) => {
      const users = usernamesOf('unsubscribePresence', o);
      await client().unsubscribe(users);
      for (const u of users) this.expiries.delete(u);
      return { result: 'ok' as const };
    });
  }

  /**
   * A page of the subscriptions, by user ID: `pageNum` 0 and 1 are both the
   * first page, `pageSize` 1–500. Over HTTP (needs `apiUrl`).
   */
  getSubscribedPresenceList(
    params: { pageNum: number; pageSize: number } & Callbacks<GetSubscribedPresenceListResult>,
  ): Promise<AsyncResult<GetSubscribedPresenceListResult>> {
    return this.run('getSubscribedPresenceList', params, async (o, client) => {
      const pageNum = integerIn('getSubscribedPresenceList', 'pageNum', o.pageNum, 0, Number.MAX_SAFE_INTEGER, '0 and 1 are the first page');
      const pageSize = integerIn('getSubscribedPresenceList', 'pageSize', o.pageSize, 1, AGORA_LIMITS.pageSizeMax, 'subscriptions per page');
      if (!this.opts.apiUrl) throw paramError('getSubscribedPresenceList: the connection needs apiUrl (the HTTP url of the presence service)');
      const http = client().http;
      const from = (Math.max(pageNum, 1) - 1) * pageSize;
      const upTo = from + pageSize;
      // the service pages by cursor (500 at most a page, 3000 subscriptions at most): walk to the page asked for
      const held: { userId: string; expiresAt: string }[] = [];
      let total = 0;
      let cursor: string | undefined;
      do {
        const page = await http.subscriptions(Math.min(AGORA_LIMITS.pageSizeMax, upTo - held.length), cursor);
        total = page.total;
        held.push(...page.subscriptions);
        cursor = page.nextCursor ?? undefined;
      } while (cursor && held.length < upTo);
      const sublist = held.slice(from, upTo).map(({ userId, expiresAt }) => {
        const expiry = unixSeconds(expiresAt);
        this.expiries.set(userId, expiry);
        return { uid: userId, expiry };
      });
      return { result: { totalnum: total, sublist } };
    });
  }

  /** The users' current presence, without subscribing. */
  getPresenceStatus(params: { usernames: string[] } & Callbacks<SubscribePresenceResult>): Promise<AsyncResult<SubscribePresenceResult>> {
    return this.run('getPresenceStatus', params, async (o, client) => {
      const users = usernamesOf('getPresenceStatus', o);
      return { result: (await client().getPresence(users)).map((p) => this.toSubscribePresence(p)) };
    });
  }

  /** Checks the options, runs the call, answers Agora's way: promise, `success`/`error` callbacks, AgoraPresenceError. */
  private async run<T>(
    method: string,
    params: unknown,
    body: (o: Record<string, unknown>, client: () => PresenceClient) => Promise<T>,
  ): Promise<AsyncResult<T>> {
    const callbacks = (typeof params === 'object' && params !== null ? params : {}) as Callbacks<T>;
    try {
      const res = ok(await body(optionsObject(method, params), () => this.clientFor(method)));
      invoke(callbacks.success, res);
      return res;
    } catch (err) {
      const e = toAgoraError(err);
      invoke(callbacks.error, e);
      throw e;
    }
  }

  /** The client, once the options are checked: a call before open() is refused. */
  private clientFor(method: string): PresenceClient {
    if (!this.client) throw new AgoraPresenceError(AgoraCode.WEBIM_CONNCTION_DISCONNECTED, `${method}: not open: call open() first`, 'disconnected');
    return this.client;
  }

  /** The user's devices, most recently seen first, remembering up to DEVICES_REMEMBERED: live ones → true. */
  private devices(p: Presence): [string, Presence['devices'][number] | undefined][] {
    const live = new Map(p.devices.map((d) => [d.device, d]));
    const seen = [...live.keys(), ...(this.devicesSeen.get(p.userId) ?? []).filter((d) => !live.has(d))].slice(0, DEVICES_REMEMBERED);
    this.devicesSeen.set(p.userId, seen);
    return seen.sort().map((d) => [d, live.get(d)]);
  }

  private toSubscribePresence(p: Presence): SubscribePresence {
    const status: PresenceStatusMap = {};
    for (const [device, d] of this.devices(p)) status[device] = d === undefined ? '0' : d.status === 'online' ? '1' : d.status;
    return { uid: p.userId, last_time: unixSeconds(p.lastSeen), ext: p.customStatus ?? '', status };
  }

  private toPresenceType(p: Presence): PresenceType {
    return {
      userId: p.userId,
      statusDetails: this.devices(p).map(([device, d]) => ({ device, status: d === undefined ? 0 : 1 })),
      ext: p.customStatus ?? '',
      lastTime: unixSeconds(p.lastSeen),
      expire: this.expiries.get(p.userId) ?? 0,
    };
  }
}

/** A user the reply left out (never expected): shown offline. */
const offline = (userId: string): Presence => ({
  userId,
  status: 'offline',
  customStatus: null,
  activity: null,
  availabilityUntil: null,
  call: 'NoCall',
  profile: null,
  devices: [],
  lastSeen: null,
  version: 0,
});

/** Agora's constructor name: `new AgoraChat.connection({...})`. */
export const connection = AgoraPresenceConnection;

/** `import AgoraChat from '@presence-backend/client/agora'`, as Agora's `import AgoraChat from 'agora-chat'`. */
const AgoraChat = { connection: AgoraPresenceConnection, statusCode: AgoraCode };
export default AgoraChat;
