/**
 * Tokens for the smoke suite's identities: three users (two who watch each
 * other, one stranger), a back end with `presence:sys` and an operator with
 * `presence:admin`, all with fresh names each run. Either signed here with
 * the stack's HS256 secret (the local stack), or printed by a token command
 * run as `<cmd> <user> [scope]` (a deployed stack, e.g.
 * `npm run -s token -- --stack`, bin/token.ts). The userId the service sees is
 * the token's `sub`, which an identity provider may choose (Cognito: a UUID).
 */
import { execFile } from 'node:child_process';
import { signUserToken } from '../functions/core/jwt.ts';
import { SCOPES } from '../lib/routes.ts';

export interface Identity {
  /** the name the token was asked for */
  name: string;
  /** the token's subject: the userId the service sees */
  userId: string;
  token: string;
}

export type Role = 'a' | 'b' | 'c' | 'sys' | 'admin';
export type Identities = Record<Role, Identity>;

/** where tokens come from: the local stack's secret, or a command */
export type TokenSource = { secret: string } | { command: string };

const scopeOf: Record<Role, string | undefined> = { a: undefined, b: undefined, c: undefined, sys: SCOPES.sys ?? undefined, admin: SCOPES.admin ?? undefined };

/** The claims of a token, unverified (to learn its subject). */
export function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split('.')[1];
  if (payload === undefined) throw new Error('not a JWT');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs `<command> <user> [scope]` through the shell and returns the last line it printed on stdout. */
export function tokenFromCommand(command: string, user: string, scope?: string): Promise<string> {
  const line = [command, shellQuote(user), ...(scope ? [shellQuote(scope)] : [])].join(' ');
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', line], { timeout: 120_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const token = stdout.trim().split('\n').pop()?.trim() ?? '';
      if (err) return reject(new Error(`${line} failed (${err.message.split('\n')[0]}): ${stderr.trim().slice(-500)}`));
      if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)) return reject(new Error(`${line} printed no token on its last line: ${JSON.stringify(stdout.slice(-200))}`));
      resolve(token);
    });
  });
}

/** Tokens for the five identities of run `runId`. */
export async function obtainTokens(runId: string, source: TokenSource): Promise<Identities> {
  const roles = Object.keys(scopeOf) as Role[];
  const entries = await Promise.all(
    roles.map(async (role): Promise<[Role, Identity]> => {
      const name = `${runId}-${role}`;
      const scope = scopeOf[role];
      const token = 'secret' in source ? signUserToken(name, source.secret, { ttlSeconds: 3600, scope }) : await tokenFromCommand(source.command, name, scope);
      const sub = claimsOf(token).sub;
      if (typeof sub !== 'string' || sub === '') throw new Error(`the token for ${name} has no subject`);
      return [role, { name, userId: sub, token }];
    }),
  );
  return Object.fromEntries(entries) as Identities;
}
