/**
 * CPU time of other processes, read from /proc/<pid>/stat (utime + stime of
 * every thread of the process; process.cpuUsage() only sees this one), and
 * the machine the figures were measured on.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';

let ticks: number | undefined;
/** clock ticks per second of /proc's utime and stime (CLK_TCK, 100 on Linux almost everywhere) */
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

interface Stat {
  pid: number;
  comm: string;
  ppid: number;
  /** user + system CPU time of all the process's threads, µs */
  cpuUs: number;
}

function stat(pid: number, file = `/proc/${pid}/stat`): Stat | undefined {
  try {
    const text = readFileSync(file, 'utf8');
    // the command name is in parentheses and may hold spaces: the fields after it are split on spaces
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const f = text.slice(close + 2).split(' ');
    // after the name: state(3) ppid(4) … utime(14) stime(15), numbered from 1 with pid and comm as 1 and 2
    const utime = Number(f[11]);
    const stime = Number(f[12]);
    return { pid, comm, ppid: Number(f[1]), cpuUs: ((utime + stime) * 1e6) / clockTicks() };
  } catch {
    return undefined; // gone
  }
}

/** CPU time (µs) a process has used so far, all threads; NaN when it is gone. */
export function cpuUs(pid: number | undefined): number {
  return pid === undefined ? Number.NaN : (stat(pid)?.cpuUs ?? Number.NaN);
}

/** Every process below `root` (children, grandchildren, …). */
export function descendants(root: number): Stat[] {
  const all: Stat[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = stat(Number(d));
    if (s) all.push(s);
  }
  const tree = new Set([root]);
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of all)
      if (tree.has(p.ppid) && !tree.has(p.pid)) {
        tree.add(p.pid);
        changed = true;
      }
  }
  return all.filter((p) => p.pid !== root && tree.has(p.pid));
}

/** The processes whose CPU the benchmark reports: the stack's Node process, DynamoDB Local's JVM and the benchmark itself. */
export interface Pids {
  stack: number;
  jvm: number | undefined;
  bench: number;
}

export function stackPids(stackPid: number): Pids {
  // DynamoDB Local runs as java under a bash wrapper (local/dynamodb.ts): the JVM is the `java` process
  const jvm = descendants(stackPid).find((p) => p.comm === 'java')?.pid;
  return { stack: stackPid, jvm, bench: process.pid };
}

export interface CpuSnapshot {
  at: number;
  stack: number;
  jvm: number;
  bench: number;
  /** CPU time every process of the machine has used on the CPUs this run may use (/proc/stat), µs */
  machine: number;
}

/** The CPU numbers of a list such as `0-3,6`. */
function cpuList(list: string | undefined): Set<number> | undefined {
  if (!list) return undefined;
  const out = new Set<number>();
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a as number; c <= (b ?? (a as number)); c++) out.add(c);
  }
  return out;
}

/**
 * Busy CPU time so far (µs) of the CPUs this run may use (all of them, or those `taskset` left it):
 * every such CPU's time but idle and iowait, from /proc/stat.
 */
function machineBusyUs(): number {
  try {
    const allowed = cpuList(cpusAllowed());
    let busy = 0;
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!m || (allowed && !allowed.has(Number(m[1])))) continue;
      const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = (m[2] as string).trim().split(/\s+/).map(Number);
      busy += user + nice + system + irq + softirq;
    }
    return (busy * 1e6) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

export function cpuSnapshot(p: Pids): CpuSnapshot {
  return { at: performance.now(), stack: cpuUs(p.stack), jvm: cpuUs(p.jvm), bench: cpuUs(p.bench), machine: machineBusyUs() };
}

/**
 * CPU used between two snapshots: µs per process and % of one core over the
 * wall time; `others` is what the rest of the machine used meanwhile on the
 * CPUs this run may use (other people's work on a shared machine: figures
 * taken while it is high are not this code's alone).
 */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot) {
  const wallUs = (b.at - a.at) * 1000;
  const us = { stack: b.stack - a.stack, jvm: b.jvm - a.jvm, bench: b.bench - a.bench };
  const known = (x: number) => (Number.isFinite(x) ? x : 0);
  const others = Math.max(0, b.machine - a.machine - known(us.stack) - known(us.jvm) - known(us.bench));
  const pctOf = (x: number) => Math.round((1000 * x) / wallUs) / 10;
  return { wallMs: wallUs / 1000, us, pct: { stack: pctOf(us.stack), jvm: pctOf(us.jvm), bench: pctOf(us.bench), others: pctOf(others) } };
}

/** The CPUs this process may run on (`taskset` narrows them), from /proc/self/status. */
function cpusAllowed(): string | undefined {
  try {
    return /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]?.trim();
  } catch {
    return undefined;
  }
}

export function machine() {
  let model = cpus()[0]?.model?.trim() ?? 'unknown';
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? model;
  } catch {
    // not Linux: os.cpus() said it
  }
  return {
    cpuModel: model,
    cores: cpus().length,
    availableCores: availableParallelism(),
    cpusAllowed: cpusAllowed(),
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** CPU time (µs) of each thread of a process: tid → name and CPU so far. */
export function threadCpu(pid: number): Map<number, { comm: string; cpuUs: number }> {
  const out = new Map<number, { comm: string; cpuUs: number }>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const s = stat(Number(tid), `/proc/${pid}/task/${tid}/stat`);
      if (s) out.set(Number(tid), { comm: s.comm, cpuUs: s.cpuUs });
    }
  } catch {
    // gone
  }
  return out;
}

/** The busiest threads between two thread snapshots, as % of one core. */
export function busiestThreads(
  pid: number,
  a: Map<number, { comm: string; cpuUs: number }>,
  b: Map<number, { comm: string; cpuUs: number }>,
  wallMs: number,
  n = 3,
) {
  return [...b.entries()]
    .map(([tid, t]) => ({ tid, name: tid === pid ? 'main' : t.comm, pct: Math.round((1000 * (t.cpuUs - (a.get(tid)?.cpuUs ?? 0))) / (wallMs * 1000)) / 10 }))
    .sort((x, y) => y.pct - x.pct)
    .slice(0, n);
}
