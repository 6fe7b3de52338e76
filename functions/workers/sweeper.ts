/**
 * The sweeper: timely offline and availability lapse, whatever TTL does.
 *
 * Locally a timer invokes it every SWEEP_INTERVAL_SECONDS with `{}` (one
 * sweep). On AWS, EventBridge fires at most once a minute, so the schedule
 * passes `{"loopSeconds": 60}` and one invocation sweeps every
 * SWEEP_INTERVAL_SECONDS for that minute: offline stays within
 * timeout + SWEEP_INTERVAL_SECONDS as the contract promises.
 */
import { config } from '../commons/config.ts';
import { log } from '../commons/log.ts';
import { type SweepCounts, sweep } from '../commons/operations.ts';

const intervalMs = config.sweepIntervalSeconds * 1000;

export const handler = async (event: { loopSeconds?: number } = {}): Promise<SweepCounts> => {
  const started = Date.now();
  const loopMs = Math.max(0, Math.min(Number(event?.loopSeconds) || 0, 900)) * 1000;
  const total: SweepCounts = { usersMarkedOffline: 0, devicesExpired: 0, availabilityCleared: 0, subscriptionsExpired: 0 };
  for (let round = 0; ; round++) {
    const counts = await sweep();
    for (const k of Object.keys(total) as (keyof SweepCounts)[]) total[k] += counts[k];
    if (counts.devicesExpired || counts.availabilityCleared) log.info('sweep', { round, ...counts });
    const next = started + (round + 1) * intervalMs;
    // stop when the next round would start at or after the next scheduled invocation
    if (next >= started + loopMs) return total;
    await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
  }
};
