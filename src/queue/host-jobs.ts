import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { DiagReport } from '../core/diag.js';
import { ZenSweepError } from '../core/errors.js';
import { DEFAULT_OPTIONS } from '../core/request.js';
import type { SweepRequest } from '../core/request.js';
import { parseTargetToken } from '../core/targets.js';
import type { DiagRequest } from '../core/trace-grammar.js';
import { DIAG_LIMITS, TRACE_LIMITS, TRACE_MODES } from '../core/trace.js';
import type { TraceOptions, TraceReport, TraceRequest } from '../core/trace.js';
import { JobGoneError, JobWaitTimeoutError, JobWatcher } from './job-watcher.js';
import type { JobEnd } from './job-watcher.js';
import { bullmq } from './load.js';
import { sweepQueueName } from './names.js';
import { planSweep } from './plan.js';
import type { ReachCheck } from './plan.js';
import { firstIssue } from './records.js';
import type { OnBadRecord } from './records.js';
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
  count: z.number().int().min(TRACE_LIMITS.count.min).max(TRACE_LIMITS.count.max),
  maxHops: z.number().int().min(TRACE_LIMITS.maxHops.min).max(TRACE_LIMITS.maxHops.max),
  timeoutMs: z.number().int().min(TRACE_LIMITS.timeoutMs.min).max(TRACE_LIMITS.timeoutMs.max),
  dns: z.boolean(),
  vpc: z.string().max(63).optional(),
});

const diagOptionsSchema = z.object({
  ports: z.array(z.number().int().min(1).max(65_535)).min(DIAG_LIMITS.ports.min).max(DIAG_LIMITS.ports.max),
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
  constructor(message: string, options?: { cause?: unknown }) {
    super('host_job_failed', message, options);
  }
}

export type HostRequest = { kind: 'trace'; request: TraceRequest } | { kind: 'diag'; request: DiagRequest };

export interface PlannedHostJob {
  group: string;
  scope?: string[];
}

/** How long an agent may take, in milliseconds: a trace of 64 hops and 20 probes, a diag (about 15 s), with room. */
export function hostJobTimeoutMs(job: { kind: 'trace'; options: Pick<TraceOptions, 'count' | 'timeoutMs' | 'mode'> } | { kind: 'diag' }): number {
  if (job.kind === 'diag') return DIAG_LIMITS.runMs;
  const o = job.options;
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

/** The job data of a planned trace or diag (no secret: it is stored in clear). */
export function hostJobOf(job: HostRequest, planned: PlannedHostJob, requestedBy: string, id: string): HostJob {
  return hostJobSchema.parse({
    v: 1,
    id,
    kind: job.kind,
    group: planned.group,
    target: job.request.target.text,
    options: job.request.options,
    requestedBy,
    ...(planned.scope ? { scope: planned.scope } : {}),
  });
}

export interface HostJobsOptions {
  /**
   * What waits for the reports (one QueueEvents per group's queue, shared by every waiting trace and diag); its
   * owner closes it. Default: one of its own, made on the first wait and closed by `close()`.
   */
  watcher?: JobWatcher;
  /**
   * Where the `error` events of its queues and of its own watcher go (mostly a lost connection, which its owner
   * reports already); default: nowhere. Without a listener BullMQ prints each one on stderr as a stack.
   */
  onError?: (error: Error) => void;
  /** Told of each agent heartbeat that fails its schema; default: a line on stderr. */
  onBadRecord?: OnBadRecord;
  /** Finished jobs kept per queue at most, lowering the figures of retention.ts (ZENSWEEP_JOBS_KEPT). */
  jobsKept?: number;
}

/** Enqueues trace and diag jobs and waits for their reports. Used by `zensweep submit trace|diag` and Slack. */
export class HostJobs {
  private readonly registry: AgentRegistry;
  private readonly queues = new Map<string, Queue>();
  /** The watcher made here when none was given, closed by `close()`. */
  private ownWatcher: JobWatcher | undefined;

  constructor(
    private readonly connection: Redis,
    private readonly options: HostJobsOptions = {},
  ) {
    this.registry = new AgentRegistry(connection, undefined, options.onBadRecord);
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
      queue = new bullmq.Queue(sweepQueueName(group), { connection: this.connection, defaultJobOptions: retention('chunks', this.options.jobsKept) });
      // Without a listener BullMQ prints each error (a lost connection) on stderr.
      queue.on('error', this.options.onError ?? ((): void => undefined));
      this.queues.set(group, queue);
    }
    return queue;
  }

  async submit(job: HostRequest, planned: PlannedHostJob, requestedBy: string, id = newHostJobId(job.kind)): Promise<HostJob> {
    const data = hostJobOf(job, planned, requestedBy, id);
    await this.enqueue(data);
    return data;
  }

  /** Enqueues a job on its group's queue; enqueueing one already there does nothing (its id is its own). */
  async enqueue(data: HostJob): Promise<void> {
    await this.queue(data.group).add(data.kind, data, {
      jobId: data.id,
      // An agent that dies mid-trace hands it to another; a refusal (UnrecoverableError) is final.
      attempts: 2,
      ...retention('chunks', this.options.jobsKept),
    });
  }

  /**
   * Waits for the report, at most `timeoutMs` milliseconds; HostJobFailedError with the agent's reason if it failed,
   * or with why no report came (none in time, the job gone), or if the report is not readable. Stopped waiting (its
   * `signal`, the watcher closed at shutdown) is not the job's failure: that error is thrown as it is.
   */
  async wait(job: HostJob, timeoutMs: number, signal?: AbortSignal): Promise<TraceReport | DiagReport> {
    const failed = (reason: string, cause?: unknown): HostJobFailedError =>
      new HostJobFailedError(`${job.kind} of ${job.target} failed on group ${job.group}: ${reason}`, { cause });
    let end: JobEnd;
    try {
      end = await this.watcher().wait(sweepQueueName(job.group), job.id, { timeoutMs, ...(signal ? { signal } : {}) });
    } catch (error) {
      if (error instanceof JobGoneError) throw new HostJobFailedError(`${job.kind} ${job.id} is no longer queued`, { cause: error });
      if (error instanceof JobWaitTimeoutError) throw failed(`no agent finished it within ${Math.round(timeoutMs / 1000)} s`, error);
      throw error;
    }
    if (end.state === 'failed') throw failed(end.failedReason);
    const schema = job.kind === 'trace' ? traceReportSchema : diagReportSchema;
    const parsed = schema.safeParse(end.returnValue);
    if (!parsed.success) throw new HostJobFailedError(`the agent's ${job.kind} report is not readable: ${firstIssue(parsed.error)}`);
    return parsed.data as unknown as TraceReport | DiagReport;
  }

  /** The watcher given, or its own, made on first use. */
  private watcher(): JobWatcher {
    if (this.options.watcher) return this.options.watcher;
    this.ownWatcher ??= new JobWatcher({ connection: this.connection, ...(this.options.onError ? { onError: this.options.onError } : {}) });
    return this.ownWatcher;
  }

  /** Closes its queues, and its own watcher (not one it was given): waits still going reject. */
  async close(): Promise<void> {
    await Promise.all([...[...this.queues.values()].map((q) => q.close()), this.ownWatcher?.close()]);
  }
}
