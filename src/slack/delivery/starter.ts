import type { Queue } from 'bullmq';
import { retention } from '../../queue/retention.js';
import type { HostJobStart, Starter, SweepStart } from '../../door/services.js';
import type { SlackStore } from '../store.js';
import { DELIVERY_ATTEMPTS } from './jobs.js';
import type { HostJobDelivery, SweepDelivery } from './jobs.js';

/** How a delivery job is retried (its attempts are the bot's setting, how long it is kept the queue's retention). */
const BACKOFF = { type: 'exponential', delay: 1000 } as const;

/**
 * The bot's starter: a request the door allowed starts as one delivery job, the single write that commits it; the
 * delivery posts, enqueues the work, waits and answers (delivery/sweep.ts, delivery/host-job.ts).
 */
export class SlackStarter implements Starter {
  constructor(
    private readonly deliveries: Queue,
    private readonly store: SlackStore,
    /** Tries of each delivery, default {@link DELIVERY_ATTEMPTS}. */
    private readonly attempts = DELIVERY_ATTEMPTS,
    /** Finished deliveries kept per queue at most, lowering the figures of retention.ts (ZENSWEEP_JOBS_KEPT). */
    private readonly jobsKept?: number,
  ) {}

  private options(jobId: string) {
    return { jobId, attempts: this.attempts, backoff: BACKOFF, ...retention('deliveries', this.jobsKept) };
  }

  async sweep(start: SweepStart): Promise<void> {
    const { flow, asker } = start;
    const id = flow.report.sweepId;
    if (asker.responseUrl) await this.store.saveResponseUrl(id, asker.responseUrl);
    const data: SweepDelivery = {
      v: 2,
      kind: 'sweep',
      sweepId: id,
      channel: asker.channel,
      header: { user: asker.user, text: start.text, groups: flow.report.groups, addresses: flow.report.addresses ?? 0 },
      ...(start.slot ? { slot: { requester: start.slot.requester, id: start.slot.id } } : {}),
      flow,
    };
    await this.deliveries.add('sweep', data, this.options(`deliver-${id}`));
  }

  async hostJob(start: HostJobStart): Promise<void> {
    const { job, asker } = start;
    if (asker.responseUrl) await this.store.saveResponseUrl(job.id, asker.responseUrl);
    const data: HostJobDelivery = {
      v: 2,
      kind: job.kind,
      channel: asker.channel,
      user: asker.user,
      text: start.text,
      ...(start.slot ? { slot: { requester: start.slot.requester, id: start.slot.id } } : {}),
      job,
    };
    await this.deliveries.add(job.kind, data, this.options(`deliver-${job.id}`));
  }
}
