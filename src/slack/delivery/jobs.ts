/**
 * Deliveries: one job per request the bot started (a sweep, a trace, a diag), on one queue, run by the bot. A
 * delivery is the request's durable start and its answer: it posts the parent message, enqueues the work (once),
 * follows it, posts the answer in the thread, and ends the requester's running slot. Enqueueing it is the one step
 * that starts a request, so nothing started is ever without its answer, and a bot restart or a Slack outage only
 * delays it. Job data holds no token and no response_url (kept under its own key).
 */
import { z } from 'zod';
import { sweepFlowSchema } from '../../queue/dispatcher.js';
import { hostJobSchema } from '../../queue/host-jobs.js';
import type { SweepHeader } from '../../views/blocks.js';

/** The queue of deliveries. */
export const DELIVERY_QUEUE = '{slack-deliveries}';

/** Tries per delivery by default (Slack down a while, a restart): about 35 minutes of exponential backoff from 1 s. */
export const DELIVERY_ATTEMPTS = 12;

const header = z.object({
  user: z.string().min(1),
  text: z.string(),
  groups: z.array(z.string()),
  addresses: z.number().int().min(0),
}) satisfies z.ZodType<SweepHeader>;

/** Who holds the slot the request counts against, released when the delivery ends. */
const slot = z.object({ requester: z.string().min(1).max(200), id: z.string().min(1).max(64) });

/** A sweep's delivery, as the door starts it: the flow to enqueue and where the answer goes. */
const sweepDelivery = z.object({
  v: z.literal(2),
  kind: z.literal('sweep'),
  sweepId: z.string().min(1).max(64),
  channel: z.string().min(1),
  header,
  slot: slot.optional(),
  flow: sweepFlowSchema,
});

/** A trace's or diag's delivery: the job to enqueue and where the answer goes. */
const hostJobDelivery = z.object({
  v: z.literal(2),
  kind: z.enum(['trace', 'diag']),
  channel: z.string().min(1),
  user: z.string().min(1),
  /** The request in the grammar's words. */
  text: z.string(),
  slot: slot.optional(),
  job: hostJobSchema,
});

/** A delivery made before deliveries started their work: the sweep was already enqueued, its parent posted. */
const startedSweepDelivery = z.object({
  v: z.literal(1),
  sweepId: z.string().min(1),
  channel: z.string().min(1),
  parentTs: z.string().optional(),
  header,
});

const currentDelivery = z.discriminatedUnion('kind', [sweepDelivery, hostJobDelivery]);
export type SweepDelivery = z.infer<typeof sweepDelivery>;
export type HostJobDelivery = z.infer<typeof hostJobDelivery>;
export type StartedSweepDelivery = z.infer<typeof startedSweepDelivery>;
export type DeliveryJob = SweepDelivery | HostJobDelivery | StartedSweepDelivery;

/** Job data as read back, checked by the schema of its version (so a bad one is named by its first wrong field). */
export function parseDeliveryJob(data: unknown): ReturnType<typeof currentDelivery.safeParse> | ReturnType<typeof startedSweepDelivery.safeParse> {
  const version = (data as { v?: unknown } | null)?.v;
  return version === 1 ? startedSweepDelivery.safeParse(data) : currentDelivery.safeParse(data);
}
