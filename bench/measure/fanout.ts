/**
 * One user, 3000 subscribers with live connections: the time from the PATCH
 * to the last push, and the stack's CPU per delivered push over it (compared
 * with the push floor measured through the same 3000 connections).
 */
import { mapLimit, round, sleep } from '../common.ts';
import { cpuBetween, cpuSnapshot, type Pids } from '../proc.ts';
import { type Conn, close, connectWs, http, pushes, quiesce, rss, type Stack } from '../stack.ts';
import { pushFloor } from './push-floor.ts';

export const FANOUT_N = 3000;

export async function fanout3000(stack: Stack, pids: Pids, floorRounds: number) {
  const N = FANOUT_N;
  const subs = Array.from({ length: N }, (_, i) => `f3-${i}`);
  await mapLimit(subs, 25, async (u) => {
    await http(stack, 'POST', '/v1/me/subscriptions', u, { userIds: ['f3-star'] });
  });
  const conns: Conn[] = [];
  await mapLimit(subs, 50, async (u) => {
    conns.push(await connectWs(stack, u));
  });
  await http(stack, 'POST', '/v1/me/heartbeat', 'f3-star', {});
  // the 3000 connects are changes too: measure once their fan-outs are done, not behind them in the stream
  await quiesce(stack);
  let got = 0;
  let last = 0;
  for (const c of conns)
    c.onPush = (d) => {
      if (d.userId === 'f3-star' && d.customStatus === 'now') {
        got++;
        last = performance.now();
      }
    };
  const before = cpuSnapshot(pids);
  const t0 = performance.now();
  await http(stack, 'PATCH', '/v1/me/presence', 'f3-star', { customStatus: 'now' });
  for (const end = performance.now() + 20_000; got < N && performance.now() < end; ) await sleep(20);
  const cpu = cpuBetween(before, cpuSnapshot(pids));
  const delivered = got; // (the floor below posts the same payload to these connections: it must not count)
  for (const c of conns) c.onPush = undefined;
  const ms = round(last - t0);
  process.stderr.write(`  ${delivered}/${N} delivered, last after ${ms} ms, stack CPU ${round(cpu.us.stack / 1000)} ms\n`);
  const peak = rss(stack);
  const payload = pushes.lastRaw; // one of the pushes just delivered, byte for byte
  await quiesce(stack);
  // the floor through the same 3000 connections: the same payload, posted bare
  const floor = await pushFloor(stack, pids, subs, payload, floorRounds);
  await mapLimit(conns, 100, async (c) => close(c));
  return {
    fanout3000Ms: ms,
    delivered,
    rssAt3000: peak,
    fanout3000CpuPerPushUs: round(cpu.us.stack / Math.max(1, delivered)),
    fanout3000Cpu: {
      stackMs: round(cpu.us.stack / 1000),
      jvmMs: round(cpu.us.jvm / 1000),
      jvmCpuPerPushUs: round(cpu.us.jvm / Math.max(1, delivered)),
      othersCpuPct: cpu.pct.others,
    },
    floor,
  };
}
