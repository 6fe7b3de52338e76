/** Scheduled sweep: timely offline and availability lapse, whatever TTL does. */
import { log } from '../commons/log.ts';
import { sweep } from '../commons/operations.ts';

export const handler = async () => {
  const counts = await sweep();
  if (counts.devicesExpired || counts.availabilityCleared) log.info('sweep', { ...counts });
  return counts;
};
