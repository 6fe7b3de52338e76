/**
 * `npm run token -- <userId> [--scope "presence:sys"] [--ttl 3600]`
 * prints a local HS256 token signed with PRESENCE_JWT_SECRET (dev default
 * `local-dev-secret`). Only for the local stack: on AWS your identity
 * provider issues tokens. (aws-jwt-verify has no HS256: these are verified by
 * the thin local path of functions/commons/auth.ts.)
 */
import { signUserToken } from '../functions/core/jwt.ts';
import { USER_ID_PATTERN } from '../functions/core/schemas.ts';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const scope = opt('--scope');
const ttl = Number(opt('--ttl') ?? 86_400);
const userId = args[0];
if (!userId || !new RegExp(USER_ID_PATTERN).test(userId) || !Number.isInteger(ttl) || ttl <= 0) {
  console.error('usage: npm run token -- <userId> [--scope "presence:sys presence:admin"] [--ttl seconds]');
  process.exit(2);
}
console.log(signUserToken(userId, process.env.PRESENCE_JWT_SECRET || 'local-dev-secret', { ttlSeconds: ttl, scope }));
