/**
 * Presence client SDK (Node ≥ 20 and browsers): a WebSocket session with
 * heartbeats, reconnect with jittered exponential backoff and a fresh token,
 * listeners re-established after every reconnect (subscriptions live on the
 * server and survive), a presence cache that ignores stale versions, typed
 * actions with request/response correlation and timeouts, and typed HTTP calls.
 *
 *   const presence = connect({ url: 'ws://127.0.0.1:3001', httpUrl: 'http://127.0.0.1:3000', getToken });
 *   presence.on('presence', (p) => render(p));
 *   await presence.subscribe(['bob']);
 */

// the wire types are the server's own (type-only imports: nothing of the server is bundled)
import type { CallState, DeviceChange, DeviceStatus, OwnPresence, Presence, PresencePatch, Profile, Status } from '../functions/core/presence.ts';

export type { CallState, DeviceChange, DeviceStatus, OwnPresence, Presence, PresencePatch, Profile, Status };

/**
 * What a connection listens to: friends, a group or users; `bidirectional`
 * also makes them hear this user for as long as the connection lives (sent
 * again with the listen after every reconnect).
 */
export type ListenTarget = ({ friends: true } | { groupId: string } | { userIds: string[] }) & { bidirectional?: boolean };

/** A reply carrying presences: what did not fit in the message is named (`remaining`) or paged (`nextCursor`). */
interface Reply {
  presence: Presence[];
  remaining?: string[];
  nextCursor?: string;
}

export interface SubscribeResult {
  subscribed: { userId: string; expiresAt: string }[];
  rejected: string[];
  evicted: string[];
  presence: Presence[];
}

/** The largest message the service takes (and the largest WebSocket frame API Gateway lets through). */
export const MAX_MESSAGE_BYTES = 32 * 1024;
const utf8 = new TextEncoder();
/** the automatic heartbeat: no requestId, so no answer (see ConnectOptions.heartbeatSeconds) */
const HEARTBEAT = JSON.stringify({ action: 'heartbeat' });

export class PresenceError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PresenceError';
  }
}

/** The WebSocket API this SDK needs (the browser's, or the `ws` package in Node). */
export interface WebSocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code?: number }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type WebSocketFactory = new (url: string) => WebSocketLike;

export interface ConnectOptions {
  /** WebSocket API url, e.g. ws://127.0.0.1:3001 or wss://<api>/<stage> */
  url: string;
  /** HTTP API url, for the `http` methods */
  httpUrl?: string;
  /** a fixed token, or… */
  token?: string;
  /** …a function called for a fresh token on every (re)connect */
  getToken?: () => string | Promise<string>;
  device?: string;
  /**
   * seconds between heartbeats (default 60: at most half the server's
   * PRESENCE_TIMEOUT_SECONDS, 120 by default). Heartbeats are sent without a
   * requestId, so the server does not answer them: one billed message each.
   */
  heartbeatSeconds?: number;
  requestTimeoutMs?: number;
  /** reconnect backoff: first delay and cap (ms) */
  backoff?: { initialMs?: number; maxMs?: number };
  /** the WebSocket implementation (default: globalThis.WebSocket) */
  WebSocket?: WebSocketFactory;
}

type Events = {
  presence: (p: Presence) => void;
  connected: () => void;
  disconnected: (info: { code?: number }) => void;
  error: (err: unknown) => void;
};

interface Pending {
  resolve: (data: any) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class PresenceClient {
  private ws: WebSocketLike | undefined;
  private readonly handlers: { [K in keyof Events]: Set<Events[K]> } = {
    presence: new Set(),
    connected: new Set(),
    disconnected: new Set(),
    error: new Set(),
  };
  private readonly pending = new Map<string, Pending>();
  private readonly cache = new Map<string, Presence>();
  private readonly listeners: ListenTarget[] = [];
  private seq = 0;
  private attempt = 0;
  private closed = false;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private openWaiters: (() => void)[] = [];
  /** how many times the session (re)connected */
  connects = 0;

  constructor(private readonly opts: ConnectOptions) {
    void this.open();
  }

  on<K extends keyof Events>(event: K, fn: Events[K]): () => void {
    this.handlers[event].add(fn);
    return () => this.handlers[event].delete(fn);
  }

  private emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    for (const fn of this.handlers[event]) (fn as (...a: Parameters<Events[K]>) => void)(...args);
  }

  /** Resolves when the socket is open (now or after the next reconnect). */
  ready(): Promise<void> {
    if (this.ws?.readyState === 1) return Promise.resolve();
    return new Promise((r) => this.openWaiters.push(r));
  }

  get connected(): boolean {
    return this.ws?.readyState === 1;
  }

  /** The newest presence seen for a user (pushes, replies), or undefined. */
  presence(userId: string): Presence | undefined {
    return this.cache.get(userId);
  }

  private async token(): Promise<string> {
    if (this.opts.getToken) return this.opts.getToken();
    if (this.opts.token) return this.opts.token;
    throw new Error('connect() needs token or getToken');
  }

  private async open(): Promise<void> {
    if (this.closed) return;
    let token: string;
    try {
      token = await this.token();
    } catch (err) {
      this.emit('error', err);
      this.scheduleReconnect();
      return;
    }
    const Impl = this.opts.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketFactory }).WebSocket;
    if (!Impl) throw new Error('no WebSocket implementation: pass options.WebSocket');
    const q = new URLSearchParams({ token });
    if (this.opts.device) q.set('device', this.opts.device);
    const ws = new Impl(`${this.opts.url.replace(/\/$/, '')}/?${q}`);
    this.ws = ws;
    ws.onopen = () => void this.onOpen(ws);
    ws.onmessage = (ev) => this.onMessage(typeof ev.data === 'string' ? ev.data : String(ev.data));
    ws.onerror = (ev) => this.emit('error', ev);
    ws.onclose = (ev) => this.onClose(ws, ev.code);
  }

  private async onOpen(ws: WebSocketLike): Promise<void> {
    if (ws !== this.ws) return;
    this.attempt = 0;
    this.connects++;
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.beat(), (this.opts.heartbeatSeconds ?? 60) * 1000);
    for (const w of this.openWaiters.splice(0)) w();
    // listeners belong to a connection: re-establish them
    for (const target of this.listeners)
      await this.request<Reply>('listen', { ...target })
        .then((r) => this.complete(r, target))
        .catch((err) => this.emit('error', err));
    this.emit('connected');
  }

  private onClose(ws: WebSocketLike, code?: number): void {
    if (ws !== this.ws) return;
    clearInterval(this.heartbeat);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new PresenceError('disconnected', 'connection closed before the reply'));
      this.pending.delete(id);
    }
    this.emit('disconnected', { code });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const { initialMs = 500, maxMs = 30_000 } = this.opts.backoff ?? {};
    const base = Math.min(maxMs, initialMs * 2 ** this.attempt++);
    const delay = base / 2 + Math.random() * (base / 2); // jitter: half to full
    setTimeout(() => void this.open(), delay);
  }

  private onMessage(raw: string): void {
    let m: any;
    try {
      m = JSON.parse(raw);
    } catch {
      return;
    }
    if (m.type === 'presence') {
      if (this.remember([m.data])) this.emit('presence', m.data);
      return;
    }
    const p = m.requestId !== undefined ? this.pending.get(String(m.requestId)) : undefined;
    if (!p) {
      if (m.type === 'error') this.emit('error', new PresenceError(m.error, m.message));
      return;
    }
    this.pending.delete(String(m.requestId));
    clearTimeout(p.timer);
    if (m.type === 'error') p.reject(new PresenceError(m.error, m.message));
    else p.resolve(m.data);
  }

  /** Keeps the newest version per user; true when `list` brought something newer. */
  private remember(list: Presence[] | undefined): boolean {
    let newer = false;
    for (const p of list ?? []) {
      const held = this.cache.get(p.userId);
      if (!held || p.version > held.version) {
        this.cache.set(p.userId, p);
        newer = true;
      }
    }
    return newer;
  }

  /**
   * A heartbeat nobody answers (no requestId): keeps the device live at the
   * cost of one message. A refused one (rate limited) still gets an error reply.
   */
  private beat(): void {
    if (this.ws?.readyState === 1) this.ws.send(HEARTBEAT);
  }

  /** Sends an action and resolves with its reply's data (rejects on error reply or timeout). */
  request<T = any>(action: string, fields: Record<string, unknown> = {}): Promise<T> {
    const ws = this.ws;
    if (ws?.readyState !== 1) return Promise.reject(new PresenceError('disconnected', 'not connected'));
    const requestId = `sdk-${++this.seq}`;
    const message = JSON.stringify({ action, requestId, ...fields });
    // a WebSocket sends a message as one frame, and API Gateway closes the connection on a frame over 32 KB
    if (utf8.encode(message).length > MAX_MESSAGE_BYTES)
      return Promise.reject(new PresenceError('payload_too_large', `Messages must be at most ${MAX_MESSAGE_BYTES} bytes`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new PresenceError('timeout', `${action} got no reply`));
      }, this.opts.requestTimeoutMs ?? 5000);
      this.pending.set(requestId, { resolve, reject, timer });
      ws.send(message);
    });
  }

  /**
   * A reply's presences plus the rest it points to (API Gateway delivers at
   * most 128 KB per message, so a large reply is cut): `remaining` userIds are
   * asked with getPresence, a group's or friends' `nextCursor` is followed
   * over HTTP (needs `httpUrl`). All of it goes into the cache.
   */
  private async complete(reply: Reply, target?: ListenTarget): Promise<Presence[]> {
    const all = [...reply.presence];
    if (reply.remaining?.length) all.push(...(await this.complete(await this.request<Reply>('getPresence', { userIds: reply.remaining }))));
    if (reply.nextCursor && target && !('userIds' in target) && this.opts.httpUrl) {
      for (let cursor: string | null = reply.nextCursor; cursor; ) {
        const page: { presence: Presence[]; nextCursor: string | null } =
          'groupId' in target
            ? await this.http.groupPresence(target.groupId, { includeOffline: true, limit: 500, cursor })
            : await this.http.friendsPresence(true, { limit: 500, cursor });
        all.push(...page.presence);
        cursor = page.nextCursor;
      }
    }
    this.remember(all);
    return all;
  }

  // ---- typed WebSocket actions ----
  /** A heartbeat that asks for its answer (the device and its new expiry); the automatic ones do not. */
  sendHeartbeat = () => this.request<{ device: string; expiresAt: string }>('heartbeat');
  /** presence settings, plus this connection's device status, ext and call state */
  setPresence = (patch: PresencePatch & DeviceChange) => this.request<OwnPresence>('setPresence', { ...patch });
  /** in the order asked; offline users too unless includeOffline is false */
  getPresence = async (userIds: string[], includeOffline?: boolean) =>
    this.complete(await this.request<Reply>('getPresence', includeOffline === undefined ? { userIds } : { userIds, includeOffline }));
  subscribe = async (userIds: string[], expiresIn?: number) => {
    const r = await this.request<SubscribeResult & Reply>('subscribe', expiresIn === undefined ? { userIds } : { userIds, expiresIn });
    const { remaining: _rest, ...result } = r;
    return { ...result, presence: await this.complete(r) };
  };
  unsubscribe = (userIds: string[]) => this.request<{ unsubscribed: string[] }>('unsubscribe', { userIds });
  /** Listens (and keeps listening across reconnects) until stopListening; resolves with every target's presence. */
  listen = async (target: ListenTarget) => {
    const r = await this.request<Reply>('listen', { ...target });
    this.listeners.push(target);
    return this.complete(r, target);
  };
  stopListening = async () => {
    this.listeners.length = 0;
    return this.request<{ stopped: number }>('stopListening');
  };
  forcePush = () => this.request<Presence>('forcePush');

  // ---- typed HTTP routes ----
  readonly http = {
    call: async <T = any>(method: string, path: string, body?: unknown): Promise<T> => {
      if (!this.opts.httpUrl) throw new Error('connect() needs httpUrl for HTTP calls');
      const res = await fetch(`${this.opts.httpUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${await this.token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const data = (await res.json()) as any;
      if (!res.ok) throw new PresenceError(data?.error ?? 'internal', data?.message ?? res.statusText);
      return data as T;
    },
    me: () => this.http.call<OwnPresence>('GET', '/v1/me/presence'),
    patchMe: (patch: PresencePatch) => this.http.call<OwnPresence>('PATCH', '/v1/me/presence', patch),
    push: () => this.http.call<Presence>('POST', '/v1/me/presence/push'),
    heartbeat: (device?: string) => this.http.call<{ device: string; expiresAt: string }>('POST', '/v1/me/heartbeat', device ? { device } : {}),
    setDevice: (device: string, status: Status, ext?: string | null, call?: CallState) =>
      this.http.call<OwnPresence>('PUT', `/v1/me/devices/${encodeURIComponent(device)}`, {
        status,
        ...(ext === undefined ? {} : { ext }),
        ...(call === undefined ? {} : { call }),
      }),
    deleteDevice: (device: string) => this.http.call<OwnPresence>('DELETE', `/v1/me/devices/${encodeURIComponent(device)}`),
    user: (userId: string) => this.http.call<Presence>('GET', `/v1/users/${encodeURIComponent(userId)}/presence`),
    users: (userIds: string[], includeOffline?: boolean) =>
      this.http.call<{ presence: Presence[] }>(
        'GET',
        `/v1/presence?userIds=${userIds.map(encodeURIComponent).join(',')}${includeOffline === undefined ? '' : `&includeOffline=${includeOffline}`}`,
      ),
    subscribe: (userIds: string[], expiresIn?: number) =>
      this.http.call<SubscribeResult>('POST', '/v1/me/subscriptions', { userIds, ...(expiresIn ? { expiresIn } : {}) }),
    unsubscribe: (userIds: string[]) => this.http.call<{ unsubscribed: string[] }>('DELETE', '/v1/me/subscriptions', { userIds }),
    subscriptions: (limit?: number, cursor?: string) =>
      this.http.call<{ total: number; subscriptions: { userId: string; expiresAt: string }[]; nextCursor: string | null }>(
        'GET',
        `/v1/me/subscriptions?${new URLSearchParams({ ...(limit ? { limit: String(limit) } : {}), ...(cursor ? { cursor } : {}) })}`,
      ),
    friends: () => this.http.call<{ friends: string[] }>('GET', '/v1/me/friends'),
    /** all friends, or a page of them when `limit` or `cursor` is given */
    friendsPresence: (includeOffline = false, o: { limit?: number; cursor?: string } = {}) =>
      this.http.call<{ presence: Presence[]; nextCursor: string | null }>(
        'GET',
        `/v1/me/friends/presence?${new URLSearchParams({
          includeOffline: String(includeOffline),
          ...(o.limit ? { limit: String(o.limit) } : {}),
          ...(o.cursor ? { cursor: o.cursor } : {}),
        })}`,
      ),
    groupPresence: (groupId: string, o: { includeOffline?: boolean; limit?: number; cursor?: string } = {}) =>
      this.http.call<{ presence: Presence[]; nextCursor: string | null }>(
        'GET',
        `/v1/groups/${encodeURIComponent(groupId)}/presence?${new URLSearchParams({
          includeOffline: String(o.includeOffline ?? false),
          ...(o.limit ? { limit: String(o.limit) } : {}),
          ...(o.cursor ? { cursor: o.cursor } : {}),
        })}`,
      ),
  };

  /** Ends the session for good (no reconnect). */
  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    this.ws?.close(1000, 'client closed');
  }
}

export function connect(options: ConnectOptions): PresenceClient {
  return new PresenceClient(options);
}
