/**
 * Notify latency under load: 200 users with live WebSocket connections, each
 * subscribed to 20 others; changes sent at a fixed rate (setPresence over the
 * WebSocket), latency from the send to each subscriber's push. Measured at
 * 20 changes/s (compared with the stream floor), at 50 changes/s (the
 * sustained load), and in a ramp upwards to where the stack saturates. The
 * CPU of the stack's Node process, DynamoDB Local's JVM and this process is
 * read from /proc over each phase: CPU per delivered push, and at the ramp
 * which process (and thread) runs out first.
 */
import { availableParallelism } from 'node:os';
import { mapLimit, pct, quick, round, sleep } from '../common.ts';
import { busiestThreads, type CpuSnapshot, cpuBetween, cpuSnapshot, type Pids, threadCpu } from '../proc.ts';
import { type Conn, connectWs, http, metrics, pushes, quiesce, request, requestsByOperation, rss, type Stack } from '../stack.ts';

export const LOAD_USERS = 200;
export const SUBSCRIPTIONS = 20;

async function latencyRun(users: Conn[], ratePerSecond: number, seconds: number, tag: string) {
  const sent = new Map<string, number>();
  const lat: number[] = [];
  for (const c of users) {
    c.onPush = (d) => {
      const t = sent.get(d.customStatus);
      if (t !== undefined) lat.push(performance.now() - t);
    };
  }
  const total = Math.round(ratePerSecond * seconds);
  const started = performance.now();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const c = users[(i * 7919) % users.length] as Conn;
    const label = `${tag}-${i}`;
    sent.set(label, performance.now());
    inflight.push(request(c, 'setPresence', { customStatus: label }));
  }
  await Promise.all(inflight);
  // the rate the stack took the changes at: sent and answered
  const answeredMs = performance.now() - started;
  // every change reaches SUBSCRIPTIONS watchers: wait for them all (late pushes count), or until none came for 1.5 s
  let seen = -1;
  let quietSince = performance.now();
  while (lat.length < total * SUBSCRIPTIONS && performance.now() - quietSince < 1500) {
    if (lat.length !== seen) {
      seen = lat.length;
      quietSince = performance.now();
    }
    await sleep(50);
  }
  const achieved = total / (answeredMs / 1000);
  const p = (q: number) => round(pct(lat, q));
  return { changes: total, deliveries: lat.length, achievedRate: round(achieved), p50: p(50), p95: p(95), p99: p(99) };
}

/** A phase measured with the CPU of each process over it and the presence pushes delivered in it. */
async function measured<T>(pids: Pids, run: () => Promise<T>) {
  const before: CpuSnapshot = cpuSnapshot(pids);
  const threadsBefore = threadCpu(pids.stack);
  const pushed = pushes.received;
  const result = await run();
  const cpu = cpuBetween(before, cpuSnapshot(pids));
  const delivered = pushes.received - pushed;
  return {
    result,
    cpu: {
      pushesDelivered: delivered,
      stackCpuPerPushUs: round(cpu.us.stack / Math.max(1, delivered)),
      jvmCpuPerPushUs: round(cpu.us.jvm / Math.max(1, delivered)),
      cpuPct: cpu.pct,
      busiestStackThreads: busiestThreads(pids.stack, threadsBefore, threadCpu(pids.stack), cpu.wallMs),
    },
  };
}

export async function connectLoadUsers(stack: Stack): Promise<Conn[]> {
  const names = Array.from({ length: LOAD_USERS }, (_, i) => `lu-${i}`);
  await mapLimit(names, 20, async (u, i) => {
    const targets = Array.from({ length: SUBSCRIPTIONS }, (_, k) => names[(i + 1 + k * 9) % LOAD_USERS] as string);
    await http(stack, 'POST', '/v1/me/subscriptions', u, { userIds: targets });
  });
  const users = await Promise.all(names.map((u) => connectWs(stack, u)));
  await quiesce(stack); // the 200 connects fan out too: start measuring once they are delivered
  return users;
}

/** RSS sampled through every phase; the budget applies to the load (50/s), the ramp beyond capacity is reported apart. */
export function rssSampler(stack: Stack) {
  let phase = 'warm';
  const samples: { phase: string; nodeMB: number; jvmMB: number }[] = [];
  const timer = setInterval(() => samples.push({ phase, ...rss(stack) }), 500);
  const peakOf = (rows: typeof samples) => ({ nodeMB: Math.max(...rows.map((s) => s.nodeMB)), jvmMB: Math.max(...rows.map((s) => s.jvmMB)) });
  return {
    set: (p: string) => {
      phase = p;
    },
    stop() {
      clearInterval(timer);
      return { ...peakOf(samples.filter((s) => s.phase !== 'ramp')), rampPeak: peakOf(samples) };
    },
  };
}

/** Warm-up, then 20 changes/s (against the stream floor) and 50 changes/s (the sustained load, and the per-change request mix). */
export async function steadyLoad(stack: Stack, pids: Pids, users: Conn[]) {
  // DynamoDB Local's JVM and V8 warm up first (JIT); the first seconds of load are not representative
  await latencyRun(users, 20, quick ? 3 : 6, 'warm');
  await quiesce(stack);
  await metrics(stack, true);
  const at20 = await measured(pids, () => latencyRun(users, 20, quick ? 8 : 30, 'n20'));
  // every function's DynamoDB requests over the 20/s phase (its pushes all delivered), per change: the mix the
  // DynamoDB Local ceiling is driven with
  const byOp = requestsByOperation(await metrics(stack));
  const mix = Object.fromEntries(Object.entries(byOp).map(([op, n]) => [op, round(n / at20.result.changes, 3)]));
  const requestsPerChange = round(Object.values(byOp).reduce((a, b) => a + b, 0) / at20.result.changes, 2);
  await quiesce(stack);
  const at50 = await measured(pids, () => latencyRun(users, 50, quick ? 8 : 30, 'main'));
  await quiesce(stack);
  return { at20, at50, mix, requestsPerChange };
}

/** The highest sustained rate whose p99 stays under 1 s, searched upwards; CPU of each process at each step. */
export async function ramp(pids: Pids, users: Conn[]) {
  const steps = quick ? [20, 50, 100] : [10, 20, 35, 50, 60, 75, 100, 150, 200, 300];
  let maxRate = 0;
  const rows: Record<string, any>[] = [];
  for (const rate of steps) {
    const { result: r, cpu } = await measured(pids, () => latencyRun(users, rate, quick ? 4 : 8, `r${rate}`));
    rows.push({ rate, ...r, cpuPct: cpu.cpuPct, busiestStackThreads: cpu.busiestStackThreads, stackCpuPerPushUs: cpu.stackCpuPerPushUs });
    process.stderr.write(
      `  ${rate}/s: achieved ${r.achievedRate}/s, p99 ${r.p99} ms; CPU % of a core: stack ${cpu.cpuPct.stack}, JVM ${cpu.cpuPct.jvm}, bench ${cpu.cpuPct.bench}, rest of the machine ${cpu.cpuPct.others}\n`,
    );
    if (r.p99 < 1000 && r.achievedRate >= rate * 0.9) maxRate = rate;
    else break;
    await sleep(2000); // let the backlog drain before the next step
  }
  return { maxUpdatesPerSecond: maxRate, ramp: rows, saturation: saturation(rows, maxRate) };
}

/**
 * Where the stack saturates and what runs out: the CPU of each process at the
 * first step past capacity (or the last step, when none was), against the
 * cores this run may use; a thread near 100 % of a core is a bottleneck even
 * with cores to spare.
 */
function saturation(rows: Record<string, any>[], maxRate: number) {
  const past = rows.find((r) => r.rate > maxRate) ?? rows[rows.length - 1];
  if (!past) return undefined;
  const cores = availableParallelism();
  const use = past.cpuPct as { stack: number; jvm: number; bench: number; others: number };
  const total = round(use.stack + use.jvm + use.bench + use.others);
  const top = (past.busiestStackThreads as { tid: number; name: string; pct: number }[])[0];
  const bottleneck =
    top && top.pct >= 90
      ? `stack Node process: its ${top.name === 'main' ? 'main thread (gateway and API handlers)' : `thread ${top.tid}`} at ${top.pct} % of a core`
      : total >= cores * 100 * 0.9
        ? `the ${cores} core(s): ${total} % in use${use.others >= 20 ? ` (${use.others} % by other processes of the machine)` : ''}; largest share ${use.stack >= use.jvm ? `the stack's Node process (${use.stack} %)` : `DynamoDB Local's JVM (${use.jvm} %)`}`
        : use.stack >= use.jvm
          ? `stack Node process (${use.stack} % vs JVM ${use.jvm} %), no core saturated`
          : `DynamoDB Local JVM (${use.jvm} % vs stack ${use.stack} %), no core saturated`;
  return {
    maxUpdatesPerSecond: maxRate,
    atRate: past.rate,
    cores,
    cpuPct: use,
    totalCpuPct: total,
    busiestStackThreads: past.busiestStackThreads,
    bottleneck,
  };
}
