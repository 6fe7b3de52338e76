/**
 * The bare loops of the push floor, run in a process of their own so that
 * their CPU (process.cpuUsage) holds nothing else (the receiving WebSocket
 * clients live in the benchmark's process):
 *   post <config.json>  posts the payload to every connection through the AWS SDK's
 *                       PostToConnectionCommand, `concurrency` in flight (as the fan-out does);
 *                       with `pace`, paced as the steady load pushes: `changesPerSecond` bursts a
 *                       second of `recipients` posts each (the next connections in turn), each
 *                       burst started on time whether or not the one before has finished
 *   ws <config.json>    a bare `ws` server sending the payload to every client that connects
 * Protocol on stdio: a JSON line when set up, `ready` after a warm-up round,
 * then on `go` (stdin) the measured loop and a JSON line with its CPU.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { WebSocketServer } from 'ws';
import { lean } from '../../functions/commons/sdk.ts';

const [mode, file] = process.argv.slice(2);
const cfg = JSON.parse(readFileSync(file as string, 'utf8')) as {
  endpoint?: string;
  connectionIds?: string[];
  clients?: number;
  payload: string;
  rounds: number;
  concurrency?: number;
  pace?: { changesPerSecond: number; recipients: number; seconds: number };
};
const say = (x: unknown) => process.stdout.write(`${typeof x === 'string' ? x : JSON.stringify(x)}\n`);
const lines = createInterface({ input: process.stdin });
const go = () => new Promise<void>((ok) => lines.once('line', () => ok()));

async function mapLimit<T>(items: T[], limit: number, fn: (x: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

async function measure(loop: () => Promise<{ messages: number; failed?: number }>) {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const out = await loop();
  const used = process.cpuUsage(cpu);
  say({ ...out, cpuUs: used.user + used.system, wallMs: performance.now() - t0 });
}

if (mode === 'post') {
  // as functions/commons/clients.ts makes it: one attempt per send, the middleware stack resolved once, no logger middleware
  const client = lean(
    new ApiGatewayManagementApiClient({
      endpoint: cfg.endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
      cacheMiddleware: true,
    }),
  );
  const ids = cfg.connectionIds ?? [];
  const round = async (targets = ids) => {
    let ok = 0;
    let failed = 0;
    await mapLimit(targets, cfg.concurrency ?? 32, async (id) => {
      try {
        await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: cfg.payload }));
        ok++;
      } catch {
        failed++;
      }
    });
    return { ok, failed };
  };
  say({ connections: ids.length });
  // warm-up (JIT, keep-alive sockets): about 2000 posts, at least one round
  for (let r = 0; r < Math.max(1, Math.ceil(2000 / Math.max(1, ids.length))); r++) await round();
  say('ready');
  await go();
  const pace = cfg.pace;
  await measure(async () => {
    let messages = 0;
    let failed = 0;
    if (pace) {
      const bursts: Promise<void>[] = [];
      const t0 = performance.now();
      const n = Math.round(pace.changesPerSecond * pace.seconds);
      for (let b = 0; b < n; b++) {
        const wait = t0 + (b * 1000) / pace.changesPerSecond - performance.now();
        if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
        const targets = Array.from({ length: pace.recipients }, (_, k) => ids[(b * pace.recipients + k) % ids.length] as string);
        bursts.push(
          round(targets).then((x) => {
            messages += x.ok;
            failed += x.failed;
          }),
        );
      }
      await Promise.all(bursts);
      return { messages, failed };
    }
    for (let r = 0; r < cfg.rounds; r++) {
      const x = await round();
      messages += x.ok;
      failed += x.failed;
    }
    return { messages, failed };
  });
  client.destroy();
} else if (mode === 'ws') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((ok) => wss.once('listening', ok));
  const address = wss.address();
  say({ port: typeof address === 'object' && address ? address.port : 0 });
  while (wss.clients.size < (cfg.clients ?? 1)) await new Promise((ok) => wss.once('connection', ok));
  const round = () =>
    Promise.all([...wss.clients].map((s) => new Promise<void>((ok) => s.send(cfg.payload, { binary: false }, () => ok())))).then((x) => x.length);
  for (let r = 0; r < Math.max(1, Math.ceil(2000 / wss.clients.size)); r++) await round(); // warm-up
  say('ready');
  await go();
  await measure(async () => {
    let messages = 0;
    for (let r = 0; r < cfg.rounds; r++) messages += await round();
    return { messages };
  });
  wss.close();
} else {
  throw new Error(`unknown mode ${mode}`);
}
lines.close();
process.exit(0);
