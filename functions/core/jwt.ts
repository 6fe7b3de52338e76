/**
 * JWT verification shared by the local gateway (acting as the HTTP API's JWT
 * authorizer) and the WebSocket `$connect` authorizer: HS256 with a shared
 * secret (local stack) or RS256/ES256 keys from a JWKS (AWS, configured issuer).
 */
import { createHmac, createPublicKey, type JsonWebKey, timingSafeEqual, verify as verifySig } from 'node:crypto';

export interface Claims {
  sub: string;
  scope?: string;
  iss?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  [k: string]: unknown;
}

export interface VerifyOptions {
  /** HS256 shared secret (local). */
  secret?: string;
  /** Public keys by kid (JWKS), for RS256/ES256. */
  keys?: (kid: string | undefined) => Promise<JsonWebKey | undefined>;
  issuer?: string;
  audience?: string;
  /** epoch seconds; defaults to the clock */
  now?: number;
  /** allowed clock skew in seconds */
  leeway?: number;
}

export class TokenError extends Error {
  override name = 'TokenError';
}

const b64url = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');
const parseJson = (part: string): Record<string, unknown> => {
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new TokenError('malformed token');
  }
};

export function signHs256(claims: Record<string, unknown>, secret: string): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** A user token as the local tools issue them (`npm run token`, the live page, tests, the benchmark). */
export function signUserToken(sub: string, secret: string, opts: { ttlSeconds: number; scope?: string }): string {
  const now = Math.floor(Date.now() / 1000);
  return signHs256({ sub, iat: now, exp: now + opts.ttlSeconds, ...(opts.scope ? { scope: opts.scope } : {}) }, secret);
}

/** Verifies signature, time and (when configured) issuer/audience; returns the claims. */
export async function verifyJwt(token: string, opts: VerifyOptions): Promise<Claims> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenError('malformed token');
  const [h, p, s] = parts as [string, string, string];
  const header = parseJson(h);
  const claims = parseJson(p) as Claims;
  const signed = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  const alg = header.alg;
  if (alg === 'HS256' && opts.secret) {
    const want = createHmac('sha256', opts.secret).update(signed).digest();
    if (sig.length !== want.length || !timingSafeEqual(sig, want)) throw new TokenError('bad signature');
  } else if ((alg === 'RS256' || alg === 'ES256') && opts.keys) {
    const jwk = await opts.keys(typeof header.kid === 'string' ? header.kid : undefined);
    if (!jwk) throw new TokenError('unknown key');
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    const ok = alg === 'RS256' ? verifySig('RSA-SHA256', signed, key, sig) : verifySig('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, sig);
    if (!ok) throw new TokenError('bad signature');
  } else {
    throw new TokenError('unsupported algorithm');
  }
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const leeway = opts.leeway ?? 5;
  if (typeof claims.exp !== 'number' || claims.exp + leeway <= now) throw new TokenError('token expired');
  if (typeof claims.nbf === 'number' && claims.nbf - leeway > now) throw new TokenError('token not yet valid');
  if (typeof claims.sub !== 'string' || claims.sub.length === 0) throw new TokenError('token has no subject');
  if (opts.issuer && claims.iss !== opts.issuer) throw new TokenError('wrong issuer');
  if (opts.audience) {
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(opts.audience)) throw new TokenError('wrong audience');
  }
  return claims;
}

export const scopesOf = (claims: { scope?: unknown; scp?: unknown }): string[] => {
  if (typeof claims.scope === 'string') return claims.scope.split(' ').filter(Boolean);
  if (Array.isArray(claims.scp)) return claims.scp.filter((s): s is string => typeof s === 'string');
  return [];
};
