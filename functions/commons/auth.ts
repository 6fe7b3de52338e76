/**
 * Token verification with this deployment's settings: the one entry of the
 * WebSocket `$connect` authorizer and of the local gateway (which plays the
 * HTTP API's JWT authorizer). It accepts what API Gateway's JWT authorizer
 * accepts (functions/core/jwt.ts has the claim rules).
 *
 * - Identity provider tokens (RS*, ES*, from `JWT_JWKS_URL`): aws-jwt-verify's
 *   JwtVerifier. Its SimpleJwksCache keeps every key it has fetched, so a
 *   token whose key is cached never waits on, nor fails with, the JWKS
 *   endpoint; an unknown `kid` fetches the set again (key rotation), and after
 *   a fetch that still lacks the kid, unknown kids are refused without a fetch
 *   for 10 s (its SimplePenaltyBox). Each fetch has a deadline (`JWT_JWKS_TIMEOUT_MS`).
 * - Local tokens (HS256 with `PRESENCE_JWT_SECRET`): aws-jwt-verify verifies
 *   asymmetric signatures only, so these go to jose's jwtVerify (signature,
 *   `exp`/`nbf`/`iss`). Without a secret (AWS) an HS256 token is refused.
 */
import { JwtVerifier } from 'aws-jwt-verify';
import type { Fetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { decomposeUnverifiedJwt } from 'aws-jwt-verify/jwt';
import { errors as joseErrors, jwtVerify } from 'jose';
import { type Claims, checkClaims, scopesOf, TokenError } from '../core/jwt.ts';
import { USER_ID_PATTERN } from '../core/schemas.ts';
import { config } from './config.ts';

export interface TokenSettings {
  /** HS256 shared secret (local stack only) */
  secret?: string;
  /** expected `iss`; unset: not checked (local stack) */
  issuer?: string;
  /** accepted audiences, as on the HTTP API's JWT authorizer; empty: not checked (local stack) */
  audiences: readonly string[];
  jwksUrl?: string;
  /** deadline of one JWKS download */
  jwksTimeoutMs: number;
}

/** The token's claims (as signed), with its subject and its scopes (from `scope` or `scp`). */
export type VerifiedToken = Claims & { scopes: string[] };

/** clock skew allowed on exp, nbf and iat */
const GRACE_SECONDS = 5;
const USER_ID = new RegExp(USER_ID_PATTERN);

/** JWKS download with a deadline. (The library's SimpleFetcher speaks https only and retries once; this one also serves the tests' local http JWKS.) */
const fetcherWithTimeout = (timeoutMs: number): Fetcher => ({
  fetch: async (uri) => {
    const res = await fetch(uri, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 200) throw new TokenError(`JWKS fetch answered ${res.status}`);
    return res.arrayBuffer();
  },
});

/** Builds the verifier for `settings`; `verifyToken` below is the one with this deployment's settings. */
export function createTokenVerifier(settings: TokenSettings): (token: string) => Promise<VerifiedToken> {
  const jwks = settings.jwksUrl
    ? JwtVerifier.create(
        {
          jwksUri: settings.jwksUrl,
          issuer: settings.issuer ?? null,
          // the audience rule is API Gateway's (aud, or client_id without aud): checkClaims below
          audience: null,
          graceSeconds: GRACE_SECONDS,
        },
        { jwksCache: new SimpleJwksCache({ fetcher: fetcherWithTimeout(settings.jwksTimeoutMs) }) },
      )
    : undefined;

  const secretKey = settings.secret ? new TextEncoder().encode(settings.secret) : undefined;
  const verifyHs256 = async (token: string, key: Uint8Array): Promise<Record<string, unknown>> => {
    try {
      const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], issuer: settings.issuer, clockTolerance: GRACE_SECONDS });
      return payload;
    } catch (err) {
      // the same wording as aws-jwt-verify's for the same checks
      if (err instanceof joseErrors.JWTExpired) throw new TokenError('Token expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'nbf') throw new TokenError("Token can't be used before its nbf");
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'iss') throw new TokenError('Issuer not allowed');
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new TokenError('bad signature');
      throw err instanceof joseErrors.JOSEError ? new TokenError(err.message) : err;
    }
  };

  return async (token) => {
    const { alg } = decomposeUnverifiedJwt(token).header;
    let claims: Record<string, unknown>;
    if (alg === 'HS256' && secretKey) claims = await verifyHs256(token, secretKey);
    else if (jwks && alg !== 'HS256') claims = await jwks.verify(token);
    else throw new TokenError(`unsupported algorithm ${String(alg)}`);
    checkClaims(claims, { audiences: settings.audiences, graceSeconds: GRACE_SECONDS });
    // the subject becomes part of DynamoDB keys
    if (!USER_ID.test(claims.sub)) throw new TokenError('subject is not a valid userId');
    return { ...claims, scopes: scopesOf(claims) };
  };
}

/** Verifies a token with this deployment's settings (functions/commons/config.ts). */
export const verifyToken = createTokenVerifier(config.jwt);
