/**
 * `npm run cost`: writes docs/cost.md from the request counts and capacity
 * units measured by the benchmark (bench/results/latest.json) and the AWS
 * list prices below. Every formula is printed next to its result.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

/** us-east-1 on-demand list prices (USD), as published in 2026-11; edit here when they change. */
const PRICE = {
  lambdaGbSecondArm: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  wsMessage: 1.0 / 1e6, // per message, 32 KB increments (first billion)
  wsConnectionMinute: 0.25 / 1e6,
  httpRequest: 1.0 / 1e6, // HTTP API, first 300 million
  ddbWriteUnit: 0.625 / 1e6, // on-demand write request unit
  ddbReadUnit: 0.125 / 1e6, // on-demand read request unit
};

/** Assumptions that the local benchmark cannot measure (Lambda time on AWS). */
const ASSUME = {
  memoryGb: 0.25, // every function is 256 MB
  handlerMs: 15, // a route handler with 2–3 DynamoDB calls
  fanoutBaseMs: 30, // stream invocation: claim, 2 queries, batch reads
  postMs: 2, // per PostToConnection at 32-way concurrency ≈ 60 ms of wall time per 1000 posts / 32
  minutesPerMonth: 43_800,
  heartbeatSeconds: 60, // the SDK's default
  timeoutSeconds: 120, // PRESENCE_TIMEOUT_SECONDS' default
  reconnectsPerDay: 12, // API Gateway closes connections after 2 h
  connectionsPerUser: 1,
};

const r = JSON.parse(readFileSync(join(ROOT, 'bench/results/latest.json'), 'utf8'));
const ops = r.dynamodbRequestsPerOp as Record<string, { requests: number; capacityUnits: number; byOperation: Record<string, number> }>;
const cu = (name: string) => ops[name]?.capacityUnits ?? 0;
const lambda = (ms: number) => PRICE.lambdaRequest + (ms / 1000) * ASSUME.memoryGb * PRICE.lambdaGbSecondArm;
// DynamoDB Local reports capacity for reads and writes alike; price writes as WRU and reads as RRU by operation kind
const ddbCost = (name: string) => {
  const row = ops[name];
  if (!row) return 0;
  const writes = ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'];
  const total = Object.values(row.byOperation).reduce((a, b) => a + b, 0) || 1;
  const writeShare = Object.entries(row.byOperation).reduce((a, [op, n]) => a + (writes.includes(op) ? n : 0), 0) / total;
  return row.capacityUnits * (writeShare * PRICE.ddbWriteUnit + (1 - writeShare) * PRICE.ddbReadUnit);
};
const usd = (x: number) => (x >= 100 ? `$${x.toFixed(0)}` : x >= 1 ? `$${x.toFixed(2)}` : `$${x.toFixed(4)}`);

// ---- one presence change, audience N ----
function perChange(n: number) {
  const change = lambda(ASSUME.handlerMs) + ddbCost('patchPresence') + PRICE.wsMessage; // the client's message (or HTTP request)
  const perRecipientCu = cu('fanoutPerRecipient');
  const fanoutDdb = perRecipientCu * n * PRICE.ddbReadUnit + PRICE.ddbWriteUnit; // reads scale with N, one claim write
  const fanoutLambda = lambda(ASSUME.fanoutBaseMs + (n * ASSUME.postMs) / 32);
  const pushes = n * ASSUME.connectionsPerUser * PRICE.wsMessage;
  return { total: change + fanoutDdb + fanoutLambda + pushes, change, fanoutDdb, fanoutLambda, pushes };
}

// ---- a month of always-connected users, per heartbeat mode ----
/**
 * How often the sweeper reschedules an always-connected user: a heartbeat moves
 * the device's expiry but not the sweep index (a keys-only GSI), so the sweeper
 * finds the user when the old due time comes and records the next one: the
 * latest sign of life + timeout, on average timeout − heartbeat interval / 2.
 * The `gateway` mode's liveness wheel looks at each connection as often.
 */
const rescheduleSeconds = ASSUME.timeoutSeconds - ASSUME.heartbeatSeconds / 2;
/**
 * `lambda` mode, one reschedule: a consistent GetItem of the state (1 RRU,
 * ≤ 4 KB), one write of the state item (1 WRU, ≤ 1 KB) and the sweep index
 * entry moved: "If an update to the table changes the value of an indexed key
 * attribute (from A to B), two writes are required, one to delete the
 * previous item from the index and another write to put the new item into the
 * index" (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.Writes).
 */
const rescheduleCost = PRICE.ddbReadUnit + (1 + 2) * PRICE.ddbWriteUnit;
/**
 * `gateway` mode, one reschedule (functions/commons/liveness.ts): the user's
 * state is not touched; the connection's wheel entry (~80 bytes: user id,
 * device, connection id, due time) is written into its next time bucket in
 * an item of up to 200 entries, and read back once by a consistent Query.
 * "One write request unit represents one write for an item up to 1 KB in
 * size" and a read request unit one strongly consistent read "for an item up
 * to 4 KB", a Query's items summed before rounding
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).
 * An entry is read by the first round after its one-second bucket begins;
 * one not yet due then (due later in the same second as the round) is carried
 * to the next bucket: 1 in 30 on average with rounds every 15 s; counted as
 * 1 in 20. Entries pack 200 to an item once a shard's second holds that many
 * (above ~70,000 connections); below, the items are fuller than 1 KB already
 * at ~13 entries, and the cost per user is at most that of a 1 WRU item a check.
 */
const WHEEL_ENTRY_BYTES = 80;
const WHEEL_CARRIES = 0.05;
const wheelRescheduleCost = (1 + WHEEL_CARRIES) * ((WHEEL_ENTRY_BYTES / 1024) * PRICE.ddbWriteUnit + (WHEEL_ENTRY_BYTES / 4096) * PRICE.ddbReadUnit);
/**
 * `gateway` mode, per deployment: each round (every 15 s) Queries the 15 new
 * one-second buckets of each of the 4 shards (consistent, 1 RRU each even
 * empty), reads its cursor, writes it and takes and releases its lease.
 */
const wheelFixedPerMonth = ASSUME.minutesPerMonth * 4 * ((15 * 4 + 1) * PRICE.ddbReadUnit + 3 * PRICE.ddbWriteUnit);

export type HeartbeatCostMode = 'lambda' | 'gateway' | 'lambda-answered';

/** Cost of one always-connected user for a month, by part. */
function perUserMonth(mode: HeartbeatCostMode) {
  const minutes = ASSUME.minutesPerMonth;
  const heartbeats = minutes * (60 / ASSUME.heartbeatSeconds);
  const connectionMinutes = minutes * PRICE.wsConnectionMinute;
  // every mode sends the same client messages; `lambda-answered` (before issue 12) also answered each
  const messages = heartbeats * (mode === 'lambda-answered' ? 2 : 1) * PRICE.wsMessage;
  // `gateway`: a MOCK integration, no Lambda and no write per heartbeat
  const heartbeatWork = mode === 'gateway' ? 0 : heartbeats * (lambda(ASSUME.handlerMs) + ddbCost('heartbeatWs'));
  // `gateway`: the wheel asks API Gateway (GetConnection), which is not billed: "Pay only for messages sent and
  // received and the total number of connection minutes" (https://aws.amazon.com/api-gateway/pricing/)
  const reschedules = ((minutes * 60) / rescheduleSeconds) * (mode === 'gateway' ? wheelRescheduleCost : rescheduleCost);
  // `gateway`: a connection's first wheel entry (one item, 1 WRU) and, once it closed, the look that finds it gone (a state read)
  const watch = mode === 'gateway' ? PRICE.ddbWriteUnit + PRICE.ddbReadUnit : 0;
  const reconnects = 30 * ASSUME.reconnectsPerDay * (lambda(ASSUME.handlerMs) * 3 + ddbCost('connect') + ddbCost('disconnect') + watch);
  const total = connectionMinutes + messages + heartbeatWork + reschedules + reconnects;
  return { total, connectionMinutes, messages, heartbeatWork, reschedules, reconnects };
}
/** The floor of any design on API Gateway WebSockets: connection minutes + the one client message a minute a 120 s timeout needs. */
const floorPerUserMonth = ASSUME.minutesPerMonth * (PRICE.wsConnectionMinute + PRICE.wsMessage);
/** One sweeper invocation a minute, looping for the minute: the same for 1 user or 100,000 (while one keeps up). */
const sweeperLambdaPerMonth = ASSUME.minutesPerMonth * lambda(60_000);
const MODES: readonly HeartbeatCostMode[] = ['lambda', 'gateway', 'lambda-answered'];

const lines: string[] = [];
lines.push('# Cost model', '');
lines.push(
  `Generated by \`npm run cost\` from \`bench/results/latest.json\` (benchmark of ${r.startedAt}, ${r.quick ? 'quick' : 'full'} run) and us-east-1 on-demand list prices in \`bench/cost.ts\`. DynamoDB request counts and capacity units are **measured** (counted by SDK middleware with ReturnConsumedCapacity on the local stack); Lambda durations on AWS are **assumed** (see the table) because the local stack cannot measure them.`,
  '',
);
lines.push('## Prices and assumptions', '', '| item | value |', '|---|---|');
for (const [k, v] of Object.entries(PRICE)) lines.push(`| ${k} | $${v} |`);
for (const [k, v] of Object.entries(ASSUME)) lines.push(`| ${k} (assumed) | ${v} |`);
lines.push('', '## Measured DynamoDB cost of each operation', '', '| operation | requests | capacity units | by operation |', '|---|---|---|---|');
for (const [k, v] of Object.entries(ops))
  lines.push(
    `| ${k} | ${v.requests} | ${v.capacityUnits} | ${Object.entries(v.byOperation)
      .map(([o, n]) => `${o} ${n}`)
      .join(', ')} |`,
  );
lines.push(
  '',
  '## Cost per million presence changes',
  '',
  '| audience (recipients) | total | the change | fan-out DynamoDB | fan-out Lambda | WebSocket pushes |',
  '|---|---|---|---|---|---|',
);
for (const n of [1, 20, 1000]) {
  const c = perChange(n);
  lines.push(`| ${n} | ${usd(c.total * 1e6)} | ${usd(c.change * 1e6)} | ${usd(c.fanoutDdb * 1e6)} | ${usd(c.fanoutLambda * 1e6)} | ${usd(c.pushes * 1e6)} |`);
}
lines.push(
  '',
  'Formulas: the change = one Lambda invocation + the measured capacity of `PATCH /v1/me/presence` + one WebSocket message; fan-out DynamoDB = measured capacity per recipient × N (reads) + one claim write; fan-out Lambda = base + N posts × 2 ms / 32 in flight; pushes = N messages.',
  '',
);
const modeRows = Object.fromEntries(MODES.map((m) => [m, perUserMonth(m)]));
lines.push(
  '## Always-connected users, per heartbeat mode (heartbeat every 60 s, timeout 120 s, no other activity)',
  '',
  `The floor of any design on API Gateway WebSockets: connection minutes ($0.25/M) plus the one client message a minute a 120 s timeout needs ($1.00/M): **${usd(floorPerUserMonth)} per user-month**. Written to \`bench/results/cost.json\`.`,
  '',
  '| mode | per user-month | × floor | 100,000 users / month | connection minutes | messages | heartbeat Lambda + write | sweeper reschedules | reconnects every 2 h |',
  '|---|---|---|---|---|---|---|---|---|',
);
for (const m of MODES) {
  const c = modeRows[m] as ReturnType<typeof perUserMonth>;
  lines.push(
    `| \`${m}\` | ${usd(c.total)} | ${(c.total / floorPerUserMonth).toFixed(2)} | ${usd(c.total * 100_000 + sweeperLambdaPerMonth + (m === 'gateway' ? wheelFixedPerMonth : 0))} | ${usd(c.connectionMinutes)} | ${usd(c.messages)} | ${usd(c.heartbeatWork)} | ${usd(c.reschedules)} | ${usd(c.reconnects)} |`,
  );
}
lines.push(
  '',
  `Modes: \`lambda\` (the default) a heartbeat invokes a Lambda that extends the device with one write, and is answered only when it carries a \`requestId\` (the SDK sends none); the sweeper reschedules each user every ${rescheduleSeconds} s on average (timeout − heartbeat interval / 2), each time a consistent read, one write and the sweep index entry moved (3 WRU + 1 RRU). \`gateway\` (\`-c heartbeat=gateway\`) the heartbeat route is a MOCK integration (no Lambda, no write) and the sweeper's liveness wheel asks API Gateway about each connection as often (GetConnection's \`LastActiveAt\`), moving only the connection's ~${WHEEL_ENTRY_BYTES}-byte wheel entry, batched 200 to an item (${(wheelRescheduleCost / PRICE.ddbWriteUnit).toFixed(3)} WRU-equivalents per reschedule, carries included), plus ${usd(wheelFixedPerMonth)} a month per deployment for the wheel's bucket Queries and cursor. \`lambda-answered\` is how every heartbeat was answered before (for comparison). The sweeper's Lambda is ${usd(sweeperLambdaPerMonth)} a month whatever the number of users (in the 100,000 column).`,
  '',
  'Why `gateway` is not the default, and what AWS documents about `LastActiveAt`, `@connections` calls and their quotas: see "Heartbeat modes" below.',
  '',
);
lines.push(...readFileSync(join(ROOT, 'bench/cost-heartbeat-modes.md'), 'utf8').trimEnd().split('\n'), '');
writeFileSync(
  join(ROOT, 'bench/results/cost.json'),
  `${JSON.stringify(
    {
      generatedFrom: { benchmark: r.startedAt, quick: r.quick },
      assumptions: {
        heartbeatSeconds: ASSUME.heartbeatSeconds,
        timeoutSeconds: ASSUME.timeoutSeconds,
        rescheduleSeconds,
        minutesPerMonth: ASSUME.minutesPerMonth,
      },
      floorPerUserMonthUsd: floorPerUserMonth,
      modes: Object.fromEntries(
        MODES.map((m) => {
          const c = modeRows[m] as ReturnType<typeof perUserMonth>;
          const { total, ...parts } = c;
          return [m, { perUserMonthUsd: total, ratioToFloor: total / floorPerUserMonth, partsUsd: parts, default: m === 'lambda' }];
        }),
      ),
    },
    null,
    2,
  )}\n`,
);
writeFileSync(join(ROOT, 'docs/cost.md'), `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
