/**
 * The JWT rules of this service, without I/O: the claim checks API Gateway's
 * HTTP API JWT authorizer makes beyond signature, `exp`/`nbf` and `iss`
 * (those are aws-jwt-verify's, see functions/commons/auth.ts), the scopes of
 * a token, and the local HS256 tokens (signing here; their thin verification
 * path in functions/commons/auth.ts, since aws-jwt-verify verifies only
 * asymmetric signatures).
 *
 * API Gateway's rules: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html
 */
import { createHmac } from 'node:crypto';

export interface Claims {
  sub: string;
  scope?: string;
  scp?: unknown;
  iss?: string;
  aud?: string | string[];
  client_id?: string;
  exp?: number;
  nbf?: number;
  iat?: number;
  [k: string]: unknown;
}

export class TokenError extends Error {
  override name = 'TokenError';
}

/** HMAC-SHA256 of a JWT's signing input (`<header>.<payload>`), base64url: the local tokens' signature. */
export const hs256Signature = (signingInput: string, secret: string): string => createHmac('sha256', secret).update(signingInput).digest('base64url');

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Local tokens only (`npm run token`, the live page, tests, the benchmark); on AWS the identity provider signs. */
export function signHs256(claims: Record<string, unknown>, secret: string): string {
  const signingInput = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${signingInput}.${hs256Signature(signingInput, secret)}`;
}

/** A user token as the local tools issue them (`npm run token`, the live page, tests, the benchmark). */
export function signUserToken(sub: string, secret: string, opts: { ttlSeconds: number; scope?: string }): string {
  const now = Math.floor(Date.now() / 1000);
  return signHs256({ sub, iat: now, exp: now + opts.ttlSeconds, ...(opts.scope ? { scope: opts.scope } : {}) }, secret);
}

/**
 * API Gateway's audience rule: `aud` (a string or a list) must name one of
 * `audiences`; only a token without `aud` is matched on `client_id` instead
 * (Cognito access tokens carry `client_id` and no `aud`). With both, `aud` decides.
 */
export function audienceAccepted(claims: Record<string, unknown>, audiences: readonly string[]): boolean {
  if (claims.aud !== undefined) return (Array.isArray(claims.aud) ? claims.aud : [claims.aud]).some((a) => typeof a === 'string' && audiences.includes(a));
  return typeof claims.client_id === 'string' && audiences.includes(claims.client_id);
}

export interface ClaimRules {
  /** accepted audiences (`aud`, or `client_id` without `aud`); empty: not checked (local stack) */
  audiences: readonly string[];
  /** clock skew allowed on `iat` (the verifiers allow the same on `exp`/`nbf`) */
  graceSeconds: number;
}

/** The checks beyond signature, `exp`/`nbf` and `iss`: an expiry, `iat` not in the future, a subject, the audience. */
export function checkClaims(claims: Record<string, unknown>, rules: ClaimRules, now = Date.now() / 1000): asserts claims is Claims {
  if (typeof claims.exp !== 'number') throw new TokenError('token has no expiry');
  if (typeof claims.iat === 'number' && claims.iat - rules.graceSeconds > now) throw new TokenError('token issued in the future');
  if (typeof claims.sub !== 'string' || claims.sub.length === 0) throw new TokenError('token has no subject');
  if (rules.audiences.length > 0 && !audienceAccepted(claims, rules.audiences)) throw new TokenError('wrong audience');
}

const words = (s: string) => s.split(' ').filter(Boolean);

/**
 * A token's scopes: `scope` (OAuth 2.0, space-separated) or `scp` (a list, or
 * a string: in `requestContext.authorizer.jwt.claims` API Gateway renders a
 * list claim as `"[a b]"`).
 */
export function scopesOf(claims: { scope?: unknown; scp?: unknown }): string[] {
  if (typeof claims.scope === 'string') return words(claims.scope);
  if (Array.isArray(claims.scp)) return claims.scp.filter((s): s is string => typeof s === 'string');
  if (typeof claims.scp === 'string') return words(claims.scp.replace(/^\[(.*)\]$/, '$1'));
  return [];
}
