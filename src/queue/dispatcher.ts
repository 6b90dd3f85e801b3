import { randomBytes } from 'node:crypto';
import type { FlowProducer, Queue } from 'bullmq';
import { bullmq } from './load.js';
import type { Redis } from 'ioredis';
import { ZenSweepError } from '../core/errors.js';
import type { SweepRequest } from '../core/request.js';
import type { DistributedReport } from '../core/report.js';
import { ALL_GROUPS } from '../core/report.js';
import { z } from 'zod';
import { chunkJobSchema, partJobSchema, reportJobOptions, reportJobSchema } from './jobs.js';
import type { ChunkJob, PartJob, ReportJob } from './jobs.js';
import { KEY_PREFIX, REPORT_QUEUE, agentQueueName, agentQueuesKey, cancelChannel, cancelledKey, partQueueName, sweepQueueName } from './names.js';
import { CLI_OWNER, HistoryStore } from './history.js';
import { JobGoneError, JobWaitAbortedError, JobWatcher } from './job-watcher.js';
import type { JobEnd } from './job-watcher.js';
import { ResultStore } from './results.js';
import { plannedProbes, planSweep } from './plan.js';
import type { OnBadRecord } from './records.js';
import type { ReachCheck, SweepPlan } from './plan.js';
import { AgentRegistry } from './registry.js';
import { retention } from './retention.js';
import type { AgentInfo } from './registry.js';

/** compare:NAME names a baseline nobody saved. */
export class UnknownBaselineError extends ZenSweepError {
  constructor(message: string) {
    super('unknown_baseline', message);
  }
}

/** The sweep ran but its report job failed for good (e.g. history could not be written). */
export class SweepFailedError extends ZenSweepError {
  constructor(message: string) {
    super('sweep_failed', message);
  }
}

export interface DispatcherOptions {
  /** A connection with `maxRetriesPerRequest: null`; duplicated for the blocking clients. */
  connection: Redis;
  /** Redis key prefix for ZenSweep's own keys, default 'zensweep'. */
  prefix?: string;
  /** Addresses per chunk, default 256. */
  chunkSize?: number;
  /** Tries per chunk (a stalled or failed chunk runs again), default 3. */
  attempts?: number;
  /** Most addresses one sweep may probe, default 65,536. */
  maxAddresses?: number;
  /** Told of each record read back from Redis that fails its schema, which is then skipped; default: a line on stderr. */
  onBadRecord?: OnBadRecord;
  /**
   * Where the `error` events of its BullMQ producers and listeners go (mostly a lost connection, which its owner
   * reports already); default: nowhere. Without a listener BullMQ prints each one on stderr.
   */
  onError?: (error: Error) => void;
  /**
   * What waits for reports and follows progress (one QueueEvents per queue, shared by every waiting sweep); its owner
   * closes it. Default: one of the Dispatcher's own, made on the first wait and closed by `close()`.
   */
  watcher?: JobWatcher;
  /** Finished jobs kept per queue at most, lowering the figures of retention.ts (ZENSWEEP_JOBS_KEPT); default: those figures. */
  jobsKept?: number;
}

export interface SubmittedSweep {
  sweepId: string;
  plan: SweepPlan;
  agents: AgentInfo[];
  /**
   * The jobs as they were enqueued: with it, a sweep that a failover lost whole (its part jobs gone before any end)
   * is enqueued again by whoever waits for it, rather than reported lost.
   */
  flow?: SweepFlow;
}

/** How often a waiter enqueues again a sweep that Redis lost whole, at most. */
const MAX_RESUBMITS = 3;

export interface SweepProgressEvent {
  done: number;
  total: number;
  alive: number;
}

/** A planned sweep as it is enqueued: its report job and its chunks' jobs, in job data (no secret, JSON). */
export const sweepFlowSchema = z.object({ report: reportJobSchema, chunks: z.array(chunkJobSchema).min(1).max(100_000) });
export type SweepFlow = { report: ReportJob; chunks: ChunkJob[] };

/**
 * The jobs of a planned sweep. `owner` is whose baselines save:NAME and compare:NAME use: the Slack channel that
 * asked, or `cli` (the default) for `zensweep submit`.
 */
export function flowOf(request: SweepRequest, requestedBy: string, sweepId: string, plan: SweepPlan, owner = CLI_OWNER): SweepFlow {
  const options = request.options;
  const report: ReportJob = {
    v: 1,
    sweepId,
    // vpc:all alone names no target: the report and the history say what it swept.
    targets: plan.networks ? [ALL_GROUPS, ...plan.networks] : request.targets.map((t) => t.text),
    options,
    groups: plan.groups,
    requestedBy,
    owner,
    addresses: plan.addresses,
    createdAt: new Date().toISOString(),
    parts: [...new Set(plan.chunks.map((chunk) => chunk.group))],
    ...(plan.vantages ? { vantages: plan.vantages } : {}),
  };
  const chunks = plan.chunks.map((chunk): ChunkJob => {
    const data: ChunkJob = { v: 1, sweepId, group: chunk.group, index: chunk.index, targets: chunk.targets, options };
    if (chunk.agent !== undefined) data.agent = chunk.agent;
    if (chunk.scope) data.scope = chunk.scope;
    return data;
  });
  return { report, chunks };
}

/** The id of a sweep's part job on a group. */
export function partJobId(sweepId: string, group: string): string {
  return `${sweepId}.${group}`;
}

/** The Redis key of a sweep's part job on a group (BullMQ's job hash). */
function partJobKey(sweepId: string, group: string): string {
  return `bull:${partQueueName(group)}:${partJobId(sweepId, group)}`;
}

/** A sweep's chunks by group, in the order the groups first appear. */
function partsOf(chunks: readonly ChunkJob[]): Map<string, ChunkJob[]> {
  const byGroup = new Map<string, ChunkJob[]>();
  for (const chunk of chunks) {
    const list = byGroup.get(chunk.group);
    if (list) list.push(chunk);
    else byGroup.set(chunk.group, [chunk]);
  }
  return byGroup;
}

export function newSweepId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/**
 * Turns a parsed request into a BullMQ flow: one report job (the parent) on the report queue, whose children are
 * the chunks on each group's queue. Used by `zensweep submit` and by the Slack bot.
 */
export class Dispatcher {
  private readonly prefix: string;
  private readonly flows: FlowProducer;
  /** The report queue, to look a sweep's report job up (whether it is enqueued, whether it ended). */
  private readonly reports: Queue;
  private readonly registry: AgentRegistry;
  private readonly history: HistoryStore;
  private readonly results: ResultStore;
  private readonly onError: (error: Error) => void;
  /** The watcher made here when none was given, closed by `close()`. */
  private ownWatcher: JobWatcher | undefined;

  constructor(private readonly options: DispatcherOptions) {
    this.prefix = options.prefix ?? KEY_PREFIX;
    this.onError = options.onError ?? ((): void => undefined);
    this.flows = new bullmq.FlowProducer({ connection: options.connection }).on('error', this.onError);
    this.reports = new bullmq.Queue(REPORT_QUEUE, {
      connection: options.connection,
      defaultJobOptions: retention('reports', options.jobsKept),
    }).on('error', this.onError);
    this.registry = new AgentRegistry(options.connection, this.prefix, options.onBadRecord);
    this.history = new HistoryStore(options.connection, { prefix: this.prefix, onBadRecord: options.onBadRecord });
    this.results = new ResultStore(options.connection, this.prefix, options.onBadRecord);
  }

  agents(): Promise<AgentInfo[]> {
    return this.registry.list();
  }

  /**
   * Plans against the live agents, refusing what none covers and what `authorize` (a policy) refuses, and checks
   * that a compare:NAME baseline exists among those of `owner` (the Slack channel asking, or `cli`). Nothing is
   * enqueued.
   */
  async plan(request: SweepRequest, authorize?: ReachCheck, owner = CLI_OWNER): Promise<{ plan: SweepPlan; agents: AgentInfo[] }> {
    const agents = await this.registry.list();
    const plan = planSweep(request, agents, {
      chunkSize: this.options.chunkSize,
      maxAddresses: this.options.maxAddresses,
      authorize,
    });
    const compare = request.options.compare;
    if (compare !== undefined && !(await this.history.baseline(owner, compare))) {
      // Another channel's baseline of that name is not this channel's to read: the same answer as none at all.
      throw new UnknownBaselineError(
        owner === CLI_OWNER
          ? `there is no baseline named ${compare}: save one first with save:${compare}`
          : `there is no baseline named ${compare} in this channel: save one here first with save:${compare}`,
      );
    }
    return { plan, agents };
  }

  /**
   * Plans (or takes the plan just made) and enqueues; nothing is enqueued on a refusal. `owner` is whose baselines
   * save:NAME and compare:NAME use: the Slack channel that asked, or `cli` (the default) for `zensweep submit`.
   */
  async submit(
    request: SweepRequest,
    requestedBy: string,
    sweepId = newSweepId(),
    planned?: { plan: SweepPlan; agents: AgentInfo[] },
    owner = CLI_OWNER,
  ): Promise<SubmittedSweep> {
    const { plan, agents } = planned ?? (await this.plan(request, undefined, owner));
    const flow = flowOf(request, requestedBy, sweepId, plan, owner);
    await this.submitFlow(flow);
    return { sweepId, plan, agents, flow };
  }

  /**
   * Enqueues a planned sweep: for each agent group it spans, a part job (the parent, on `report-parts.{GROUP}`) with
   * the group's chunks as its children, all in the group's hash slot; the last part to end adds the report job.
   * Enqueueing one already enqueued does nothing (each part is looked for first), so a delivery that starts its sweep
   * can run again after a restart.
   */
  async submitFlow(flow: SweepFlow): Promise<void> {
    // Before the chunks: an agent that leaves before running its own is found by the others through this set.
    const own = [...new Set(flow.chunks.flatMap((c) => (c.agent === undefined ? [] : [agentQueueName(c.group, c.agent)])))];
    if (own.length > 0) {
      const key = agentQueuesKey(this.prefix);
      await this.options.connection.multi().sadd(key, ...own).expire(key, 24 * 3600).exec();
    }
    const byGroup = partsOf(flow.chunks);
    for (const [group, chunks] of byGroup) {
      if (await this.options.connection.exists(partJobKey(flow.report.sweepId, group))) continue;
      const part: PartJob = {
        v: 1,
        sweepId: flow.report.sweepId,
        group,
        parts: byGroup.size,
        report: flow.report,
        // The report job is added by an agent: with the retention of whoever submitted the sweep.
        ...(this.options.jobsKept !== undefined ? { jobsKept: this.options.jobsKept } : {}),
      };
      // One flow per group: a flow is written in one transaction, which a Redis Cluster allows only within one slot.
      await this.flows.add({
        name: 'part',
        queueName: partQueueName(group),
        data: part,
        opts: {
          jobId: partJobId(flow.report.sweepId, group),
          // A part that fails on a Redis hiccup is tried again; bad data fails for good (UnrecoverableError).
          attempts: 3,
          backoff: { type: 'exponential', delay: 500 },
          ...retention('reports', this.options.jobsKept),
        },
        children: chunks.map((data) => ({
          name: 'chunk',
          queueName: data.agent === undefined ? sweepQueueName(data.group) : agentQueueName(data.group, data.agent),
          data,
          opts: {
            jobId: `${data.sweepId}.${data.index}`,
            attempts: this.options.attempts ?? 3,
            backoff: { type: 'exponential', delay: 500 },
            // A chunk that fails for good (out of scope, bad data) is reported, not left to block the report.
            ignoreDependencyOnFailure: true,
            ...retention('chunks', this.options.jobsKept),
          },
        })),
      });
    }
  }

  /** Whether a sweep has ended: its report job finished, or (gone from the queue) its report is in the history. */
  async finished(sweepId: string): Promise<boolean> {
    const job = await bullmq.Job.fromId(this.reports, sweepId);
    if (job) return job.finishedOn !== undefined;
    return (await this.history.get(sweepId)) !== undefined;
  }

  /** Stops a sweep: chunks not started are skipped, running ones are aborted; the report says it was cancelled. */
  async cancel(sweepId: string): Promise<void> {
    await this.options.connection.set(cancelledKey(sweepId, this.prefix), '1', 'EX', 24 * 3600);
    await this.options.connection.publish(cancelChannel(this.prefix), sweepId);
  }

  /**
   * Waits for a sweep's report, and tells its progress (summed over its chunks) to `onProgress`. Rejects with
   * SweepFailedError when the report job failed for good or its report cannot be read, and with the signal's reason
   * when `signal` aborts. No end is missed, even one published while Redis or this process was cut off: see
   * JobWatcher.
   */
  async waitForReport(
    submitted: SubmittedSweep,
    handlers: { onProgress?: (p: SweepProgressEvent) => void; signal?: AbortSignal; onResubmit?: (lostGroups: string[]) => void } = {},
  ): Promise<DistributedReport> {
    const { sweepId, plan } = submitted;
    const watcher = this.watcher();
    const progress = new Map<string, { done: number; alive: number }>();
    // Each vantage probes its addresses: the progress counts them all.
    const total = plannedProbes(plan);
    const onProgress = handlers.onProgress;
    const queues = [
      ...plan.groups.map(sweepQueueName),
      ...(plan.vantages ?? []).flatMap((v) => (v.agent === undefined ? [] : [agentQueueName(v.group, v.agent)])),
    ];
    const unfollow = onProgress
      ? queues.map((queue) =>
          watcher.follow(queue, `${sweepId}.`, (jobId, data) => {
            if (typeof data !== 'object' || data === null) return;
            const p = data as { done?: number; alive?: number };
            progress.set(jobId, { done: Number(p.done ?? 0), alive: Number(p.alive ?? 0) });
            let done = 0;
            let alive = 0;
            for (const q of progress.values()) {
              done += q.done;
              alive += q.alive;
            }
            onProgress({ done, total, alive });
          }),
        )
      : [];
    let end: JobEnd | undefined;
    const waitOptions = handlers.signal ? { signal: handlers.signal } : {};
    try {
      // The report job is added by the last part to end: first every part (one that failed for good fails the sweep).
      for (let resubmits = 0; ; resubmits += 1) {
        const gone = await this.waitForParts(sweepId, plan.groups, waitOptions);
        // A part removed long after it completed: the report job, or the kept report, says the rest. Gone with neither
        // there, the sweep was lost whole (a failover right after it was enqueued): enqueued again, when known.
        if (gone.length === 0 || !submitted.flow || resubmits >= MAX_RESUBMITS || (await this.reportExists(sweepId))) break;
        await this.submitFlow(submitted.flow);
        handlers.onResubmit?.(gone);
      }
      end = await this.waitForReportJob(sweepId, plan.groups, waitOptions);
    } catch (error) {
      // As before the watcher: an abort rejects with the signal's own reason.
      if (error instanceof JobWaitAbortedError) throw handlers.signal?.reason ?? error;
      // The report job is gone (removed a day after it completed): its report may still be kept.
      if (!(error instanceof JobGoneError)) throw error;
    } finally {
      for (const stop of unfollow) stop();
    }
    if (end?.state === 'failed') throw new SweepFailedError(`sweep ${sweepId} failed: ${end.failedReason}`);
    const report = await this.results.loadReport(sweepId);
    if (report) return report;
    throw new SweepFailedError(
      end
        ? `sweep ${sweepId} finished but its report is no longer in Redis, or unreadable`
        : `sweep ${sweepId} is no longer in Redis, nor its report`,
    );
  }

  /** Waits for each group's part to end; the groups whose part is not in Redis. Throws when one failed for good. */
  private async waitForParts(sweepId: string, groups: readonly string[], options: { signal?: AbortSignal }): Promise<string[]> {
    const watcher = this.watcher();
    const gone: string[] = [];
    await Promise.all(
      groups.map(async (group) => {
        const part = await watcher.wait(partQueueName(group), partJobId(sweepId, group), options).catch((error: unknown) => {
          if (error instanceof JobGoneError) return undefined;
          throw error;
        });
        if (!part) gone.push(group);
        else if (part.state === 'failed') throw new SweepFailedError(`sweep ${sweepId} failed on group ${group}: ${part.failedReason}`);
      }),
    );
    return gone;
  }

  /** Whether the sweep's report job, or its report, is in Redis. */
  private async reportExists(sweepId: string): Promise<boolean> {
    return (await bullmq.Job.fromId(this.reports, sweepId)) !== undefined || (await this.results.loadReport(sweepId)) !== undefined;
  }

  /**
   * Waits for the report job once every part has ended. Not there, and no report kept: the last part added it and a
   * failover lost that write (the report queue is in another slot, maybe on another master), so it is added again,
   * from the copy each part carries; adding it twice adds nothing (its id is the sweep's).
   */
  private async waitForReportJob(sweepId: string, groups: readonly string[], options: { signal?: AbortSignal }): Promise<JobEnd | undefined> {
    const watcher = this.watcher();
    try {
      return await watcher.wait(REPORT_QUEUE, sweepId, options);
    } catch (error) {
      if (!(error instanceof JobGoneError) || (await this.results.loadReport(sweepId))) throw error;
      const report = await this.reportJobOfParts(sweepId, groups);
      if (!report) throw error;
      await this.reports.add('report', report, reportJobOptions(sweepId, this.options.jobsKept));
      return watcher.wait(REPORT_QUEUE, sweepId, options);
    }
  }

  /** The report job's data as a part of the sweep carries it; undefined when no part is readable. */
  private async reportJobOfParts(sweepId: string, groups: readonly string[]): Promise<ReportJob | undefined> {
    for (const group of groups) {
      const text = await this.options.connection.hget(partJobKey(sweepId, group), 'data');
      if (text === null) continue;
      try {
        const part = partJobSchema.safeParse(JSON.parse(text));
        if (part.success) return part.data.report as ReportJob;
      } catch {
        // Not JSON: another part may do.
      }
    }
    return undefined;
  }

  /** The watcher given, or the Dispatcher's own, made on first use. */
  private watcher(): JobWatcher {
    if (this.options.watcher) return this.options.watcher;
    this.ownWatcher ??= new JobWatcher({ connection: this.options.connection, onError: this.onError });
    return this.ownWatcher;
  }

  /** Closes its producers, and its own watcher (not one it was given): waits still going reject. */
  async close(): Promise<void> {
    await Promise.all([this.flows.close(), this.reports.close(), this.ownWatcher?.close()]);
  }
}
