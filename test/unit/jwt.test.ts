import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { scopesOf, signHs256, verifyJwt } from '../../functions/core/jwt.ts';

const now = Math.floor(Date.now() / 1000);
const secret = 's3cret';

describe('JWT verification', () => {
  it('accepts a valid HS256 token and returns its claims', async () => {
    const token = signHs256({ sub: 'alice', exp: now + 60, scope: 'presence:sys' }, secret);
    const claims = await verifyJwt(token, { secret });
    expect(claims.sub).toBe('alice');
    expect(scopesOf(claims)).toEqual(['presence:sys']);
  });

  it.each([
    ['a wrong secret', signHs256({ sub: 'a', exp: now + 60 }, 'other'), /signature/],
    ['an expired token', signHs256({ sub: 'a', exp: now - 60 }, secret), /expired/],
    ['a token not yet valid', signHs256({ sub: 'a', exp: now + 600, nbf: now + 300 }, secret), /not yet valid/],
    ['no subject', signHs256({ exp: now + 60 }, secret), /subject/],
    ['garbage', 'a.b', /malformed/],
  ])('rejects %s', async (_name, token, message) => {
    await expect(verifyJwt(token, { secret })).rejects.toThrow(message);
  });

  it('rejects alg none', async () => {
    const head = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ sub: 'a', exp: now + 60 })).toString('base64url');
    await expect(verifyJwt(`${head}.${body}.`, { secret })).rejects.toThrow(/algorithm/);
  });

  it('checks issuer and audience when configured', async () => {
    const token = signHs256({ sub: 'a', exp: now + 60, iss: 'https://idp', aud: ['presence'] }, secret);
    await expect(verifyJwt(token, { secret, issuer: 'https://idp', audience: 'presence' })).resolves.toMatchObject({ sub: 'a' });
    await expect(verifyJwt(token, { secret, issuer: 'https://other' })).rejects.toThrow(/issuer/);
    await expect(verifyJwt(token, { secret, audience: 'other' })).rejects.toThrow(/audience/);
  });

  it('verifies RS256 with a key from a JWKS', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1' };
    const head = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k1' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ sub: 'rs', exp: now + 60 })).toString('base64url');
    const sig = sign('RSA-SHA256', Buffer.from(`${head}.${body}`), privateKey).toString('base64url');
    const keys = async (kid: string | undefined) => (kid === 'k1' ? jwk : undefined);
    await expect(verifyJwt(`${head}.${body}.${sig}`, { keys })).resolves.toMatchObject({ sub: 'rs' });
    // an RS256 token must not verify against the HS256 secret path (algorithm confusion)
    await expect(verifyJwt(`${head}.${body}.${sig}`, { secret })).rejects.toThrow(/algorithm/);
  });
});
