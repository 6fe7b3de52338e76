/**
 * The sweeper: timely offline and availability lapse, whatever TTL does.
 *
 * Locally a timer invokes it every SWEEP_INTERVAL_SECONDS with `{}` (one
 * sweep). On AWS, EventBridge fires at most once a minute, so the schedule
 * passes `{"loopSeconds": 60}` and one invocation sweeps every
 * SWEEP_INTERVAL_SECONDS for that minute: offline stays within
 * timeout + SWEEP_INTERVAL_SECONDS as the contract promises.
 * Traced with `-c tracing=on` (functions/commons/traced.ts); each round's users taken offline
 * are one SweeperUsersOffline datapoint, flushed with the round.
 */
import { dynamodb, management } from '../commons/clients.ts';
import { config } from '../commons/config.ts';
import { lambdaHandler } from '../commons/lambda.ts';
import { logger } from '../commons/logger.ts';
import { MetricName, metrics, sample } from '../commons/metrics.ts';
import { type SweepCounts, sweep } from '../commons/operations.ts';
import { tracingFor } from '../commons/traced.ts';

// X-Ray where the stack turns it on (-c tracing=on); off, the X-Ray SDK is not even in the bundle (functions/commons/traced.ts)
const tracing = await tracingFor(dynamodb, management);

const intervalMs = config.sweepIntervalSeconds * 1000;

export const handler = lambdaHandler(
  async (event: { loopSeconds?: number } = {}): Promise<SweepCounts> => {
    const started = Date.now();
    const loopMs = Math.max(0, Math.min(Number(event?.loopSeconds) || 0, 900)) * 1000;
    const total: SweepCounts = { usersMarkedOffline: 0, devicesExpired: 0, availabilityCleared: 0, subscriptionsExpired: 0 };
    for (let round = 0; ; round++) {
      const counts = await sweep();
      for (const k of Object.keys(total) as (keyof SweepCounts)[]) total[k] += counts[k];
      if (counts.devicesExpired || counts.availabilityCleared) logger.info('sweep', { round, ...counts });
      sample(MetricName.SweeperUsersOffline, counts.usersMarkedOffline);
      const next = started + (round + 1) * intervalMs;
      // stop when the next round would start at or after the next scheduled invocation
      if (next >= started + loopMs) return total;
      // a minute-long invocation: each round's datapoint is flushed with it, not a minute later
      metrics.publishStoredMetrics();
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
  },
  { tracing },
);
