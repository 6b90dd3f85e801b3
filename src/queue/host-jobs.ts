import { randomBytes } from 'node:crypto';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { DiagReport } from '../core/diag.js';
import { ZenSweepError } from '../core/errors.js';
import { DEFAULT_OPTIONS } from '../core/request.js';
import type { SweepRequest } from '../core/request.js';
import { parseTargetToken } from '../core/targets.js';
import type { DiagRequest } from '../core/trace-grammar.js';
import { MAX_DIAG_PORTS } from '../core/trace-grammar.js';
import { TRACE_MODES } from '../core/trace.js';
import type { TraceReport, TraceRequest } from '../core/trace.js';
import { bullmq } from './load.js';
import { sweepQueueName } from './names.js';
import { planSweep } from './plan.js';
import type { ReachCheck } from './plan.js';
import { firstIssue } from './records.js';
import { AgentRegistry } from './registry.js';
import { retention } from './retention.js';

/**
 * Trace and diag through the agents: one job on the queue of the agent group that covers the host (as a sweep's
 * chunks go), run by one of its agents, which returns the report. Routed and authorized exactly as a sweep of that
 * one host: planSweep decides the group, the same policy check judges the plan, and the requester's scope travels
 * with the job for the agent to enforce after it resolves a name.
 */

export type HostJobKind = 'trace' | 'diag';

export function isHostJobKind(name: string): name is HostJobKind {
  return name === 'trace' || name === 'diag';
}

const targetWord = z
  .string()
  .min(1)
  .max(300)
  .refine((text) => {
    try {
      const spec = parseTargetToken(text);
      return spec.kind === 'address' || spec.kind === 'name';
    } catch {
      return false;
    }
  }, 'is not one address or host name');

const traceOptionsSchema = z.object({
  mode: z.enum(['auto', ...TRACE_MODES]),
  port: z.number().int().min(1).max(65_535),
  count: z.number().int().min(1).max(20),
  maxHops: z.number().int().min(1).max(64),
  timeoutMs: z.number().int().min(100).max(10_000),
  dns: z.boolean(),
  vpc: z.string().max(63).optional(),
});

const diagOptionsSchema = z.object({
  ports: z.array(z.number().int().min(1).max(65_535)).min(1).max(MAX_DIAG_PORTS),
  vpc: z.string().max(63).optional(),
});

const common = {
  v: z.literal(1),
  id: z.string().min(1).max(64),
  group: z.string().min(1).max(63),
  target: targetWord,
  requestedBy: z.string().max(200),
  /** The networks the requester may probe (their policy's CIDRs): the agent refuses an address outside them. */
  scope: z.array(z.string().min(1).max(64)).min(1).max(1024).optional(),
};

export const hostJobSchema = z.discriminatedUnion('kind', [
  z.object({ ...common, kind: z.literal('trace'), options: traceOptionsSchema }),
  z.object({ ...common, kind: z.literal('diag'), options: diagOptionsSchema }),
]);
export type HostJob = z.infer<typeof hostJobSchema>;

/** What comes back from an agent, checked before anyone shows it (a job's return value is data from outside). */
const hopSchema = z.object({ ttl: z.number(), sent: z.number(), lossPct: z.number(), responders: z.array(z.object({ address: z.string() }).passthrough()) }).passthrough();
const traceReportSchema = z
  .object({
    target: z.string(),
    address: z.string(),
    paths: z.array(z.object({ mode: z.enum(TRACE_MODES), end: z.string(), hops: z.array(hopSchema) }).passthrough()),
    conclusion: z.string(),
  })
  .passthrough();
const diagReportSchema = z
  .object({
    target: z.string(),
    window: z.object({ start: z.string(), end: z.string() }),
    summary: z.array(z.string()),
    commands: z.array(z.string()),
    resolution: z.object({ servers: z.array(z.string()) }).passthrough(),
    trace: traceReportSchema.optional(),
  })
  .passthrough();

/** A trace or diag job failed on its agent (out of scope, a name that does not resolve there, no raw sockets). */
export class HostJobFailedError extends ZenSweepError {
  constructor(message: string) {
    super('host_job_failed', message);
  }
}

export type HostRequest = { kind: 'trace'; request: TraceRequest } | { kind: 'diag'; request: DiagRequest };

export interface PlannedHostJob {
  group: string;
  scope?: string[];
}

/** How long an agent may take, in milliseconds: a trace of 64 hops and 20 probes, a diag (about 15 s), with room. */
export function hostJobTimeoutMs(job: HostRequest): number {
  if (job.kind === 'diag') return 60_000;
  const o = job.request.options;
  return 30_000 + o.count * o.timeoutMs * 2 * (o.mode === 'auto' ? 2 : 1);
}

/** The one-host sweep request a trace or diag is routed and authorized as. */
export function sweepRequestOf(job: HostRequest): SweepRequest {
  const vpc = job.request.options.vpc;
  return { targets: [job.request.target], options: { ...DEFAULT_OPTIONS, ports: [], ...(vpc ? { vpc } : {}) } };
}

export function newHostJobId(kind: HostJobKind): string {
  return `${kind}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Enqueues trace and diag jobs and waits for their reports. Used by `zensweep submit trace|diag` and Slack. */
export class HostJobs {
  private readonly registry: AgentRegistry;
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: Redis,
    /** Finished jobs kept per queue at most, lowering the figures of retention.ts (ZENSWEEP_JOBS_KEPT). */
    private readonly jobsKept?: number,
  ) {
    this.registry = new AgentRegistry(connection);
  }

  /** Which group runs it, and the requester's scope there; refuses what no live agent covers or `authorize` refuses. */
  async plan(job: HostRequest, authorize?: ReachCheck): Promise<PlannedHostJob> {
    const plan = planSweep(sweepRequestOf(job), await this.registry.list(), { authorize });
    const chunk = plan.chunks[0];
    if (!chunk) throw new HostJobFailedError('no agent group covers this host');
    return chunk.scope ? { group: chunk.group, scope: chunk.scope } : { group: chunk.group };
  }

  private queue(group: string): Queue {
    let queue = this.queues.get(group);
    if (!queue) {
      queue = new bullmq.Queue(sweepQueueName(group), { connection: this.connection, defaultJobOptions: retention('chunks', this.jobsKept) });
      this.queues.set(group, queue);
    }
    return queue;
  }

  async submit(job: HostRequest, planned: PlannedHostJob, requestedBy: string, id = newHostJobId(job.kind)): Promise<HostJob> {
    const data = hostJobSchema.parse({
      v: 1,
      id,
      kind: job.kind,
      group: planned.group,
      target: job.request.target.text,
      options: job.request.options,
      requestedBy,
      ...(planned.scope ? { scope: planned.scope } : {}),
    });
    await this.queue(planned.group).add(job.kind, data, {
      jobId: id,
      // An agent that dies mid-trace hands it to another; a refusal (UnrecoverableError) is final.
      attempts: 2,
      ...retention('hostJobs', this.jobsKept),
    });
    return data;
  }

  /** Waits for the report; HostJobFailedError with the agent's reason if it failed. */
  async wait(job: HostJob, timeoutMs: number): Promise<TraceReport | DiagReport> {
    const own = this.connection.duplicate().on('error', () => undefined);
    const events: QueueEvents = new bullmq.QueueEvents(sweepQueueName(job.group), { connection: own });
    try {
      await events.waitUntilReady();
      const queued = await bullmq.Job.fromId(this.queue(job.group), job.id);
      if (!queued) throw new HostJobFailedError(`${job.kind} ${job.id} is no longer queued`);
      let value: unknown;
      try {
        value = await queued.waitUntilFinished(events, timeoutMs);
      } catch (error) {
        throw new HostJobFailedError(`${job.kind} of ${job.target} failed on group ${job.group}: ${(error as Error).message}`);
      }
      const schema = job.kind === 'trace' ? traceReportSchema : diagReportSchema;
      const parsed = schema.safeParse(value);
      if (!parsed.success) throw new HostJobFailedError(`the agent's ${job.kind} report is not readable: ${firstIssue(parsed.error)}`);
      return parsed.data as unknown as TraceReport | DiagReport;
    } finally {
      await events.close();
      own.disconnect();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
