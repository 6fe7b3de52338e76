/**
 * Fuzzing: malformed and hostile input at every HTTP route of `httpRoutes`,
 * every route of the compatibility facades (`facadeRoutes`: their errors are
 * in their API's shape, `{"detail": "..."}` for the generic one), every
 * WebSocket action of `wsRoutes` and the `$connect` query string.
 *
 * Cases are generated from the route table (path parameters substituted with
 * hostile values; bodies and queries from a generator that reads each
 * handler's request schema, so a new route is fuzzed without touching this
 * file) with a seeded PRNG (mulberry32; `FUZZ_SEED=<n>` to vary it), so every
 * failure reproduces. Every failure is reported with the concrete request.
 *
 * Asserted for every input: never a 5xx (nor a dropped/unanswered request);
 * every 4xx carries exactly the contract's `{"error","message"}` body with a
 * contract code matching the status; a rejected request leaves the stored
 * state of the caller (sys routes: of the target user) unchanged; every
 * WebSocket message gets a `response` or contract `error` reply and the
 * connection stays open. Valid-but-unusual input may succeed (2xx).
 *
 * Concurrency: 16 lanes, each with its own users, run one request at a time
 * (plus the state snapshot reads), so before/after comparisons are exact.
 */
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { isPushFormat } from '../../functions/compat/push-formats.ts';
import { signHs256 } from '../../functions/core/jwt.ts';
import * as schemaModule from '../../functions/core/schemas.ts';
import type { Schema } from '../../functions/core/validate.ts';
import { FACADE_DOCS } from '../../lib/api-docs.ts';
import { facadeRoutes, type HttpRoute, httpRoutes, SCOPES, wsRoutes } from '../../lib/routes.ts';
import type { LocalStack } from '../../local/stack.ts';
import { api, type Client, connect, SECRET, startTestStack, token } from '../support/e2e.ts';
import { problemWith } from '../support/schema-check.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_122) >>> 0;
const LANES = 16;
const HTTP_TIMEOUT_MS = 2500;
const WS_REPLY_TIMEOUT_MS = 5000;
/** stay under the per-connection WebSocket rate limit (default 100 / 10 s): a fresh connection after this many messages */
const WS_MESSAGES_PER_CONNECTION = Math.max(1, Math.min(80, Number(process.env.WS_RATE_LIMIT ?? 100) - 10));
/** API Gateway (and the local gateway) close a WebSocket on a frame above 128 KB: that is the gateway's limit, not fuzzed */
const WS_FRAME_MAX = 120 * 1024;
const ROOT = resolve(import.meta.dirname, '../..');

const ERROR_STATUS: Record<string, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  payload_too_large: 413,
  rate_limited: 429,
};

// ---------------------------------------------------------------- PRNG
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  sample<T>(xs: readonly T[], k: number): T[] {
    const copy = [...xs];
    const out: T[] = [];
    while (out.length < k && copy.length > 0) out.push(copy.splice(this.int(copy.length), 1)[0] as T);
    return out;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// ---------------------------------------------------------------- hostile values
const long = (n: number, c = 'x') => c.repeat(n);
const ids = (n: number, prefix = 'r') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const deepObject = (n: number, leaf: unknown = 1): unknown => {
  let v = leaf;
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
};
const deepArray = (n: number): unknown => {
  let v: unknown = [];
  for (let i = 0; i < n; i++) v = [v];
  return v;
};
const deepText = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  'x',
  long(64),
  long(65),
  long(1025),
  long(100_000),
  '😀',
  '😀'.repeat(40),
  'שלום\u202eevil',
  '\u200b',
  'a\u200db',
  '\ufeff',
  '\ud800',
  'a\udc00b',
  '\u0000',
  'a\u0000b',
  'e\u0301',
  'ａｂｃ',
  'USER#x',
  '#',
  '../..',
  '..',
  '/',
  '%2F',
  '%00',
  '?x=1',
  '__proto__',
  'constructor',
  'toString',
  'null',
  'true',
  '0',
  '-1',
  'NaN',
  '{}',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '$' + '{x}',
  '\\',
  '\n\r\t',
  '2020-01-01T00:00:00.000Z',
  '2099-01-01T00:00:00.000Z',
  '2099-13-45T99:99:99.999Z',
  '2099-01-01T00:00:00+01:00',
  'online',
  'offline',
  'auto',
];

/**
 * No positive integers below an hour: a valid duration that small would make a
 * request create a device/subscription that expires mid-run, and the
 * before/after comparisons of later rejected requests would see the expiry.
 */
const HOSTILE_NUMBERS: readonly number[] = [
  0,
  -1,
  -0.5,
  1.5,
  0.1,
  1e308,
  -1e308,
  2 ** 53 + 2,
  2 ** 64,
  1e21,
  1e-200,
  86_400,
  604_800,
  604_801,
  2_592_000,
  2_592_001,
  2 ** 31,
  -(2 ** 31),
];

const HOSTILE_STRUCTS: readonly unknown[] = [
  null,
  true,
  false,
  [],
  [null],
  [1, 'a', {}],
  ['a', 'a'],
  ['r1', 'r1'],
  ids(100),
  ids(101),
  Array(10_000).fill('a'),
  Array.from({ length: 10_000 }, (_, i) => i),
  [['a']],
  {},
  { a: 1 },
  JSON.parse('{"__proto__":{"polluted":1}}'),
  JSON.parse('{"constructor":{"prototype":{"polluted":1}}}'),
  deepObject(1000),
  deepArray(1000),
  deepObject(40),
  { a: deepArray(200) },
  { n: 2 ** 64 },
  { n: 1e200 },
  { n: 1e-200 },
  { '': 1 },
  { a: { '': {} } },
  { s: '\ud800' },
  { s: '\u0000' },
  { k: long(900) },
  { big: long(2000) },
  { game: 'chess', table: 7 },
];

const HOSTILE_VALUES: readonly unknown[] = [...HOSTILE_STRINGS, ...HOSTILE_NUMBERS, ...HOSTILE_STRUCTS];

/** Every field always gets every JSON type and the worst sizes; the rest of HOSTILE_VALUES is sampled. */
const CORE_VALUES: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  '',
  'x',
  long(100_000),
  '\ud800',
  'a\u0000b',
  [],
  Array(10_000).fill('a'),
  {},
  deepObject(1000),
];
const valuesFor = (rng: Rng, k: number) => [
  ...CORE_VALUES,
  ...rng.sample(
    HOSTILE_VALUES.filter((v) => !CORE_VALUES.includes(v)),
    k,
  ),
];

/** JSON text no JSON.stringify produces: spliced verbatim where a value goes. */
const RAW_LITERALS: readonly string[] = [
  '1e999',
  '-1e999',
  '123456789012345678901234567890',
  '1E-400',
  '-0',
  '0.0000000000000000000000000000000000000001',
  '"\\ud800"',
  '"\\udfff\\ud800"',
  '"\\u0000"',
  deepText(1000),
  deepText(14_000),
  'NaN',
  'Infinity',
  'undefined',
  '01',
  '.5',
  '+1',
  "'x'",
  '0x10',
  'tru',
  '"unterminated',
  '[1,]',
  '{,}',
];

const RAW_PLACEMENTS: readonly ((lit: string) => string)[] = [(l) => l, (l) => `{"x":${l}}`, (l) => `[${l}]`];

// ---------------------------------------------------------------- schemas of the routes
const isSchema = (v: unknown): v is Schema =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && ['type', 'properties', 'anyOf', 'enum', 'pattern', 'const'].some((k) => k in v);

const exported = schemaModule as unknown as Record<string, unknown>;

/**
 * The body/query schema a handler validates with, found by the name it passes
 * to `httpRoute({ body: x, query: y })`; undefined when the route takes none.
 */
function handlerSchemas(route: HttpRoute): { body?: Schema; query?: Schema } {
  const src = readFileSync(resolve(ROOT, route.entry), 'utf8');
  const find = (key: string): Schema | undefined => {
    const name = new RegExp(`\\b${key}:\\s*(\\w+)`).exec(src)?.[1];
    const s = name ? exported[name] : undefined;
    return isSchema(s) ? s : undefined;
  };
  return { body: find('body'), query: find('query') };
}

/** Every field name of every request schema (with one schema per name). */
function collectFields(): Map<string, Schema> {
  const fields = new Map<string, Schema>();
  const walk = (s: Schema) => {
    for (const [k, v] of Object.entries(s.properties ?? {})) {
      if (!fields.has(k)) fields.set(k, v);
      walk(v);
    }
    for (const v of s.anyOf ?? []) walk(v);
    if (s.items) walk(s.items);
  };
  for (const v of Object.values(exported)) if (isSchema(v)) walk(v);
  for (const v of Object.values(schemaModule.wsSchemas)) walk(v);
  return fields;
}
const FIELDS = collectFields();

interface Lane {
  i: number;
  user: string;
  userFriend: string;
  userGroup: string;
  target: string;
  friend: string;
  group: string;
  sysCaller: string;
  adminCaller: string;
  tokens: { user: string; sys: string; admin: string; target: string; friend: string };
}

/** A valid value for a field (by name first, then from its schema). */
function example(name: string, schema: Schema | undefined, lane?: Lane): unknown {
  switch (name) {
    case 'device':
      return 'fzdev';
    case 'groupId':
      return lane?.userGroup ?? 'fzg';
    case 'userIds':
      return [lane?.target ?? 'fzx', 'fzx'];
    case 'customStatus':
      return 'fuzzing';
    case 'activity':
      return { game: 'chess', table: 7 };
    case 'ext':
      return 'v1';
    case 'availabilityUntil':
      return '2099-01-01T00:00:00.000Z';
    case 'requestId':
      return 'rid';
  }
  if (!schema) return 'fz';
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  if (schema.anyOf?.[0]) return example(name, schema.anyOf[0], lane);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'integer':
    case 'number':
      return schema.maximum ?? 86_400;
    case 'boolean':
      return true;
    case 'array':
      return [example(name, schema.items, lane)];
    case 'object':
      return { k: 'v' };
    case 'null':
      return null;
    default:
      return schema.format === 'date-time' ? '2099-01-01T00:00:00.000Z' : 'fz';
  }
}

/** The smallest valid object for a schema: required fields, plus the first ones while minProperties asks for more. */
function baseObject(schema: Schema, lane?: Lane, skip: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of schema.required ?? []) if (!skip.includes(k)) out[k] = example(k, schema.properties?.[k], lane);
  for (const k of Object.keys(schema.properties ?? {})) {
    if (Object.keys(out).length >= (schema.minProperties ?? 0)) break;
    if (!(k in out) && !skip.includes(k) && k !== 'availabilityUntil') out[k] = example(k, schema.properties?.[k], lane);
  }
  return out;
}

/** JSON with `"__RAW__"` replaced verbatim by `raw`. */
const withRaw = (obj: Record<string, unknown>, field: string, raw: string) => JSON.stringify({ ...obj, [field]: '__RAW__' }).replace('"__RAW__"', () => raw);

const preview = (body: string | Buffer | undefined): string => {
  if (body === undefined) return '(no body)';
  if (Buffer.isBuffer(body)) return `<${body.length} bytes ${body.subarray(0, 24).toString('hex')}>`;
  const shown = JSON.stringify(body.length > 160 ? body.slice(0, 160) : body);
  return body.length > 160 ? `${shown}…(${body.length} chars)` : shown;
};

// ---------------------------------------------------------------- HTTP cases
/** What a case needs of a route: a route of the contract, or of a compatibility facade. */
type FuzzRoute = Pick<HttpRoute, 'id' | 'method' | 'path' | 'auth'>;

/** A route to fuzz and the request schemas it reads (its body and query string). */
interface FuzzTarget {
  route: FuzzRoute;
  body?: Schema;
  query?: Schema;
}

const contractTargets = (): FuzzTarget[] => httpRoutes.map((route) => ({ route, ...handlerSchemas(route) }));

/** The facades' routes with the schemas their OpenAPI documentation gives (lib/api-docs.ts FACADE_DOCS, the facade's own schemas). */
const facadeTargets = (): FuzzTarget[] =>
  facadeRoutes().map((route) => {
    const doc = FACADE_DOCS[route.facade.id]?.routes[route.name];
    if (!doc) throw new Error(`no documentation for ${route.id}`);
    return { route, body: doc.body, query: doc.query };
  });

interface AuthVariant {
  desc: string;
  header: (l: Lane, route: FuzzRoute | undefined) => string | undefined;
  /** a validly signed token whose sub is not a contract userId */
  badSub?: boolean;
}

const now = () => Math.floor(Date.now() / 1000);
const b64json = (v: unknown) => b64(JSON.stringify(v));
const hs = (claims: Record<string, unknown>, secret = SECRET) => signHs256(claims, secret);

function callerToken(l: Lane, route: FuzzRoute | undefined): string {
  if (route?.auth === 'sys') return l.tokens.sys;
  if (route?.auth === 'admin') return l.tokens.admin;
  return l.tokens.user;
}

const AUTH_VARIANTS: readonly AuthVariant[] = [
  { desc: 'no Authorization header', header: () => undefined },
  { desc: 'empty Authorization header', header: () => '' },
  { desc: '"Bearer"', header: () => 'Bearer' },
  { desc: '"Bearer "', header: () => 'Bearer ' },
  { desc: 'Bearer garbage', header: () => 'Bearer garbage' },
  { desc: 'Basic credentials', header: () => 'Basic dXNlcjpwYXNz' },
  { desc: 'token without scheme', header: (l, r) => callerToken(l, r) },
  { desc: 'lower-case scheme', header: (l, r) => `bearer ${callerToken(l, r)}` },
  { desc: 'two tokens', header: (l, r) => `Bearer ${callerToken(l, r)} ${callerToken(l, r)}` },
  { desc: 'tampered signature', header: (l, r) => `Bearer ${callerToken(l, r)}x` },
  { desc: 'a.b.c', header: () => 'Bearer a.b.c' },
  { desc: '....', header: () => 'Bearer ....' },
  { desc: 'huge garbage token (12 KB)', header: () => `Bearer ${long(12_000, 'A')}` },
  { desc: 'alg none', header: (l) => `Bearer ${b64json({ alg: 'none', typ: 'JWT' })}.${b64json({ sub: l.user, exp: now() + 600 })}.` },
  { desc: 'alg RS256 without keys', header: (l) => `Bearer ${b64json({ alg: 'RS256' })}.${b64json({ sub: l.user, exp: now() + 600 })}.c2ln` },
  { desc: 'payload is an array', header: () => `Bearer ${b64json({ alg: 'HS256' })}.${b64json([1])}.c2ln` },
  { desc: 'expired token', header: (l) => `Bearer ${hs({ sub: l.user, exp: now() - 60 })}` },
  { desc: 'token without exp', header: (l) => `Bearer ${hs({ sub: l.user })}` },
  { desc: 'exp as a string', header: (l) => `Bearer ${hs({ sub: l.user, exp: String(now() + 600) })}` },
  { desc: 'nbf in the future', header: (l) => `Bearer ${hs({ sub: l.user, exp: now() + 600, nbf: now() + 3600 })}` },
  { desc: 'wrong secret', header: (l) => `Bearer ${hs({ sub: l.user, exp: now() + 600 }, 'not-the-secret')}` },
  { desc: 'sub is a number', header: () => `Bearer ${hs({ sub: 42, exp: now() + 600 })}` },
  { desc: 'empty sub', header: () => `Bearer ${hs({ sub: '', exp: now() + 600 })}` },
  { desc: 'no sub', header: () => `Bearer ${hs({ exp: now() + 600 })}` },
  { desc: 'user token (no scope)', header: (l) => `Bearer ${l.tokens.user}` },
  { desc: 'sys token', header: (l) => `Bearer ${l.tokens.sys}` },
  { desc: 'admin token', header: (l) => `Bearer ${l.tokens.admin}` },
  { desc: 'scope as an array', header: (l) => `Bearer ${hs({ sub: l.sysCaller, exp: now() + 600, scope: ['presence:sys', 'presence:admin'] })}` },
  { desc: 'scp array', header: (l) => `Bearer ${hs({ sub: l.sysCaller, exp: now() + 600, scp: ['presence:sys', 'presence:admin'] })}` },
  { desc: 'scope upper-case', header: (l) => `Bearer ${hs({ sub: l.sysCaller, exp: now() + 600, scope: 'PRESENCE:SYS PRESENCE:ADMIN' })}` },
  { desc: 'scope prefix', header: (l) => `Bearer ${hs({ sub: l.sysCaller, exp: now() + 600, scope: 'presence:sysx presence:adminx presence' })}` },
  { desc: 'scope with odd spacing', header: (l) => `Bearer ${hs({ sub: l.sysCaller, exp: now() + 600, scope: '  presence:sys\tpresence:admin ' })}` },
  { desc: 'sub of 65 chars', badSub: true, header: () => `Bearer ${hs({ sub: long(65, 's'), exp: now() + 600 })}` },
  { desc: 'sub of 3000 chars', badSub: true, header: () => `Bearer ${hs({ sub: long(3000, 's'), exp: now() + 600 })}` },
  { desc: 'sub with #', badSub: true, header: () => `Bearer ${hs({ sub: 'USER#STATE', exp: now() + 600 })}` },
  { desc: 'sub with NUL', badSub: true, header: () => `Bearer ${hs({ sub: 'a\u0000b', exp: now() + 600 })}` },
  { desc: 'sub lone surrogate', badSub: true, header: () => `Bearer ${hs({ sub: '\ud800', exp: now() + 600 })}` },
  { desc: 'sub emoji/RTL', badSub: true, header: () => `Bearer ${hs({ sub: '😀\u202e', exp: now() + 600 })}` },
];

/** Raw path segments (sent as is): encodings, traversal, unicode, prototype names, lengths. */
const PATH_VALUES: readonly string[] = [
  '..',
  '.',
  '%2E%2E',
  '%2e',
  '%2F',
  'a%2Fb',
  '..%2F..%2Fme',
  '%00',
  'a%00b',
  'USER%23x',
  '%23',
  'a#b',
  '#',
  'a?x=1',
  '?',
  '%3F',
  '%25',
  '%',
  '%ZZ',
  '%E0%A4%A',
  '%ED%A0%80',
  '%C0%AF',
  '%FF',
  long(65),
  long(1000),
  long(8000),
  '%F0%9F%98%80',
  '%E2%80%8B',
  '%E2%80%AE',
  '%D7%A9%D7%9C%D7%95%D7%9D',
  '%EF%BB%BF',
  'a%20b',
  '%20',
  'a+b',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'a;b',
  'a,b',
  '*',
  '~',
  'a.b',
  '-',
  '@',
  long(64, 'A'),
  '%7B%7D',
  '%5Cx',
  'null',
  '0',
  '',
];

/** Always tried on every path parameter (PATH_VALUES is sampled on top). */
const CORE_PATH_VALUES: readonly string[] = [
  '..',
  '%2F',
  '%00',
  'USER%23x',
  '%ZZ',
  '%F0%9F%98%80',
  long(65),
  long(8000),
  '__proto__',
  'constructor',
  'a#b',
  'a?x=1',
  '',
];

const PATH_TRICKS: readonly [string, (p: string) => string][] = [
  ['trailing slash', (p) => `${p}/`],
  ['leading double slash', (p) => `/${p}`],
  ['inner double slash', (p) => p.replace('/v1/', '/v1//')],
  ['dot segment', (p) => p.replace('/v1/', '/v1/./')],
  ['dot-dot segment', (p) => p.replace('/v1/', '/v1/x/../')],
  ['escaping the API', (p) => `${p}/../../..`],
  ['upper case', (p) => p.toUpperCase()],
  ['encoded slash', (p) => p.replace('/v1/', '/v1%2F')],
  ['NUL suffix', (p) => `${p}%00`],
  ['fragment', (p) => `${p}#frag`],
  ['empty query', (p) => (p.includes('?') ? `${p}&` : `${p}?`)],
  ['encoded backslashes', (p) => p.replace(/\//g, '%5C').replace(/^%5C/, '/')],
  ['matrix param', (p) => `${p};x=1`],
  ['other version', (p) => p.replace('/v1/', '/v2/')],
  ['extension', (p) => `${p}.json`],
];

const CONTENT_TYPES: readonly (string | undefined)[] = [
  undefined,
  'application/json',
  'application/json; charset=utf-16',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=zzz',
  'application/xml',
  'application/vnd.api+json',
  '*/*',
  '',
  'APPLICATION/JSON',
];

const QUERY_VALUES: readonly string[] = [
  '-1',
  '0',
  '1',
  '500',
  '501',
  '1e9',
  '1000000000',
  '1.5',
  '%201',
  '01',
  '000',
  '0x1f',
  'NaN',
  '',
  'abc',
  '%00',
  '%FF',
  '%ZZ',
  '%F0%9F%98%80',
  '%E2%80%AE',
  'true',
  'TRUE',
  'false',
  '!!',
  'AAAA',
  b64('USER#x'),
  b64('../../etc'),
  b64(long(64, 'a')),
  b64('\ud800'),
  long(1025),
  long(128, 'A'),
  'a,,b',
  ',',
  'a,a,a',
  ids(101).join(','),
  ids(100).join(','),
  Array(200).fill('a').join(','),
  `${ids(100).join(',')},r0`,
  'USER%23x',
  '%2C',
  long(6600, 'a'),
  Array(3000).fill('a').join(','),
  '__proto__',
];

/** Always tried on every query parameter a route reads. */
const CORE_QUERY_VALUES: readonly string[] = [
  '-1',
  '0',
  '1e9',
  '501',
  '',
  '%ZZ',
  '%00',
  '!!',
  b64('USER#x'),
  long(1025),
  ids(101).join(','),
  `${ids(100).join(',')},r0`,
  'a,a,a',
  'TRUE',
];

interface HttpCase {
  kind: string;
  route?: FuzzRoute;
  method: string;
  /** raw path (and query), built for a lane */
  path: (l: Lane) => string;
  auth: AuthVariant;
  contentType?: string;
  extraHeaders?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** not asserted (the contract is silent), but worth knowing when the request succeeds */
  noteIfAccepted?: string;
}

const DEFAULT_AUTH: AuthVariant = { desc: 'caller token', header: (l, r) => `Bearer ${callerToken(l, r)}` };

/** Default path parameter values of a lane: the users whose state is compared. */
function paramDefault(name: string, route: FuzzRoute, l: Lane): string {
  const del = route.method === 'DELETE';
  const sys = route.auth !== 'user';
  switch (name) {
    case 'userId':
    case 'user_id':
      return l.target;
    case 'friendId':
      return del ? 'fzgone' : l.friend;
    case 'groupId':
      return sys ? (del ? 'fzgone-g' : l.group) : l.userGroup;
    case 'device':
      return del ? 'fzgone' : 'fzdev';
    // the Agora facade: the caller's own uid (a user token acts on its own), past its 403
    case 'uid':
      return l.user;
    case 'resource':
      return 'fzdev';
    case 'status':
      return '1';
    case 'expiry':
      return '60';
    default:
      return 'fzx';
  }
}

const fillPath = (route: FuzzRoute, l: Lane, override: Record<string, string> = {}) =>
  route.path.replace(/\{(\w+)\}/g, (_, name: string) => override[name] ?? paramDefault(name, route, l));

function routeQuery(query: Schema | undefined, l: Lane): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of query?.required ?? []) out[k] = k === 'userIds' || k === 'user_ids' ? `${l.target},${l.user}` : String(example(k, query?.properties?.[k], l));
  return out;
}
const qs = (q: Record<string, string>) =>
  Object.entries(q)
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
const withQuery = (path: string, q: Record<string, string>) => (Object.keys(q).length ? `${path}?${qs(q)}` : path);

function generateHttpCases(rng: Rng, targets: readonly FuzzTarget[]): HttpCase[] {
  const cases: HttpCase[] = [];
  const queryKeys = [
    ...new Set([...FIELDS.keys()].filter((k) => ['limit', 'cursor', 'includeOffline', 'userIds', 'device'].includes(k))),
    ...targets.flatMap((t) => Object.keys(t.query?.properties ?? {})),
  ];
  for (const { route, body, query } of targets) {
    const params = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
    const basePath = (l: Lane) => withQuery(fillPath(route, l), routeQuery(query, l));
    const baseBody = body ? JSON.stringify(baseObject(body)) : undefined;
    const ct = body ? 'application/json' : undefined;
    const add = (c: Omit<HttpCase, 'route' | 'method' | 'auth'> & Partial<Pick<HttpCase, 'method' | 'auth'>>) =>
      cases.push({ route, method: route.method, auth: DEFAULT_AUTH, ...c });

    // auth variations
    for (const auth of rng.sample(AUTH_VARIANTS, 14)) add({ kind: 'auth', path: basePath, auth, body: baseBody, contentType: ct });

    // hostile path parameters (one at a time, then all equal)
    for (const p of params) {
      for (const v of [
        ...CORE_PATH_VALUES,
        ...rng.sample(
          PATH_VALUES.filter((x) => !CORE_PATH_VALUES.includes(x)),
          16,
        ),
      ])
        add({ kind: `path ${p}`, path: (l) => withQuery(fillPath(route, l, { [p]: v }), routeQuery(query, l)), body: baseBody, contentType: ct });
      add({
        kind: `path ${p}`,
        path: (l) => withQuery(fillPath(route, l, { [p]: route.auth === 'user' ? l.user : l.target }), routeQuery(query, l)),
        body: baseBody,
        contentType: ct,
      });
    }
    if (params.length > 1)
      add({
        kind: 'path same ids',
        path: (l) => withQuery(fillPath(route, l, Object.fromEntries(params.map((p) => [p, l.target]))), routeQuery(query, l)),
        body: baseBody,
        contentType: ct,
      });

    // whole-path tricks
    for (const [name, trick] of rng.sample(PATH_TRICKS, 4))
      add({ kind: `path trick: ${name}`, path: (l) => trick(basePath(l)), body: baseBody, contentType: ct });

    // query parameters: the ones the route reads get the core values and a sample, any other key a small sample
    const own = Object.keys(query?.properties ?? {});
    const others = [...new Set([...queryKeys, 'foo', '__proto__', 'constructor', 'limit[]'])].filter((k) => !own.includes(k));
    const keys: [string, string[]][] = [
      ...own.map((k): [string, string[]] => [k, [...CORE_QUERY_VALUES, ...rng.sample(QUERY_VALUES, 4)]]),
      ...rng.sample(others, query ? others.length : 4).map((k): [string, string[]] => [k, rng.sample(QUERY_VALUES, 2)]),
    ];
    for (const [key, values] of keys) {
      for (const v of values) {
        add({
          kind: `query ${key}`,
          path: (l) => withQuery(fillPath(route, l), { ...routeQuery(query, l), [key]: v }),
          body: baseBody,
          contentType: ct,
        });
      }
    }
    const rawQueries = [
      'limit=1&limit=2',
      'userIds=a&userIds=b',
      '&&&',
      '=x',
      'limit',
      `x=${long(8000)}`,
      'cursor=a&cursor=b',
      'includeOffline=true&includeOffline=false',
    ];
    for (const raw of query ? rawQueries : rng.sample(rawQueries, 3)) {
      add({
        kind: 'query raw',
        path: (l) => {
          const base = qs(routeQuery(query, l));
          return `${fillPath(route, l)}?${base ? `${base}&` : ''}${raw}`;
        },
        body: baseBody,
        contentType: ct,
      });
    }

    // bodies
    const bodyCase = (kind: string, b: string | Buffer, contentType: string | undefined = 'application/json', extraHeaders?: Record<string, string>) =>
      add({ kind, path: basePath, body: b, contentType, extraHeaders });
    if (body) {
      const base = baseObject(body);
      const fields = Object.keys(body.properties ?? {});
      for (const f of fields) {
        for (const v of valuesFor(rng, 14)) bodyCase(`body ${f}`, JSON.stringify({ ...base, [f]: v }));
        for (const lit of rng.sample(RAW_LITERALS, 4)) bodyCase(`body ${f} raw`, withRaw(base, f, rng.pick(RAW_PLACEMENTS)(lit)));
      }
      for (const f of body.required ?? []) {
        const { [f]: _, ...rest } = base;
        bodyCase(`body missing ${f}`, JSON.stringify(rest));
      }
      for (const extra of [
        'zzz',
        '__proto__',
        'constructor',
        'toString',
        'hasOwnProperty',
        'valueOf',
        'action',
        'userId',
        ...rng.sample([...FIELDS.keys()], 4),
      ]) {
        const known = Object.hasOwn(body.properties ?? {}, extra);
        add({
          kind: `body extra ${extra}`,
          path: basePath,
          body: JSON.stringify({ ...base, [extra]: rng.pick(HOSTILE_VALUES) }),
          contentType: 'application/json',
          noteIfAccepted: known ? undefined : `unknown body field "${extra}" accepted`,
        });
      }
      // random multi-field mutations
      for (let i = 0; i < 12; i++) {
        const m: Record<string, unknown> = { ...baseObject(body) };
        const n = 1 + rng.int(3);
        for (let j = 0; j < n; j++) {
          const op = rng.int(4);
          const f = rng.pick(fields.length ? fields : ['x']);
          if (op === 0) delete m[f];
          else if (op === 1) m[rng.pick([...FIELDS.keys()])] = rng.pick(HOSTILE_VALUES);
          else m[f] = rng.pick(HOSTILE_VALUES);
        }
        bodyCase('body random', JSON.stringify(m));
      }
    }
    const valid = baseBody ?? '{}';
    const inner = valid.slice(1, -1);
    const raws: (string | Buffer)[] = [
      '',
      ' ',
      '\n',
      '{',
      '}',
      '[',
      '{"',
      'null',
      'true',
      '0',
      '"x"',
      '[]',
      '[{}]',
      `[${valid}]`,
      `${valid}xyz`,
      `${valid}${valid}`,
      valid.slice(0, Math.max(1, valid.length >> 1)),
      `\ufeff${valid}`,
      valid.replace(/"/g, "'"),
      '{a:1}',
      '{"a":1,}',
      '{"a" 1}',
      'undefined',
      'NaN',
      inner ? `{${inner},${inner}}` : '{"x":1,"x":2}',
      Buffer.from(valid, 'utf16le'),
      Buffer.from([0xc3, 0x28, 0xa0, 0xa1]),
      Buffer.from([0xff, 0xfe, 0xfd]),
      '\u0000',
      `${valid}\u0000`,
      deepText(1000),
      JSON.stringify(deepObject(1000)),
      `{"x":${deepText(20_000)}}`,
      '['.repeat(70_000),
      JSON.stringify({ pad: long(100_000) }),
      'status=online&device=x',
      '<presence status="online"/>',
    ];
    // routes that take a body get every raw body and content type; the others (which must ignore it) a sample
    for (const r of body ? raws : rng.sample(raws, 4)) bodyCase('body raw', r);
    for (const c of body ? CONTENT_TYPES : rng.sample(CONTENT_TYPES, 2)) {
      bodyCase('content type (valid body)', valid, c);
      bodyCase('content type (bad body)', rng.pick(raws), c);
    }
    bodyCase('content-encoding gzip (not gzipped)', valid, 'application/json', { 'content-encoding': 'gzip' });
    add({ kind: 'headers', path: basePath, body: baseBody, contentType: ct, extraHeaders: { cookie: long(12_000), 'x-forwarded-for': '%00, ::1, 999.1.1.1' } });
    add({ kind: 'headers', path: basePath, body: baseBody, contentType: ct, extraHeaders: { 'x-amz-date': '\u00ff', host: 'evil.example' } });
  }

  // wrong methods on every path of the table
  const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
  const routes = targets.map((t) => t.route);
  for (const path of new Set(routes.map((r) => r.path))) {
    const defined = routes.filter((r) => r.path === path);
    const ref = defined[0] as FuzzRoute;
    for (const method of methods.filter((m) => !defined.some((r) => r.method === m))) {
      cases.push({ kind: 'wrong method', route: ref, method, path: (l) => fillPath(ref, l), auth: DEFAULT_AUTH, body: '{}', contentType: 'application/json' });
    }
  }
  return cases;
}

// ---------------------------------------------------------------- WebSocket cases
interface WsCase {
  kind: string;
  action: string;
  frame: (l: Lane) => string | Buffer;
  /** the message is bad by the contract: the reply must be an error */
  mustFail?: boolean;
}

function generateWsCases(rng: Rng): WsCase[] {
  const cases: WsCase[] = [];
  const actions = wsRoutes.map((r) => r.routeKey).filter((k) => !k.startsWith('$'));
  let rid = 0;
  // every random choice is made here, never while sending: the cases do not depend on lane scheduling
  for (const action of actions) {
    const schema: Schema | undefined = schemaModule.wsSchemas[action];
    const variants = schema?.anyOf ?? [schema ?? {}];
    const add = (kind: string, build: (l: Lane, requestId: string) => Record<string, unknown> | string, mustFail = false) => {
      const requestId = `fz${++rid}`;
      cases.push({ kind, action, mustFail, frame: (l) => ((m) => (typeof m === 'string' ? m : JSON.stringify(m)))(build(l, requestId)) });
    };
    const baseOf =
      (variant: Schema) =>
      (l: Lane, requestId: string): Record<string, unknown> => ({ action, requestId, ...baseObject(variant, l, ['action', 'requestId']) });
    for (const variant of variants) {
      const base = baseOf(variant);
      const own = Object.keys(variant.properties ?? {}).filter((k) => k !== 'action' && k !== 'requestId');
      add('valid', base);
      for (const f of own) {
        for (const v of valuesFor(rng, 6)) add(`field ${f}`, (l, r) => ({ ...base(l, r), [f]: v }));
        for (const lit of rng.sample(RAW_LITERALS, 3)) {
          const place = rng.pick(RAW_PLACEMENTS);
          add(`field ${f} raw`, (l, r) => withRaw(base(l, r), f, place(lit)));
        }
      }
      for (const f of variant.required ?? []) {
        if (f === 'action') continue;
        add(
          `missing ${f}`,
          (l, r) => {
            const { [f]: _, ...rest } = base(l, r);
            return rest;
          },
          true,
        );
      }
    }
    const base = baseOf(variants[0] as Schema);
    add('extra zzz', (l, r) => ({ ...base(l, r), zzz: 1 }), schema !== undefined);
    // unknown fields are bad fields (the schemas say additionalProperties: false), whatever their name
    for (const extra of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'status', 'userId']) {
      const v = rng.pick(HOSTILE_VALUES);
      const known = variants.some((s) => Object.hasOwn(s.properties ?? {}, extra));
      add(`extra ${extra}`, (l, r) => ({ ...base(l, r), [extra]: v }), !known);
    }
    for (const id of [{}, [], null, true, 1.5, -1, 2 ** 60, long(129), long(128), '😀', '\ud800', '', long(100_000)])
      add('requestId', (l, r) => ({ ...base(l, r), requestId: id }), typeof id === 'string' && id.length > 128);
    for (let i = 0; i < 8; i++) {
      const edits: [string, unknown, boolean][] = Array.from({ length: 1 + rng.int(3) }, () => [
        rng.pick([...FIELDS.keys()]),
        rng.pick(HOSTILE_VALUES),
        rng.chance(0.3),
      ]);
      add('random', (l, r) => {
        const m: Record<string, unknown> = base(l, r);
        for (const [f, v, remove] of edits) {
          if (remove) delete m[f];
          else m[f] = v;
        }
        return m;
      });
    }
    add('oversized', (l, r) => ({ ...base(l, r), customStatus: long(40_000) }), true);
  }
  // actions that are not routes ($default)
  for (const a of [
    1,
    null,
    [],
    {},
    true,
    '',
    ' ',
    'HEARTBEAT',
    'heartbeat ',
    'heartbeat\u0000',
    '$connect',
    '$disconnect',
    '$default',
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    long(50_000),
    '😀',
    '\ud800',
  ]) {
    const requestId = `fz${++rid}`;
    cases.push({ kind: 'bad action', action: short(String(a), 20), mustFail: true, frame: () => JSON.stringify({ action: a, requestId }) });
  }
  cases.push({ kind: 'no action', action: '-', mustFail: true, frame: () => JSON.stringify({ requestId: 'na', userIds: ['a'] }) });
  const hb = JSON.stringify({ action: 'heartbeat' });
  const rawFrames: [string | Buffer, boolean][] = [
    ['not json', true],
    ['', true],
    [' ', true],
    ['null', true],
    ['true', true],
    ['1', true],
    ['"str"', true],
    ['[]', true],
    [`[${hb}]`, true],
    ['{', true],
    [hb.slice(0, -1), true],
    [`${hb}xyz`, true],
    [`${hb}${hb}`, true],
    [`\ufeff${hb}`, true],
    [hb.replace(/"/g, "'"), true],
    [deepText(1000), true],
    [`{"action":"heartbeat","x":${deepText(15_000)}}`, true],
    [`{"action":"setPresence","activity":{"x":${deepText(15_000)}}}`, true],
    [JSON.stringify(deepObject(1000)), true],
    [long(100_000), true],
    [`{"action":"heartbeat","pad":"${long(40_000)}"}`, true],
    ['\u0000', true],
    ['{"action":"heartbeat","requestId":"a\u0000b"}', true],
    [Buffer.from(hb), false],
    [Buffer.from([0xff, 0xfe, 0x00, 0x01, 0xc3, 0x28]), true],
  ];
  for (const [f, mustFail] of rawFrames) cases.push({ kind: 'raw frame', action: '-', mustFail, frame: () => f });
  return cases.filter((c) => Buffer.byteLength(c.frame(FAKE_LANE)) <= WS_FRAME_MAX);
}

const FAKE_LANE: Lane = {
  i: 0,
  user: 'u',
  userFriend: 'uf',
  userGroup: 'ug',
  target: 't',
  friend: 'f',
  group: 'g',
  sysCaller: 's',
  adminCaller: 'a',
  tokens: { user: '', sys: '', admin: '', target: '', friend: '' },
};

// ---------------------------------------------------------------- checks and reporting
interface Failure {
  kind: string;
  where: string;
  input: string;
  observed: string;
}

/** `text` as a JSON object, or what it is instead. */
function jsonObject(text: string): Record<string, unknown> | string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return 'body is not JSON';
  }
  return body === null || typeof body !== 'object' || Array.isArray(body) ? 'body is not an object' : (body as Record<string, unknown>);
}

/** null when `text` is exactly the contract's error body for `status`, else what is wrong. */
function errorBodyProblem(status: number, text: string, contentType?: string): string | null {
  if (!Object.values(ERROR_STATUS).includes(status)) return `status ${status} is not a contract status`;
  const b = jsonObject(text);
  if (typeof b === 'string') return b;
  const keys = Object.keys(b).sort().join(',');
  if (keys !== 'error,message') return `body keys are [${keys}]`;
  if (typeof b.error !== 'string' || !Object.hasOwn(ERROR_STATUS, b.error)) return `unknown error code ${JSON.stringify(b.error)}`;
  if (ERROR_STATUS[b.error] !== status) return `code ${b.error} with status ${status}`;
  if (typeof b.message !== 'string' || b.message === '') return 'message is not a non-empty string';
  if (contentType !== undefined && !contentType.includes('application/json')) return `content-type ${contentType}`;
  return null;
}

/** What API Gateway answers itself, before any function runs (locally in the contract's body): no route, a path it cannot decode. */
const GATEWAY_ANSWERS: Record<number, string> = { 404: 'No route ', 400: 'Malformed percent-encoding in the path' };

/**
 * null when `text` is a compatibility facade's error body (its FACADE_DOCS errorBody: `{"detail": "<text>"}`, RingCentral's
 * `{"errorCode", "message", "errors"}`, Agora's REST error body) with
 * a 4xx status, or API Gateway's own answer to a request no function sees (GATEWAY_ANSWERS), else what is wrong.
 */
function facadeErrorProblem(status: number, text: string, contentType?: string): string | null {
  const gateway = GATEWAY_ANSWERS[status];
  if (gateway && errorBodyProblem(status, text, contentType) === null && JSON.parse(text).message.startsWith(gateway)) return null;
  if (![400, 401, 403, 404, 413, 429].includes(status)) return `status ${status} is not one the facade answers`;
  const body = jsonObject(text);
  if (typeof body === 'string') return body;
  // the error body of one of the facades (lib/api-docs.ts FACADE_DOCS: generic `{"detail"}`, Agora's REST error body)
  const shapes = Object.values(FACADE_DOCS).map((d) => problemWith(d.errorBody, body));
  if (!shapes.includes(null)) return `body is no facade's error shape (${shapes.join('; ')})`;
  if (contentType !== undefined && !contentType.includes('application/json')) return `content-type ${contentType}`;
  return null;
}

/** One line per distinct problem (kind, route, observed answer), with up to three of the inputs that caused it. */
function report(failures: readonly Failure[]): string[] {
  const groups = new Map<string, { f: Failure; inputs: string[]; n: number }>();
  for (const f of failures) {
    const key = `${f.kind}|${f.where}|${f.observed.replace(/"requestId":"[^"]*",?/, '').slice(0, 100)}`;
    const g = groups.get(key);
    if (!g) groups.set(key, { f, inputs: [f.input], n: 1 });
    else {
      g.n++;
      if (g.inputs.length < 3) g.inputs.push(f.input);
    }
  }
  return [...groups.values()]
    .slice(0, 100)
    .map(({ f, inputs, n }) => `[${f.kind}] ${f.where} (x${n}) -> ${f.observed}\n    e.g. ${inputs.map((i) => short(i, 220)).join('\n    e.g. ')}`);
}

/** Fails with one line per distinct problem (printed in full: vitest would elide a long array). */
function expectNoFailures(failures: readonly Failure[]): void {
  const lines = report(failures);
  if (lines.length > 0) console.log(`fuzz failures (${failures.length} inputs, ${lines.length} distinct):\n${lines.join('\n')}`);
  expect(lines.join('\n')).toBe('');
}

const short = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}…` : s);

// ---------------------------------------------------------------- raw HTTP
interface RawResponse {
  status: number;
  text: string;
  contentType?: string;
  error?: string;
}

let agent: Agent;

function send(
  stack: LocalStack,
  c: { method: string; path: string; headers: Record<string, string | string[]>; body?: string | Buffer },
): Promise<RawResponse> {
  const url = new URL(stack.httpUrl);
  return new Promise((done) => {
    let settled = false;
    const finish = (r: RawResponse) => {
      if (!settled) {
        settled = true;
        done(r);
      }
    };
    let req: ReturnType<typeof httpRequest>;
    try {
      // Node sends no Content-Length for a GET/DELETE body unless told: the body would be parsed as the next request
      const headers = c.body === undefined ? c.headers : { ...c.headers, 'content-length': String(Buffer.byteLength(c.body)) };
      req = httpRequest({ host: url.hostname, port: url.port, method: c.method, path: c.path, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () =>
          finish({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), contentType: String(res.headers['content-type'] ?? '') }),
        );
        res.on('error', (err) => finish({ status: 0, text: '', error: err.message }));
      });
    } catch (err) {
      finish({ status: -1, text: '', error: (err as Error).message });
      return;
    }
    req.setTimeout(HTTP_TIMEOUT_MS, () => req.destroy(new Error(`no response within ${HTTP_TIMEOUT_MS} ms`)));
    req.on('error', (err) => finish({ status: 0, text: '', error: err.message }));
    req.end(c.body);
  });
}

// ---------------------------------------------------------------- the suite
let stack: LocalStack;
let call: ReturnType<typeof api>;
const counts = { http: 0, ws: 0, connect: 0, fiveXX: 0, rateLimited: 0, skipped: 0 };
const started = Date.now();

beforeAll(async () => {
  // a long timeout and a rare sweep: nothing the lanes set up expires during the run
  stack = await startTestStack({ presenceTimeoutSeconds: 900, sweepIntervalSeconds: 3600 });
  call = api(stack);
  agent = new Agent({ keepAlive: true, maxSockets: LANES * 2 });
});

afterAll(async () => {
  agent?.destroy();
  await stack?.stop();
  console.log(
    `fuzz: ${counts.http} http + ${counts.ws} ws inputs (+${counts.connect} $connect), ${counts.fiveXX} 5xx, ` +
      `${counts.rateLimited} rate-limited, ${counts.skipped} skipped, seed ${SEED}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
});

const must = async (method: string, path: string, auth: string, body?: unknown) => {
  const res = await call(method, path, auth, body);
  if (res.status >= 300) throw new Error(`setup ${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
  return res;
};

function makeLane(i: number, tag: string): Lane {
  const l = {
    i,
    user: `fz${tag}u${i}`,
    userFriend: `fz${tag}uf${i}`,
    userGroup: `fz${tag}ug${i}`,
    target: `fz${tag}t${i}`,
    friend: `fz${tag}f${i}`,
    group: `fz${tag}g${i}`,
    sysCaller: `fz${tag}sys${i}`,
    adminCaller: `fz${tag}adm${i}`,
  };
  return {
    ...l,
    tokens: {
      user: token(l.user),
      sys: token(l.sysCaller, SCOPES.sys as string),
      admin: token(l.adminCaller, SCOPES.admin as string),
      target: token(l.target),
      friend: token(l.friend),
    },
  };
}

/** Gives a lane's users something to lose: devices, statuses, subscriptions, friends, groups. */
async function seedLane(l: Lane): Promise<void> {
  const sys = l.tokens.sys;
  await must('PUT', '/v1/me/devices/fzdev', l.tokens.user, { status: 'busy', ext: 'e1' });
  await must('PATCH', '/v1/me/presence', l.tokens.user, { customStatus: 'before', activity: { k: 1 }, visibility: 'friends' });
  await must('POST', '/v1/me/subscriptions', l.tokens.user, { userIds: [l.target, `${l.user}-s`] });
  await must('PUT', `/v1/sys/users/${l.user}/friends/${l.userFriend}`, sys);
  await must('PUT', `/v1/sys/groups/${l.userGroup}/members/${l.user}`, sys);
  await must('PUT', `/v1/sys/users/${l.target}/presence`, sys, { expiresIn: 604_800, status: 'away', activity: { s: 1 } });
  await must('PATCH', '/v1/me/presence', l.tokens.target, { customStatus: 'target' });
  await must('PUT', `/v1/sys/users/${l.target}/friends/${l.friend}`, sys);
  await must('PUT', `/v1/sys/groups/${l.group}/members/${l.target}`, sys);
  await must('PUT', `/v1/sys/groups/${l.group}/members/${l.friend}`, sys);
}

type SnapKind = 'user' | 'sys';

async function snapshot(l: Lane, kind: SnapKind): Promise<{ path: string; status: number; body: unknown }[]> {
  const reads: [string, string][] =
    kind === 'user'
      ? [
          ['/v1/me/presence', l.tokens.user],
          ['/v1/me/subscriptions?limit=500', l.tokens.user],
          ['/v1/me/friends', l.tokens.user],
        ]
      : [
          ['/v1/me/presence', l.tokens.target],
          ['/v1/me/friends', l.tokens.target],
          ['/v1/me/friends', l.tokens.friend],
          [`/v1/groups/${l.group}/presence?includeOffline=true&limit=500`, l.tokens.target],
        ];
  return Promise.all(
    reads.map(async ([path, tok]) => {
      const r = await call('GET', path, tok);
      return { path, status: r.status, body: r.body };
    }),
  );
}

function diff(before: { path: string; body: unknown }[], after: { path: string; body: unknown }[]): string | null {
  for (let i = 0; i < before.length; i++) {
    const a = JSON.stringify(before[i]);
    const b = JSON.stringify(after[i]);
    if (a !== b) return `${before[i]?.path} changed: before ${short(JSON.stringify(before[i]?.body), 250)} after ${short(JSON.stringify(after[i]?.body), 250)}`;
  }
  return null;
}

async function runLanes<T>(items: readonly T[], lanes: readonly Lane[], fn: (item: T, lane: Lane) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    lanes.map(async (lane) => {
      while (next < items.length) {
        const item = items[next++] as T;
        await fn(item, lane);
      }
    }),
  );
}

/**
 * Sends every case, LANES at a time (each lane one request at a time), and fails on a 5xx, a request left
 * unanswered, an error body `errorProblem` refuses, or a rejected request that changed the lane's state.
 * Returns how many inputs were sent.
 */
async function fuzzHttp(cases: readonly HttpCase[], tag: string, errorProblem: (status: number, text: string, contentType?: string) => string | null) {
  const lanes = Array.from({ length: LANES }, (_, i) => makeLane(i, tag));
  await Promise.all(lanes.map(seedLane));
  const base = new Map<Lane, Record<SnapKind, Awaited<ReturnType<typeof snapshot>>>>();
  for (const l of lanes) base.set(l, { user: await snapshot(l, 'user'), sys: await snapshot(l, 'sys') });
  const failures: Failure[] = [];
  const observations = new Set<string>();
  let inputs = 0;

  await runLanes(cases, lanes, async (c, l) => {
    const path = c.path(l);
    const headers: Record<string, string | string[]> = { ...(c.extraHeaders ?? {}) };
    const auth = c.auth.header(l, c.route);
    if (auth !== undefined) headers.authorization = auth;
    if (c.contentType !== undefined) headers['content-type'] = c.contentType;
    const input = `${c.method} ${short(path, 200)} [${c.auth.desc}${c.contentType !== undefined ? `; content-type ${JSON.stringify(c.contentType)}` : ''}] body ${preview(c.body)}`;
    const where = `${c.route?.id ?? '?'} (${c.kind})`;
    let res = await send(stack, { method: c.method, path, headers, body: c.body });
    if (res.status === 0 && !res.error?.startsWith('no response')) res = await send(stack, { method: c.method, path, headers, body: c.body });
    if (res.status === -1) {
      counts.skipped++;
      return;
    }
    counts.http++;
    inputs++;
    const kind: SnapKind = c.route?.auth === 'sys' ? 'sys' : 'user';
    if (res.status === 0) {
      failures.push({ kind: 'no response', where, input, observed: res.error ?? 'connection error' });
    } else if (res.status >= 500) {
      counts.fiveXX++;
      failures.push({ kind: '5xx', where, input, observed: `${res.status} ${short(res.text, 200)}` });
    } else if (res.status >= 400) {
      const problem = errorProblem(res.status, res.text, res.contentType);
      if (problem) failures.push({ kind: 'error body', where, input, observed: `${res.status} ${short(res.text, 200)}: ${problem}` });
    }
    if (res.status < 300 && (c.noteIfAccepted || c.auth.badSub))
      observations.add(`${c.route?.id}: ${c.noteIfAccepted ?? `token sub outside the userId pattern accepted (${c.auth.desc})`} -> ${res.status}`);
    const lb = base.get(l) as Record<SnapKind, Awaited<ReturnType<typeof snapshot>>>;
    const after = await snapshot(l, kind);
    if (res.status >= 400 && res.status < 500) {
      const changed = diff(lb[kind], after);
      if (changed) failures.push({ kind: 'state changed by a rejected request', where, input, observed: `${res.status}; ${changed}` });
    }
    lb[kind] = after;
  });

  if (observations.size > 0) console.log(`fuzz observations (not asserted):\n${[...observations].sort().join('\n')}`);
  expectNoFailures(failures);
  return inputs;
}

describe('fuzzing', () => {
  it('HTTP: every route of httpRoutes survives hostile input', { timeout: 240_000 }, async () => {
    const inputs = await fuzzHttp(generateHttpCases(new Rng(SEED), contractTargets()), 'h', errorBodyProblem);
    expect(inputs).toBeGreaterThan(2000);
  });

  it("HTTP: every route of the compatibility facades survives hostile input, answering errors in its API's shape", { timeout: 180_000 }, async () => {
    const inputs = await fuzzHttp(generateHttpCases(new Rng(SEED ^ 0x27d4eb2f), facadeTargets()), 'g', facadeErrorProblem);
    expect(inputs).toBeGreaterThan(400);
  });

  it('WebSocket: every action of wsRoutes answers hostile messages and keeps the connection', { timeout: 180_000 }, async () => {
    const cases = generateWsCases(new Rng(SEED ^ 0x9e3779b9));
    const lanes = Array.from({ length: LANES }, (_, i) => makeLane(i, 'w'));
    const failures: Failure[] = [];
    // every message is a sign of life of the connection's device: lastSeen moves, nothing else may
    const normalize = (snap: Awaited<ReturnType<typeof snapshot>>) => JSON.stringify(snap, (k, v) => (k === 'lastSeen' ? undefined : v));
    interface Conn {
      client: Client;
      device: string;
      sent: number;
      closed?: string;
      base: string;
    }
    const conns = new Map<Lane, Conn>();
    let opened = 0;
    const open = async (l: Lane): Promise<Conn> => {
      const device = `fzws${++opened}`;
      const client = await connect(stack, l.tokens.user, device);
      const conn: Conn = { client, device, sent: 0, base: normalize(await snapshot(l, 'user')) };
      client.ws.on('close', (code, reason) => {
        conn.closed = `closed ${code} ${reason.toString()}`;
      });
      return conn;
    };
    /** closes a connection and waits for its $disconnect to be stored, so the next baseline is stable */
    const retire = async (l: Lane, conn: Conn) => {
      await conn.client.close();
      for (let i = 0; i < 100; i++) {
        const own = await call('GET', '/v1/me/presence', l.tokens.user);
        if (!own.body?.devices?.some((d: { device: string }) => d.device === conn.device)) return;
        await new Promise((r) => setTimeout(r, 30));
      }
    };
    await Promise.all(
      lanes.map(async (l) => {
        await must('PATCH', '/v1/me/presence', l.tokens.user, { customStatus: 'ws', activity: { w: 1 } });
        await must('POST', '/v1/me/subscriptions', l.tokens.user, { userIds: [`${l.user}-s`] });
        await must('PUT', `/v1/sys/users/${l.user}/friends/${l.userFriend}`, l.tokens.sys);
        await must('PUT', `/v1/sys/groups/${l.userGroup}/members/${l.user}`, l.tokens.sys);
        conns.set(l, await open(l));
      }),
    );

    await runLanes(cases, lanes, async (c, l) => {
      let conn = conns.get(l) as Conn;
      if (conn.closed || conn.sent >= WS_MESSAGES_PER_CONNECTION) {
        await retire(l, conn);
        conn = await open(l);
        conns.set(l, conn);
      }
      const frame = c.frame(l);
      const input = `${c.kind} ${c.action}: ${preview(frame)}`;
      const where = `${c.action} (${c.kind})`;
      const { client } = conn;
      const from = client.messages.length;
      conn.sent++;
      counts.ws++;
      // binary messages stay small; text ones go in frames of at most 32 KB, as API Gateway requires
      if (Buffer.isBuffer(frame)) client.ws.send(frame);
      else client.send(frame);
      let reply: any;
      try {
        reply = await client.next((m) => m?.type !== 'presence', WS_REPLY_TIMEOUT_MS, from);
      } catch {
        failures.push({ kind: 'no reply', where, input, observed: conn.closed ?? `nothing within ${WS_REPLY_TIMEOUT_MS} ms` });
        return;
      }
      if (conn.closed || client.ws.readyState !== WebSocket.OPEN)
        failures.push({ kind: 'connection dropped', where, input, observed: conn.closed ?? 'not open' });
      let sent: unknown;
      try {
        sent = typeof frame === 'string' ? JSON.parse(frame) : undefined;
      } catch {
        sent = undefined;
      }
      const isObject = sent !== null && typeof sent === 'object' && !Array.isArray(sent);
      const sentRid = isObject ? (sent as Record<string, unknown>).requestId : undefined;
      const oversized = isObject && Buffer.byteLength(frame) > schemaModule.LIMITS.wsMessageBytes;
      if (reply?.type === 'error') {
        const code = typeof reply.error === 'string' && Object.hasOwn(ERROR_STATUS, reply.error) ? (reply.error as string) : null;
        const extraKeys = Object.keys(reply).filter((k) => !['type', 'requestId', 'error', 'message'].includes(k));
        if (code === 'rate_limited') counts.rateLimited++;
        if (reply.error === 'internal') {
          counts.fiveXX++;
          failures.push({ kind: '5xx', where, input, observed: short(JSON.stringify(reply), 250) });
        } else if (!code || typeof reply.message !== 'string' || extraKeys.length > 0) {
          failures.push({ kind: 'error body', where, input, observed: short(JSON.stringify(reply), 250) });
        } else if ((typeof sentRid === 'string' || typeof sentRid === 'number') && reply.requestId !== sentRid) {
          failures.push({
            kind: 'error body',
            where,
            input,
            observed: `requestId ${JSON.stringify(reply.requestId)} instead of ${short(JSON.stringify(sentRid), 40)}`,
          });
        } else if (oversized && code !== 'payload_too_large' && code !== 'rate_limited') {
          failures.push({ kind: 'error body', where, input, observed: `${code} for a ${Buffer.byteLength(frame)}-byte message (expected payload_too_large)` });
        }
        const after = normalize(await snapshot(l, 'user'));
        if (after !== conn.base)
          failures.push({ kind: 'state changed by a rejected message', where, input, observed: short(`before ${conn.base} after ${after}`, 700) });
        conn.base = after;
      } else {
        if (reply?.type !== 'response') {
          // API Gateway's "Internal server error" (the handler threw)
          counts.fiveXX++;
          failures.push({ kind: '5xx', where, input, observed: short(JSON.stringify(reply), 250) });
        } else if (c.mustFail || oversized) {
          failures.push({
            kind: 'accepted a bad message',
            where: c.kind,
            input: `${input} (reply ${short(JSON.stringify(reply), 80)})`,
            observed: 'answered {"type":"response"}',
          });
        }
        conn.base = normalize(await snapshot(l, 'user'));
      }
    });

    // every connection still works
    for (const l of lanes) {
      const conn = conns.get(l) as Conn;
      if (!conn.closed && conn.sent < WS_MESSAGES_PER_CONNECTION) {
        const ok = await conn.client.request('getPresence', { userIds: [l.user] }).catch((e: Error) => ({ error: e.message }));
        if (ok?.type !== 'response')
          failures.push({ kind: 'connection unusable', where: l.user, input: 'getPresence after fuzzing', observed: short(JSON.stringify(ok)) });
      }
      await conn.client.close();
    }
    expectNoFailures(failures);
    expect(counts.ws).toBeGreaterThan(500);
  });

  it('WebSocket $connect: hostile query strings are refused with the contract error body or accepted', { timeout: 120_000 }, async () => {
    const rng = new Rng(SEED ^ 0x85ebca6b);
    const failures: Failure[] = [];
    const devicePattern = new RegExp(schemaModule.DEVICE_PATTERN, 'u');
    const wsBase = stack.wsUrl;
    interface ConnectCase {
      desc: string;
      /** the query string; `user` must see no change when the handshake is refused */
      query: (user: string) => string;
    }
    const cases: ConnectCase[] = [];
    const deviceValues = [
      'bad%20device!',
      long(65),
      long(5000),
      '%F0%9F%98%80',
      '%E2%80%AE',
      '%E2%80%8B',
      '%ED%A0%80',
      '%00',
      'a%00b',
      'USER%23x',
      '..%2F..',
      '%2F',
      '%ZZ',
      '%',
      '',
      '%20',
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      long(64),
      'a%26token%3Dx',
      'a+b',
      '%0D%0A',
      'a@b',
      'ws_abc',
      ...Array.from({ length: 16 }, () =>
        encodeURIComponent(rng.sample(['a', 'Z', '0', '.', ':', '-', '_', '#', '/', '😀', ' ', '\u200b', 'é'], 1 + rng.int(6)).join('')),
      ),
    ];
    for (const d of deviceValues) cases.push({ desc: `device=${short(d, 40)}`, query: (u) => `token=${token(u)}&device=${d}` });
    cases.push({ desc: 'two devices', query: (u) => `token=${token(u)}&device=ok&device=bad%20one` });
    // a compatibility facade's push format (functions/compat/push-formats.ts): a known name or nothing
    for (const f of ['generic', 'GENERIC', '', 'nope', '__proto__', 'toString', '%00', 'generic%00', long(1000), '%F0%9F%98%80'])
      cases.push({ desc: `format=${short(f, 40)}`, query: (u) => `token=${token(u)}&format=${f}` });
    cases.push({ desc: 'two formats', query: (u) => `token=${token(u)}&format=generic&format=nope` });
    cases.push({ desc: 'device[]', query: (u) => `token=${token(u)}&device[]=x` });
    const tokenValues: [string, (u: string) => string][] = [
      ['empty token', () => ''],
      ['garbage 4 KB', () => long(4000, 'A')],
      ['garbage 12 KB', () => long(12_000, 'A')],
      ['a.b.c', () => 'a.b.c'],
      ['valid + NUL', (u) => `${token(u)}%00`],
      ['leading space', (u) => `%20${token(u)}`],
      ['unicode', () => '%F0%9F%98%80.%E2%80%AE.x'],
      ['expired', (u) => hs({ sub: u, exp: now() - 60 })],
      ['wrong secret', (u) => hs({ sub: u, exp: now() + 600 }, 'nope')],
      ['alg none', (u) => `${b64json({ alg: 'none' })}.${b64json({ sub: u, exp: now() + 600 })}.`],
      ['sub of 3000 chars', () => hs({ sub: long(3000, 's'), exp: now() + 600 })],
      ['sub with #', () => hs({ sub: 'USER#STATE', exp: now() + 600 })],
      ['sub lone surrogate', () => hs({ sub: '\ud800', exp: now() + 600 })],
      ['sub with NUL', () => hs({ sub: 'a\u0000b', exp: now() + 600 })],
    ];
    for (const [desc, t] of tokenValues) cases.push({ desc: `token: ${desc}`, query: (u) => `token=${t(u)}` });
    cases.push({ desc: 'garbage token first, valid second', query: (u) => `token=garbage&token=${token(u)}` });
    cases.push({ desc: 'valid token first, garbage second', query: (u) => `token=${token(u)}&token=garbage` });
    cases.push({ desc: 'Token (wrong case)', query: (u) => `Token=${token(u)}` });
    cases.push({ desc: 'unicode parameter names', query: (u) => `token=${token(u)}&%F0%9F%98%80=1&%00=%00` });
    cases.push({ desc: 'huge extra parameter', query: (u) => `token=${token(u)}&x=${long(6000)}` });

    await runLanes(
      cases.map((c, i) => ({ c, user: `fzc${i}` })),
      Array.from({ length: LANES }, (_, i) => makeLane(i, 'c')),
      async ({ c, user }) => {
        counts.connect++;
        const url = `${wsBase}/?${c.query(user)}`;
        const input = `$connect ${c.desc}: ?${short(c.query(user), 160)}`;
        const outcome = await new Promise<{ status: number; body: string; ws?: WebSocket }>((done) => {
          const ws = new WebSocket(url);
          ws.on('error', (err) => done({ status: 0, body: err.message }));
          ws.once('open', () => done({ status: 101, body: '', ws }));
          ws.once('unexpected-response', (req, res) => {
            const chunks: Buffer[] = [];
            res.on('data', (d: Buffer) => chunks.push(d));
            res.on('end', () => {
              done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
              req.destroy();
            });
          });
        });
        if (outcome.ws) {
          const device = new URLSearchParams(c.query(user)).getAll('device').at(-1);
          if (device && !devicePattern.test(device))
            failures.push({ kind: 'accepted a bad device', where: '$connect', input, observed: `opened with device ${JSON.stringify(device)}` });
          const format = new URLSearchParams(c.query(user)).getAll('format').at(-1);
          if (format !== undefined && !isPushFormat(format))
            failures.push({ kind: 'accepted a bad format', where: '$connect', input, observed: `opened with format ${JSON.stringify(format)}` });
          const ws = outcome.ws;
          const reply = await new Promise<string>((done) => {
            const t = setTimeout(() => done('no reply'), WS_REPLY_TIMEOUT_MS);
            ws.once('message', (m) => {
              clearTimeout(t);
              done(m.toString());
            });
            ws.send(JSON.stringify({ action: 'heartbeat', requestId: 'h' }));
          });
          if (!reply.includes('"type":"response"')) failures.push({ kind: 'connection unusable', where: '$connect', input, observed: short(reply) });
          await new Promise<void>((done) => {
            ws.once('close', () => done());
            ws.close();
          });
          return;
        }
        if (outcome.status === 0) failures.push({ kind: 'no response', where: '$connect', input, observed: outcome.body });
        else if (outcome.status >= 500) {
          counts.fiveXX++;
          failures.push({ kind: '5xx', where: '$connect', input, observed: `${outcome.status} ${short(outcome.body, 200)}` });
        } else {
          const problem = errorBodyProblem(outcome.status, outcome.body);
          if (problem) failures.push({ kind: 'error body', where: '$connect', input, observed: `${outcome.status} ${short(outcome.body, 200)}: ${problem}` });
        }
        const own = await call('GET', '/v1/me/presence', token(user));
        if (own.body?.version !== 0 || own.body?.devices?.length !== 0)
          failures.push({ kind: 'state changed by a refused handshake', where: '$connect', input, observed: short(JSON.stringify(own.body)) });
      },
    );
    expectNoFailures(failures);
  });
});
