/**
 * The local stack listens on loopback only (issue 10, point 12): DynamoDB Local (through
 * local/DynamoDbLoopback.java) and the gateway's HTTP and WebSocket ports, read from the kernel's own
 * socket tables (/proc/net/tcp, /proc/net/tcp6); PRESENCE_LOCAL_HOST=0.0.0.0 opens them to every
 * interface, and even then the page's token endpoint answers only clients on this machine.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoDbLocal } from '../../local/dynamodb.ts';
import { startTestStack } from '../support/e2e.ts';
import { startNpm } from '../support/npm-start.ts';
import { freePort } from '../support/ports.ts';

/** the local addresses of the sockets listening on TCP `port`, as the kernel lists them */
function listeningOn(port: number): string[] {
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      const [hex, portHex] = (local ?? '').split(':');
      if (state !== '0A' || !hex || Number.parseInt(portHex ?? '', 16) !== port) continue; // 0A: LISTEN
      found.push(addressOf(hex));
    }
  }
  return found;
}

/** /proc/net/tcp* write addresses as 32-bit words in host (little-endian) byte order */
function addressOf(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
  if (bytes.length === 4) return [...bytes].join('.');
  const v4mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (v4mapped) return `::ffff:${[...bytes.subarray(12)].join('.')}`;
  if (bytes.every((b) => b === 0)) return '::';
  if (bytes.subarray(0, 15).every((b) => b === 0) && bytes[15] === 1) return '::1';
  return bytes.toString('hex');
}

const LOOPBACK = /^(127\.|::ffff:127\.|::1$)/;
const loopbackOnly = (addresses: string[]) => addresses.length > 0 && addresses.every((a) => LOOPBACK.test(a));

/** an IPv4 address of this machine that is not loopback, if it has one */
const lanAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

/** POST /__local/token to `address`, claiming to be a page on 127.0.0.1 (Host header) */
function askToken(address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: address, port, path: '/__local/token', method: 'POST', headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ userId: 'lb-user' }));
  });
}

const saved = process.env.PRESENCE_LOCAL_HOST;
afterEach(() => {
  if (saved === undefined) delete process.env.PRESENCE_LOCAL_HOST;
  else process.env.PRESENCE_LOCAL_HOST = saved;
});

/** starts a DynamoDB Local on a free port (with PRESENCE_LOCAL_HOST as the test set it), checks it, stops it */
async function onDynamoDbLocal(check: (db: DynamoDbLocal, port: number) => void): Promise<void> {
  const port = await freePort();
  const db = new DynamoDbLocal({ port, restart: false });
  try {
    await db.start();
    check(db, port);
  } finally {
    await db.stop();
  }
}

describe('DynamoDB Local', () => {
  it('listens on 127.0.0.1 only', async () => {
    delete process.env.PRESENCE_LOCAL_HOST;
    await onDynamoDbLocal((db, port) => {
      expect(db.boundToHost).toBe(true);
      const addresses = listeningOn(port);
      expect(addresses, `listening on ${addresses.join(', ')}`).toSatisfy(loopbackOnly);
    });
  }, 60_000);

  it('listens on every interface with PRESENCE_LOCAL_HOST=0.0.0.0', async () => {
    process.env.PRESENCE_LOCAL_HOST = '0.0.0.0';
    await onDynamoDbLocal((_db, port) => {
      expect(listeningOn(port)).toEqual(expect.arrayContaining([expect.stringMatching(/^(0\.0\.0\.0|::|::ffff:0\.0\.0\.0)$/)]));
    });
  }, 60_000);
});

describe("the local stack's gateway", () => {
  it('listens on 127.0.0.1 only, HTTP and WebSocket ports', async () => {
    delete process.env.PRESENCE_LOCAL_HOST;
    const stack = await startTestStack();
    try {
      for (const url of [stack.httpUrl, stack.wsUrl]) {
        const addresses = listeningOn(Number(new URL(url).port));
        expect(addresses, `${url} listening on ${addresses.join(', ')}`).toSatisfy(loopbackOnly);
        if (lanAddress) await expect(askToken(lanAddress, Number(new URL(url).port))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      }
    } finally {
      await stack.stop();
    }
  }, 60_000);

  it('listens on every interface with PRESENCE_LOCAL_HOST=0.0.0.0; tokens are still issued to this machine only', async () => {
    process.env.PRESENCE_LOCAL_HOST = '0.0.0.0';
    const stack = await startTestStack();
    try {
      expect(stack.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:/); // a wildcard is reached on loopback
      for (const url of [stack.httpUrl, stack.wsUrl]) expect(listeningOn(Number(new URL(url).port))).toEqual(['0.0.0.0']);
      const port = Number(new URL(stack.httpUrl).port);
      expect(await askToken('127.0.0.1', port)).toBe(200);
      if (lanAddress) expect(await askToken(lanAddress, port)).toBe(403);
    } finally {
      await stack.stop();
    }
  }, 60_000);

  it('fails closed with a JRE-only Java (no way to bind loopback): npm start refuses and says how to fix it', async () => {
    // a `java` whose module list has no jdk.compiler, as a JRE's; everything else is the real java
    const bin = mkdtempSync(join(tmpdir(), 'jre-only-'));
    const real = execFileSync('bash', ['-c', 'command -v java'], { encoding: 'utf8' }).trim();
    writeFileSync(
      join(bin, 'java'),
      `#!/bin/bash\nif [ "$1" = "--list-modules" ]; then ${real} --list-modules | grep -v '^jdk.compiler@'; else exec ${real} "$@"; fi\n`,
      { mode: 0o755 },
    );
    const dataDir = mkdtempSync(join(tmpdir(), 'jre-only-data-'));
    try {
      const started = startNpm({ dataDir, env: { PATH: `${bin}:${process.env.PATH}` } });
      await expect(started).rejects.toThrow(/Install a JDK/);
    } finally {
      rmSync(bin, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
