/** Redis key prefix for everything ZenSweep keeps besides BullMQ's own keys. */
export const KEY_PREFIX = 'zensweep';

/** The queue of one agent group's chunks. (BullMQ queue names may not contain ':'.) */
export function sweepQueueName(group: string): string {
  return `sweep.${group}`;
}

/** The queue of report jobs: a sweep's parent job, run when all its chunks are in. */
export const REPORT_QUEUE = 'sweep-reports';

/** Pub/sub channel on which cancellations are announced to every agent. */
export function cancelChannel(prefix = KEY_PREFIX): string {
  return `${prefix}:cancel`;
}

/** Set while a sweep is cancelled, so chunks not yet started are skipped; expires after a day (Dispatcher.cancel). */
export function cancelledKey(sweepId: string, prefix = KEY_PREFIX): string {
  return `${prefix}:cancelled:${sweepId}`;
}
