/** Environment, read once at module scope. */
const env = process.env;

const int = (name: string, fallback: number): number => {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`);
  return n;
};

/** A non-negative integer (0 allowed: "off"). */
const count = (name: string, fallback: number): number => {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer`);
  return n;
};

export const config = {
  presenceTable: env.PRESENCE_TABLE ?? 'Presence',
  graphTable: env.GRAPH_TABLE ?? 'Graph',
  /** @connections management API endpoint (https://{api}.execute-api.{region}.amazonaws.com/{stage}) */
  wsCallbackUrl: env.WS_CALLBACK_URL || undefined,
  presenceTimeoutSeconds: int('PRESENCE_TIMEOUT_SECONDS', 120),
  sweepIntervalSeconds: int('SWEEP_INTERVAL_SECONDS', 15),
  /**
   * `gateway`: WebSocket heartbeats never reach a function (MOCK route); the
   * sweeper's liveness wheel checks each connection's LastActiveAt once per
   * timeout (lib/routes.ts HeartbeatMode, commons/liveness.ts). Default `lambda`.
   */
  heartbeatMode: env.HEARTBEAT_MODE === 'gateway' ? ('gateway' as const) : ('lambda' as const),
  fanoutConcurrency: int('FANOUT_CONCURRENCY', 32),
  /** audiences larger than this are split into chunks delivered in parallel */
  fanoutChunkSize: int('FANOUT_CHUNK_SIZE', 500),
  /** SQS queue of fan-out chunks (AWS); locally an in-process queue */
  fanoutQueueUrl: env.FANOUT_QUEUE_URL || undefined,
  /** per-connection WebSocket message limit: WS_RATE_LIMIT messages per WS_RATE_WINDOW_SECONDS */
  wsRateLimit: int('WS_RATE_LIMIT', 100),
  wsRateWindowSeconds: int('WS_RATE_WINDOW_SECONDS', 10),
  /** per-user budget of changes that start a fan-out: USER_CHANGE_LIMIT per USER_CHANGE_WINDOW_SECONDS */
  userChangeLimit: int('USER_CHANGE_LIMIT', 60),
  userChangeWindowSeconds: int('USER_CHANGE_WINDOW_SECONDS', 60),
  /**
   * the generic facade's everyone-broadcast (docs/compat.md): at most this many `format=generic`
   * connections hear every change, followed or not; 0 (default): off, they hear what they follow
   */
  genericBroadcastMax: count('GENERIC_BROADCAST_MAX', 0),
  /** X-Ray through Powertools Tracer: on only with `-c tracing=on`, and then for the traced workers only (functions/commons/traced.ts) */
  tracing: env.POWERTOOLS_TRACE_ENABLED === 'true',
  jwt: {
    /** HS256 secret of the local tokens (never set on AWS) */
    secret: env.PRESENCE_JWT_SECRET || undefined,
    issuer: env.JWT_ISSUER || undefined,
    /** comma-separated accepted audiences, all of them, as the HTTP API's JWT authorizer takes them */
    audiences: (env.JWT_AUDIENCE ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean),
    jwksUrl: env.JWT_JWKS_URL || undefined,
    /** deadline of one JWKS download, in ms */
    jwksTimeoutMs: int('JWT_JWKS_TIMEOUT_MS', 3000),
  },
} as const;
