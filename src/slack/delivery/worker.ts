import type { Job } from 'bullmq';
import { bullmq } from '../../queue/load.js';
import { firstIssue } from '../../queue/records.js';
import { Delivery } from './delivery.js';
import type { Asked, DeliveryDeps } from './delivery.js';
import { deliverHostJob } from './host-job.js';
import { parseDeliveryJob } from './jobs.js';
import type { DeliveryJob } from './jobs.js';
import { deliverSweep } from './sweep.js';

/** The request a delivery job answers; `at`, when the job was queued. */
function askedOf(data: DeliveryJob, at: number): Asked {
  if (data.v === 1) return { id: data.sweepId, channel: data.channel, user: data.header.user, text: data.header.text, at };
  if (data.kind === 'sweep') return { id: data.sweepId, channel: data.channel, user: data.header.user, text: data.header.text, slot: data.slot, at };
  return { id: data.job.id, channel: data.channel, user: data.user, text: data.text, slot: data.slot, at };
}

/**
 * The delivery worker's processor: each job is one request's delivery (a sweep, a trace, a diag). A delivery that
 * fails for good (bad data, an expired response_url, its tries used up) still ends its request: the failure is said
 * where it can be, the slot released, the audit written. One stopped by a shutdown is handed back, not ended.
 */
export function deliveryProcessor(deps: DeliveryDeps) {
  return async (job: Job, _token?: string, signal?: AbortSignal): Promise<{ posted: boolean }> => {
    const parsed = parseDeliveryJob(job.data);
    if (!parsed.success) throw new bullmq.UnrecoverableError(`bad delivery job data: ${firstIssue(parsed.error)}`);
    const data = parsed.data;
    const delivery = new Delivery(deps, askedOf(data, job.timestamp));
    try {
      return data.v === 1 || data.kind === 'sweep' ? await deliverSweep(data, delivery, deps, signal) : await deliverHostJob(data, delivery, deps, signal);
    } catch (error) {
      if (signal?.aborted) throw error;
      const final = error instanceof bullmq.UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (final) {
        const parentTs = await deps.store.deliveredValue(delivery.asked.id, 'posted').catch(() => undefined);
        await delivery.fail(parentTs || undefined, `it could not be delivered (${(error as Error).message})`).catch((failure: Error) =>
          deps.log.warn({ event: 'delivery_end_failed', id: delivery.asked.id, message: failure.message }),
        );
      }
      throw error;
    }
  };
}
