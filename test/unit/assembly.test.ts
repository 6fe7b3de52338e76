/**
 * Running functions from a CDK assembly (local/assembly.ts): the bundle the
 * template's Code points at, under exactly the template's environment (its
 * placeholders resolved locally) and Lambda's runtime variables: a bundle that
 * reads a variable the template does not set, or imports what it does not
 * carry, fails to load here as it would on Lambda.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FUNCTION_TAG } from '../../lib/routes.ts';
import { type AssemblyConfig, assemblyFunctions, assemblyLoader, lambdaEnvironment } from '../../local/assembly.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A one-function assembly whose bundle is `code`, with the template environment `env`. */
function assembly(id: string, code: string, env: Record<string, unknown>): AssemblyConfig {
  const dir = mkdtempSync(join(tmpdir(), 'asm-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'asset.abc'));
  writeFileSync(join(dir, 'asset.abc', 'index.mjs'), code);
  writeFileSync(join(dir, 'Presence.assets.json'), JSON.stringify({ files: { abc: { source: { path: 'asset.abc' } } } }));
  const fn = {
    Type: 'AWS::Lambda::Function',
    Properties: {
      Handler: 'index.handler',
      MemorySize: 256,
      Timeout: 2,
      Code: { S3Key: 'abc.zip' },
      Environment: { Variables: env },
      Tags: [{ Key: FUNCTION_TAG, Value: id }],
    },
  };
  writeFileSync(join(dir, 'Presence.template.json'), JSON.stringify({ Resources: { Fn: fn } }));
  return {
    dir,
    tables: { Presence: 'P_local', Graph: 'G_local' },
    wsCallbackUrl: 'http://127.0.0.1:9',
    dynamodbEndpoint: 'http://127.0.0.1:8',
    jwtSecret: 's',
  };
}

const echoEnv = `const seen = { ...process.env }; export const handler = async () => seen;`;

describe('functions from the CDK assembly', () => {
  it('loads the bundle the template points at, with exactly the template environment (placeholders resolved) and the runtime variables', async () => {
    const cfg = assembly('Echo', echoEnv, { LOG_LEVEL: 'info', PRESENCE_TABLE: { Ref: 'PresenceTable' }, GRAPH_TABLE: { Ref: 'GraphTable' } });
    process.env.SOMETHING_OF_THE_TEST_PROCESS = 'x';
    const handler = await (await assemblyLoader(cfg))('Echo');
    const env = await handler({}, {});
    expect(env).toMatchObject({
      LOG_LEVEL: 'info',
      PRESENCE_TABLE: 'P_local',
      GRAPH_TABLE: 'G_local',
      AWS_LAMBDA_FUNCTION_NAME: 'Echo',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    });
    expect(env.SOMETHING_OF_THE_TEST_PROCESS).toBeUndefined(); // nothing of the host's environment leaks in
    expect(env.PRESENCE_JWT_SECRET).toBeUndefined();
    expect(process.env.SOMETHING_OF_THE_TEST_PROCESS).toBe('x'); // and the host's is back afterwards
  });

  it('fails to load a bundle that reads a variable the template does not set', async () => {
    const cfg = assembly('Needy', `if (!process.env.FANCY_SETTING) throw new Error('FANCY_SETTING is not set'); export const handler = async () => 1;`, {});
    process.env.FANCY_SETTING = 'set on this machine only';
    await expect((await assemblyLoader(cfg))('Needy')).rejects.toThrow(/FANCY_SETTING is not set/);
  });

  it('fails to load a bundle that imports what it does not carry, even a package this repository has installed', async () => {
    const cfg = assembly('Leaky', `import { x } from 'some-package-not-bundled'; export const handler = async () => x;`, {});
    await expect((await assemblyLoader(cfg))('Leaky')).rejects.toThrow(/some-package-not-bundled/);
    // `ws` is in this repository's node_modules, not in the Lambda runtime: it must not resolve (import, or the require banner)
    const installed = assembly('Installed', `import WebSocket from 'ws'; export const handler = async () => typeof WebSocket;`, {});
    await expect((await assemblyLoader(installed))('Installed')).rejects.toThrow(/'ws'/);
    const required = assembly(
      'Required',
      `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); const w = require('ws'); export const handler = async () => typeof w;`,
      {},
    );
    await expect((await assemblyLoader(required))('Required')).rejects.toThrow(/'ws'/);
    // what the runtime provides does resolve
    const sdk = assembly('Sdk', `import { DynamoDBClient } from '@aws-sdk/client-dynamodb'; export const handler = async () => typeof DynamoDBClient;`, {});
    expect(await (await (await assemblyLoader(sdk))('Sdk'))({}, {})).toBe('function');
  });

  it("replaces the identity provider's settings, whatever the template holds (an issuer URL, the stack's own Cognito pool)", () => {
    const cfg = assembly('WsAuthorizer', echoEnv, {
      JWT_ISSUER: { 'Fn::Join': ['', ['https://cognito-idp.', { Ref: 'AWS::Region' }]] },
      JWT_AUDIENCE: { Ref: 'Client' },
    });
    const env = lambdaEnvironment([...assemblyFunctions(cfg.dir).functions.values()][0] as never, cfg);
    expect(env).toMatchObject({ JWT_ISSUER: '', JWT_AUDIENCE: '', PRESENCE_JWT_SECRET: 's' });
  });

  it('refuses a template variable the local stack has no equivalent for, and enforces the timeout', async () => {
    const unknown = assembly('Odd', echoEnv, { SECRET_ARN: { Ref: 'SomeSecret' } });
    expect(() => lambdaEnvironment([...assemblyFunctions(unknown.dir).functions.values()][0] as never, unknown)).toThrow(/SECRET_ARN .* no equivalent/);
    const slow = assembly('Slow', `export const handler = () => new Promise((r) => setTimeout(r, 5000));`, {});
    await expect((await (await assemblyLoader(slow))('Slow'))({}, {})).rejects.toThrow('Task timed out after 2.00 seconds');
  });
});
