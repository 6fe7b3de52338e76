/**
 * The smoke suite's clients: plain `fetch` for the HTTP API and the `ws`
 * package for the WebSocket API, as any client of the service would use them
 * (no test framework, nothing of the server imported).
 */
import WebSocket from 'ws';

export interface Reply {
  status: number;
  headers: Headers;
  /** parsed JSON, or the raw text when the body is not JSON */
  body: any;
}

/** One HTTP call: `body` is sent as JSON, or as is when it is a string (to send bad JSON on purpose). */
export async function httpCall(baseUrl: string, method: string, path: string, token?: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(new URL(path, baseUrl), {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** API Gateway closes a connection on a frame over 32 KB: longer messages go in several frames. */
const FRAME_BYTES = 32 * 1024;

/** A refused WebSocket handshake, with the HTTP status the server answered. */
export class HandshakeRefused extends Error {
  constructor(readonly status: number) {
    super(`WebSocket handshake refused with HTTP ${status}`);
    this.name = 'HandshakeRefused';
  }
}

let requestSeq = 0;

/** A WebSocket connection that records every message it receives. */
export class Socket {
  /** every message received, parsed, in arrival order */
  readonly received: any[] = [];
  private readonly wakeups = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      try {
        this.received.push(JSON.parse(data.toString()));
      } catch {
        this.received.push({ unparsable: data.toString() });
      }
      for (const wake of this.wakeups) wake();
    });
  }

  /** Opens `<wsUrl>/?token=…&device=…`; rejects with HandshakeRefused when the server answers the upgrade with an HTTP status. */
  static open(wsUrl: string, token: string | null, device?: string): Promise<Socket> {
    const query = new URLSearchParams();
    if (token !== null) query.set('token', token);
    if (device !== undefined) query.set('device', device);
    const ws = new WebSocket(`${wsUrl.replace(/\/+$/, '')}/?${query}`, { handshakeTimeout: 30_000 });
    const socket = new Socket(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(socket));
      ws.once('unexpected-response', (_req, res) => {
        reject(new HandshakeRefused(res.statusCode ?? 0));
        ws.terminate();
      });
      ws.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** The first message at index >= `from` that matches, waiting up to `timeoutMs` for it. */
  waitFor(what: string, match: (m: any) => boolean, timeoutMs: number, from = 0): Promise<any> {
    return new Promise((resolve, reject) => {
      const look = () => {
        for (let i = from; i < this.received.length; i++) {
          if (!match(this.received[i])) continue;
          this.wakeups.delete(look);
          clearTimeout(timer);
          resolve(this.received[i]);
          return;
        }
      };
      const timer = setTimeout(() => {
        this.wakeups.delete(look);
        reject(new Error(`${what}: nothing within ${timeoutMs / 1000} s (received: ${JSON.stringify(this.received.slice(from)).slice(0, 600)})`));
      }, timeoutMs);
      this.wakeups.add(look);
      look();
    });
  }

  /** Sends a text message, in frames of at most 32 KB. */
  sendText(text: string): void {
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length <= FRAME_BYTES) this.ws.send(text);
    else
      for (let at = 0; at < bytes.length; at += FRAME_BYTES)
        this.ws.send(bytes.subarray(at, at + FRAME_BYTES), { binary: false, fin: at + FRAME_BYTES >= bytes.length });
  }

  /** Sends an action with a fresh requestId and resolves with its reply (`response` or `error`). */
  request(action: string, fields: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<any> {
    const requestId = `smoke-${++requestSeq}`;
    const from = this.received.length;
    this.sendText(JSON.stringify({ action, requestId, ...fields }));
    return this.waitFor(`reply to ${action}`, (m) => m.requestId === requestId, timeoutMs, from);
  }

  /** Closes the connection and resolves once it is closed (at most 10 s). */
  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 10_000);
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.close(1000, 'smoke test done');
    });
  }
}
