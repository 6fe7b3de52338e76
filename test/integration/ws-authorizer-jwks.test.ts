/**
 * The WebSocket `$connect` authorizer as configured on AWS: RS256 tokens
 * verified against the issuer's JWKS (served here by a local HTTP server that
 * can rotate keys, answer slowly or fail), with issuer and every configured
 * audience checked as the HTTP API's JWT authorizer does. Each describe
 * loads the authorizer afresh (empty key cache).
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { signHs256 } from '../../functions/core/jwt.ts';

const ISSUER = 'https://idp.example.test/';
const AUDIENCES = ['presence', 'presence-web'];
const TIMEOUT_MS = 300;
/** the slow JWKS answers after this (far beyond the timeout) */
const SLOW_MS = 5000;

const k1 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const k2 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = (key: KeyObject, kid: string) => ({ ...key.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' });

/** what the JWKS endpoint does now */
const jwksServer = { keys: [jwk(k1.publicKey, 'k1')], mode: 'ok' as 'ok' | 'slow' | 'down', hits: 0 };
let server: Server;
let jwksUrl: string;

type Handler = (event: unknown) => Promise<any>;
/** the authorizer module loaded afresh with AWS-like settings: no shared secret, a JWKS url, issuer, all audiences */
async function freshAuthorizer(): Promise<Handler> {
  vi.resetModules();
  delete process.env.PRESENCE_JWT_SECRET;
  Object.assign(process.env, { JWT_JWKS_URL: jwksUrl, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCES.join(','), JWT_JWKS_TIMEOUT_MS: String(TIMEOUT_MS) });
  return (await import('../../functions/workers/ws-authorizer.ts')).handler as Handler;
}

function rs256(claims: Record<string, unknown>, key: KeyObject = k1.privateKey, kid = 'k1'): string {
  const head = Buffer.from(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${head}.${body}.${sign('RSA-SHA256', Buffer.from(`${head}.${body}`), key).toString('base64url')}`;
}
const now = () => Math.floor(Date.now() / 1000);
const valid = (extra: Record<string, unknown> = {}) => ({ sub: 'alice', iss: ISSUER, aud: AUDIENCES[0], iat: now(), exp: now() + 3600, ...extra });
const event = (token?: string, device?: string) => ({
  type: 'REQUEST',
  methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc/live/$connect',
  queryStringParameters: { ...(token ? { token } : {}), ...(device ? { device } : {}) },
});

beforeAll(async () => {
  server = createServer((req, res) => {
    jwksServer.hits++;
    if (jwksServer.mode === 'down') {
      req.socket.destroy();
      return;
    }
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: jwksServer.keys }));
    };
    if (jwksServer.mode === 'slow') setTimeout(answer, SLOW_MS).unref();
    else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  jwksUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/.well-known/jwks.json`;
});
afterEach(() => {
  vi.useRealTimers();
  Object.assign(jwksServer, { keys: [jwk(k1.publicKey, 'k1')], mode: 'ok' });
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});

describe('WebSocket authorizer with a JWKS', () => {
  let handler: Handler;
  beforeAll(async () => {
    handler = await freshAuthorizer();
  });

  it('allows a valid RS256 token and hands userId, scope and device to later routes', async () => {
    const res = await handler(event(rs256(valid({ scope: 'presence:sys' })), 'ios_1'));
    expect(res.principalId).toBe('alice');
    expect(res.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow', Action: 'execute-api:Invoke' });
    expect(res.context).toEqual({ userId: 'alice', scope: 'presence:sys', device: 'ios_1' });
  });

  it('hands an scp list on as space-separated scopes (the context carries strings only)', async () => {
    const res = await handler(event(rs256(valid({ scp: ['presence:sys', 'presence:admin'] }))));
    expect(res.context.scope).toBe('presence:sys presence:admin');
  });

  it.each([
    ['the second configured audience', { aud: AUDIENCES[1] }],
    ['an aud list naming a configured audience', { aud: ['someone-else', AUDIENCES[1]] }],
    ['a Cognito access token: client_id is a configured audience, no aud', { aud: undefined, client_id: AUDIENCES[1], token_use: 'access' }],
  ])('accepts %s, as the HTTP API does', async (_name, extra) => {
    await expect(handler(event(rs256(valid(extra))))).resolves.toMatchObject({ principalId: 'alice' });
  });

  it('caches the key set', async () => {
    const before = jwksServer.hits;
    await handler(event(rs256(valid())));
    await handler(event(rs256(valid())));
    expect(jwksServer.hits).toBe(before);
  });

  it.each([
    ['no token', undefined],
    ['a wrong issuer', rs256(valid({ iss: 'https://evil.example/' }))],
    ['a wrong audience', rs256(valid({ aud: 'other-app' }))],
    ['a wrong aud with a configured client_id (aud decides)', rs256(valid({ aud: 'other-app', client_id: AUDIENCES[0] }))],
    ['a client_id that is not an audience, no aud', rs256(valid({ aud: undefined, client_id: 'other-app' }))],
    ['an expired token', rs256(valid({ exp: now() - 60 }))],
    ['a token not yet valid', rs256(valid({ nbf: now() + 600 }))],
    ['a token signed by another key', rs256(valid(), other.privateKey)],
    ['a subject that is not a userId', rs256(valid({ sub: 'USER#alice' }))],
    ['an HS256 token (no shared secret on AWS)', signHs256(valid(), 'local-dev-secret')],
    ['alg none', `${Buffer.from('{"alg":"none","kid":"k1"}').toString('base64url')}.${Buffer.from(JSON.stringify(valid())).toString('base64url')}.x`],
  ])('refuses %s with Unauthorized (401)', async (_name, token) => {
    await expect(handler(event(token))).rejects.toThrow(/^Unauthorized$/);
  });
});

describe('JWKS fetching', () => {
  it('an unknown kid fetches the key set again: a rotated key is accepted at once', async () => {
    const handler = await freshAuthorizer();
    await expect(handler(event(rs256(valid())))).resolves.toMatchObject({ principalId: 'alice' });
    const before = jwksServer.hits;
    jwksServer.keys = [jwk(k1.publicKey, 'k1'), jwk(k2.publicKey, 'k2')];
    await expect(handler(event(rs256(valid(), k2.privateKey, 'k2')))).resolves.toMatchObject({ principalId: 'alice' });
    expect(jwksServer.hits).toBe(before + 1);
  });

  it('does not refetch the key set for every unknown key id', async () => {
    const handler = await freshAuthorizer();
    await handler(event(rs256(valid())));
    const before = jwksServer.hits;
    for (let i = 0; i < 5; i++) await expect(handler(event(rs256(valid(), k1.privateKey, `rotated-${i}`)))).rejects.toThrow(/^Unauthorized$/);
    expect(jwksServer.hits - before).toBeLessThanOrEqual(1);
  });

  it('a slow JWKS endpoint: the token is refused within the timeout instead of hanging', async () => {
    const handler = await freshAuthorizer();
    jwksServer.mode = 'slow';
    const started = Date.now();
    await expect(handler(event(rs256(valid())))).rejects.toThrow(/^Unauthorized$/);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1500);
  });

  it('JWKS endpoint down after the first fetch: a token whose key is cached is still accepted, hours later', async () => {
    const handler = await freshAuthorizer();
    await expect(handler(event(rs256(valid())))).resolves.toMatchObject({ principalId: 'alice' });
    jwksServer.mode = 'down';
    const token = rs256(valid({ exp: now() + 6 * 3600 }));
    // (the clock moves, timers stay real)
    vi.setSystemTime(Date.now() + 3 * 3600 * 1000);
    await expect(handler(event(token))).resolves.toMatchObject({ principalId: 'alice' });
    // an unknown kid still needs the endpoint: refused, within the timeout
    const started = Date.now();
    await expect(handler(event(rs256(valid({ exp: now() + 3600 }), k2.privateKey, 'k2')))).rejects.toThrow(/^Unauthorized$/);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1500);
  });
});
