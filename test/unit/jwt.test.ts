/**
 * Token rules without a network: the local HS256 path of
 * functions/commons/auth.ts, API Gateway's claim rules (every audience,
 * `client_id` without `aud`), scopes from `scope` or `scp`, and the scopes
 * the HTTP handlers take from what API Gateway verified. The JWKS path
 * (aws-jwt-verify) is in test/integration/ws-authorizer-jwks.test.ts.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenVerifier, type TokenSettings } from '../../functions/commons/auth.ts';
import { httpRoute } from '../../functions/commons/http.ts';
import { audienceAccepted, scopesOf, signHs256, signUserToken } from '../../functions/core/jwt.ts';

const now = Math.floor(Date.now() / 1000);
const secret = 's3cret';
const local: TokenSettings = { secret, audiences: [], jwksTimeoutMs: 1000 };
const verify = createTokenVerifier(local);

describe('local HS256 tokens', () => {
  it('accepts a valid token and returns its claims, subject and scopes', async () => {
    const claims = await verify(signHs256({ sub: 'alice', exp: now + 60, scope: 'presence:sys presence:admin' }, secret));
    expect(claims).toMatchObject({ sub: 'alice', scope: 'presence:sys presence:admin', scopes: ['presence:sys', 'presence:admin'] });
  });

  it('accepts what `npm run token` and the local tools sign', async () => {
    await expect(verify(signUserToken('bob', secret, { ttlSeconds: 60, scope: 'presence:sys' }))).resolves.toMatchObject({
      sub: 'bob',
      scopes: ['presence:sys'],
    });
  });

  it.each([
    ['a wrong secret', signHs256({ sub: 'a', exp: now + 60 }, 'other'), /signature/],
    ['an expired token', signHs256({ sub: 'a', exp: now - 60 }, secret), /expired/],
    ['a token not yet valid', signHs256({ sub: 'a', exp: now + 600, nbf: now + 300 }, secret), /can't be used before/],
    ['a token issued in the future', signHs256({ sub: 'a', exp: now + 600, iat: now + 300 }, secret), /issued in the future/],
    ['no expiry', signHs256({ sub: 'a' }, secret), /expiry/],
    ['no subject', signHs256({ exp: now + 60 }, secret), /subject/],
    ['a subject that is not a userId', signHs256({ sub: 'USER#x', exp: now + 60 }, secret), /userId/],
    ['garbage', 'a.b', /3 parts/],
    [
      'alg none',
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'a', exp: now + 60 })).toString('base64url')}.x`,
      /algorithm/,
    ],
  ])('rejects %s', async (_name, token, message) => {
    await expect(verify(token)).rejects.toThrow(message);
  });

  it('checks the issuer when configured', async () => {
    const v = createTokenVerifier({ ...local, issuer: 'https://idp/' });
    await expect(v(signHs256({ sub: 'a', exp: now + 60, iss: 'https://idp/' }, secret))).resolves.toMatchObject({ sub: 'a' });
    await expect(v(signHs256({ sub: 'a', exp: now + 60, iss: 'https://other/' }, secret))).rejects.toThrow(/[Ii]ssuer/);
  });

  it('refuses HS256 without a secret (AWS), and RS256 without a JWKS url (algorithm confusion)', async () => {
    const aws = createTokenVerifier({ audiences: [], jwksTimeoutMs: 1000 });
    await expect(aws(signHs256({ sub: 'a', exp: now + 60 }, secret))).rejects.toThrow(/algorithm/);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const head = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k1' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ sub: 'rs', exp: now + 60 })).toString('base64url');
    const rs = `${head}.${body}.${sign('RSA-SHA256', Buffer.from(`${head}.${body}`), privateKey).toString('base64url')}`;
    await expect(verify(rs)).rejects.toThrow(/algorithm/);
  });
});

describe('audiences, as the HTTP API JWT authorizer checks them', () => {
  const audiences = ['presence', 'presence-web'];
  const v = createTokenVerifier({ ...local, audiences });
  const token = (extra: Record<string, unknown>) => signHs256({ sub: 'a', exp: now + 60, ...extra }, secret);

  it.each([
    ['the first audience', { aud: 'presence' }],
    ['the second audience', { aud: 'presence-web' }],
    ['an aud list naming one of them', { aud: ['other', 'presence-web'] }],
    ['client_id naming one of them, without aud (Cognito access token)', { client_id: 'presence-web' }],
  ])('accepts %s', async (_name, extra) => {
    await expect(v(token(extra))).resolves.toMatchObject({ sub: 'a' });
  });

  it.each([
    ['another aud', { aud: 'other' }],
    ['another aud even with a matching client_id (aud decides)', { aud: 'other', client_id: 'presence' }],
    ['another client_id', { client_id: 'other' }],
    ['neither aud nor client_id', {}],
  ])('rejects %s', async (_name, extra) => {
    await expect(v(token(extra))).rejects.toThrow(/audience/);
  });

  it('audienceAccepted follows the same rule', () => {
    expect(audienceAccepted({ aud: 'presence-web' }, audiences)).toBe(true);
    expect(audienceAccepted({ client_id: 'presence' }, audiences)).toBe(true);
    expect(audienceAccepted({ aud: [], client_id: 'presence' }, audiences)).toBe(false);
  });
});

describe('scopes', () => {
  it.each([
    ['a scope string', { scope: 'presence:sys  presence:admin' }, ['presence:sys', 'presence:admin']],
    ['an scp list', { scp: ['presence:sys', 'presence:admin'] }, ['presence:sys', 'presence:admin']],
    ['an scp list as API Gateway renders it in claims', { scp: '[presence:sys presence:admin]' }, ['presence:sys', 'presence:admin']],
    ['nothing', {}, []],
  ])('from %s', (_name, claims, scopes) => {
    expect(scopesOf(claims)).toEqual(scopes);
  });

  it('a token with an scp list verifies with those scopes', async () => {
    await expect(verify(signHs256({ sub: 'a', exp: now + 60, scp: ['presence:sys'] }, secret))).resolves.toMatchObject({ scopes: ['presence:sys'] });
  });
});

describe('HTTP handlers take the scopes API Gateway verified', () => {
  const route = httpRoute({ scope: 'presence:sys' }, async (req) => ({ scopes: req.scopes }));
  const call = async (jwt: { claims: Record<string, unknown>; scopes: string[] | null }) => {
    const res = (await route({ routeKey: 'GET /t', headers: {}, requestContext: { authorizer: { jwt } } } as never, {} as never)) as {
      statusCode: number;
      body: string;
    };
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };

  it('requestContext.authorizer.jwt.scopes (the claims render an scp list as a string)', async () => {
    expect(await call({ claims: { sub: 'a', scp: '[presence:sys other]' }, scopes: ['presence:sys', 'other'] })).toEqual({
      status: 200,
      body: { scopes: ['presence:sys', 'other'] },
    });
  });

  it('falls back to the claims where API Gateway gives no scopes (routes without authorization scopes)', async () => {
    expect(await call({ claims: { sub: 'a', scp: '[presence:sys]' }, scopes: null })).toEqual({ status: 200, body: { scopes: ['presence:sys'] } });
    expect(await call({ claims: { sub: 'a', scope: 'presence:sys' }, scopes: null })).toEqual({ status: 200, body: { scopes: ['presence:sys'] } });
  });

  it('403 without the scope', async () => {
    expect((await call({ claims: { sub: 'a', scope: 'presence:admin' }, scopes: null })).status).toBe(403);
    expect((await call({ claims: { sub: 'a', scope: 'presence:sys' }, scopes: ['presence:admin'] })).status).toBe(403);
  });
});
