/**
 * The smoke suite (smoke/) as CI runs it: `npm run smoke:local` starts the
 * local stack exactly as `npm start -- --in-memory` does, runs every check
 * against it with real sockets, stops it and exits with the suite's status.
 * Also: a dead endpoint fails every check on its own (exit 1), tokens from a
 * token command (`<cmd> <user> [scope]`, as for a deployed stack) carry the
 * right subjects and scopes.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hs256Signature } from '../../functions/core/jwt.ts';
import { checks } from '../../smoke/scenarios.ts';
import { claimsOf, obtainTokens, tokenFromCommand } from '../../smoke/tokens.ts';
import { freePort } from '../support/ports.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** the environment CI gives a script: without what test/support/setup-env.ts sets for this test run */
function ciEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of ['PRESENCE_TABLE', 'GRAPH_TABLE', 'DYNAMODB_ENDPOINT', 'TABLE_SUFFIX', 'LOG_LEVEL', 'PRESENCE_JWT_SECRET', 'AWS_REGION']) delete env[key];
  return { ...env, ...extra };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.once('error', fail);
    child.once('exit', (code) => ok({ code, stdout, stderr }));
  });
}

const lines = (out: string) => out.trim().split('\n');

describe('npm run smoke:local', () => {
  it('starts npm start --in-memory, passes every check, stops the stack and exits 0', async () => {
    const { code, stdout, stderr } = await run('npm', ['run', '-s', 'smoke:local'], ciEnv());
    expect({ code, failed: lines(stdout).filter((l) => l.startsWith('FAIL')), stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, failed: [], stderr: '' });
    expect(lines(stdout).at(-1)).toBe(`${checks.length} passed, 0 failed`);
    expect(
      lines(stdout)
        .filter((l) => l.startsWith('PASS '))
        .map((l) => l.replace(/^PASS (.*) \(\d+ ms\)$/, '$1')),
    ).toEqual(checks.map((c) => c.name));
    expect(stdout).toMatch(/local stack stopped \(exit 0\)/);
  }, 180_000);
});

describe('npm run smoke', () => {
  it('fails each check on its own against an endpoint that is down, prints the count last and exits 1', async () => {
    const port = await freePort(); // nothing listens there
    const { code, stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'smoke/run.ts', '--http', `http://127.0.0.1:${port}`, '--ws', `ws://127.0.0.1:${port}`],
      ciEnv({ PRESENCE_JWT_SECRET: 'any-secret' }),
    );
    expect(code).toBe(1);
    expect(lines(stdout).filter((l) => l.startsWith('FAIL ')).length).toBe(checks.length);
    expect(lines(stdout).at(-1)).toBe(`0 passed, ${checks.length} failed`);
  }, 60_000);

  it('refuses to run without a token source or with a bad URL (exit 2, usage)', async () => {
    const noTokens = await run(process.execPath, ['--import', 'tsx', 'smoke/run.ts', '--http', 'http://127.0.0.1:1', '--ws', 'ws://127.0.0.1:1'], ciEnv());
    expect(noTokens.code).toBe(2);
    expect(noTokens.stderr).toContain('PRESENCE_JWT_SECRET');
    const badUrl = await run(
      process.execPath,
      ['--import', 'tsx', 'smoke/run.ts', '--http', 'ws://127.0.0.1:1', '--ws', 'ws://127.0.0.1:1'],
      ciEnv({ PRESENCE_JWT_SECRET: 'x' }),
    );
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('--http ws://127.0.0.1:1: expected a http: or https: URL');
  }, 60_000);
});

describe('tokens from a token command', () => {
  it('runs `<cmd> <user> [scope]` (here `npm run -s token --`) for fresh users, a sys and an admin identity', async () => {
    const secret = 'token-command-secret';
    const previous = process.env.PRESENCE_JWT_SECRET;
    process.env.PRESENCE_JWT_SECRET = secret; // read by bin/token.ts in the child processes
    try {
      const who = await obtainTokens('smoke-cmd', { command: 'npm run -s token --' });
      expect(Object.fromEntries(Object.entries(who).map(([role, id]) => [role, [id.name, id.userId, claimsOf(id.token).scope]]))).toEqual({
        a: ['smoke-cmd-a', 'smoke-cmd-a', undefined],
        b: ['smoke-cmd-b', 'smoke-cmd-b', undefined],
        c: ['smoke-cmd-c', 'smoke-cmd-c', undefined],
        sys: ['smoke-cmd-sys', 'smoke-cmd-sys', 'presence:sys'],
        admin: ['smoke-cmd-admin', 'smoke-cmd-admin', 'presence:admin'],
      });
      for (const { token } of Object.values(who)) {
        const [header, payload, signature] = token.split('.');
        expect(signature).toBe(hs256Signature(`${header}.${payload}`, secret));
      }
    } finally {
      if (previous === undefined) delete process.env.PRESENCE_JWT_SECRET;
      else process.env.PRESENCE_JWT_SECRET = previous;
    }
  }, 60_000);

  it('says which command failed, with its stderr, and refuses output that is not a token', async () => {
    await expect(tokenFromCommand('echo oops >&2; false', 'someone')).rejects.toThrow(/failed .*oops/);
    await expect(tokenFromCommand('echo', 'someone', 'presence:sys')).rejects.toThrow(/printed no token/);
  });
});
