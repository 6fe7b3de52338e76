/**
 * The WebSocket `$connect` authorizer as configured on AWS: RS256 tokens
 * verified against the issuer's JWKS (served here by a local HTTP server),
 * with issuer and audience checked, through the same verifier code as locally.
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signHs256 } from '../../functions/core/jwt.ts';

const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'presence';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
let server: Server;
let jwksHits = 0;
let handler: (event: any) => Promise<any>;

function rs256(claims: Record<string, unknown>, key: KeyObject = privateKey, kid = 'k1'): string {
  const head = Buffer.from(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${head}.${body}.${sign('RSA-SHA256', Buffer.from(`${head}.${body}`), key).toString('base64url')}`;
}
const now = () => Math.floor(Date.now() / 1000);
const valid = (extra: Record<string, unknown> = {}) => ({ sub: 'alice', iss: ISSUER, aud: AUDIENCE, exp: now() + 300, ...extra });
const event = (token?: string, device?: string) => ({
  type: 'REQUEST',
  methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc/live/$connect',
  queryStringParameters: { ...(token ? { token } : {}), ...(device ? { device } : {}) },
});

beforeAll(async () => {
  server = createServer((_req, res) => {
    jwksHits++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  // as on AWS: no shared secret, a JWKS url, issuer and audience
  delete process.env.PRESENCE_JWT_SECRET;
  process.env.JWT_JWKS_URL = `http://127.0.0.1:${port}/.well-known/jwks.json`;
  process.env.JWT_ISSUER = ISSUER;
  process.env.JWT_AUDIENCE = AUDIENCE;
  ({ handler } = await import('../../functions/workers/ws-authorizer.ts'));
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('WebSocket authorizer with a JWKS', () => {
  it('allows a valid RS256 token and hands userId, scope and device to later routes', async () => {
    const res = await handler(event(rs256(valid({ scope: 'presence:sys' })), 'ios_1'));
    expect(res.principalId).toBe('alice');
    expect(res.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow', Action: 'execute-api:Invoke' });
    expect(res.context).toEqual({ userId: 'alice', scope: 'presence:sys', device: 'ios_1' });
  });

  it('caches the key set', async () => {
    const before = jwksHits;
    await handler(event(rs256(valid())));
    await handler(event(rs256(valid())));
    expect(jwksHits).toBe(before);
  });

  it.each([
    ['no token', undefined],
    ['a wrong issuer', rs256(valid({ iss: 'https://evil.example/' }))],
    ['a wrong audience', rs256(valid({ aud: 'other-app' }))],
    ['an expired token', rs256(valid({ exp: now() - 60 }))],
    ['a token not yet valid', rs256(valid({ nbf: now() + 600 }))],
    ['a token signed by another key', rs256(valid(), other.privateKey)],
    ['an unknown key id', rs256(valid(), privateKey, 'k9')],
    ['an HS256 token (no shared secret on AWS)', signHs256(valid(), 'local-dev-secret')],
    ['alg none', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(valid())).toString('base64url')}.`],
  ])('refuses %s with Unauthorized (401)', async (_name, token) => {
    await expect(handler(event(token))).rejects.toThrow(/^Unauthorized$/);
  });
});

describe('JWKS refetching', () => {
  it('does not refetch the key set for every unknown key id', async () => {
    const before = jwksHits;
    for (let i = 0; i < 5; i++) await expect(handler(event(rs256(valid(), privateKey, `rotated-${i}`)))).rejects.toThrow(/^Unauthorized$/);
    expect(jwksHits - before).toBeLessThanOrEqual(1);
  });
});
