/** Token verification with this deployment's settings (local secret or JWKS). */
import type { JsonWebKey } from 'node:crypto';
import { type Claims, TokenError, verifyJwt } from '../core/jwt.ts';
import { USER_ID_PATTERN } from '../core/schemas.ts';
import { config } from './config.ts';

let jwks: { at: number; keys: (JsonWebKey & { kid?: string })[] } | undefined;
const JWKS_TTL_MS = 10 * 60 * 1000;
/** an unknown key id refetches the set (key rotation), but at most this often */
const JWKS_REFETCH_MS = 30 * 1000;

async function keyFor(kid: string | undefined): Promise<JsonWebKey | undefined> {
  const url = config.jwt.jwksUrl;
  if (!url) return undefined;
  const find = () => jwks?.keys.find((k) => kid === undefined || k.kid === kid);
  const age = jwks ? Date.now() - jwks.at : Number.POSITIVE_INFINITY;
  if (age > JWKS_TTL_MS || (!find() && age > JWKS_REFETCH_MS)) {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`JWKS fetch failed: ${res.status}`);
    const body = (await res.json()) as { keys?: (JsonWebKey & { kid?: string })[] };
    jwks = { at: Date.now(), keys: body.keys ?? [] };
  }
  return find();
}

const USER_ID = new RegExp(USER_ID_PATTERN);

/** Verifies a token; its subject must be a valid userId (it becomes part of DynamoDB keys). */
export async function verifyToken(token: string): Promise<Claims> {
  const claims = await verifyJwt(token, {
    secret: config.jwt.secret,
    keys: config.jwt.jwksUrl ? keyFor : undefined,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });
  if (!USER_ID.test(claims.sub)) throw new TokenError('subject is not a valid userId');
  return claims;
}
