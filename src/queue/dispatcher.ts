import { randomBytes } from 'node:crypto';
import type { FlowProducer, Queue, QueueEvents } from 'bullmq';
import { bullmq } from './load.js';
import type { Redis } from 'ioredis';
import { ZenSweepError } from '../core/errors.js';
import type { SweepRequest } from '../core/request.js';
import type { DistributedReport } from '../core/report.js';
import type { ChunkJob, ReportJob } from './jobs.js';
import { KEY_PREFIX, REPORT_QUEUE, cancelChannel, cancelledKey, sweepQueueName } from './names.js';
import { CLI_OWNER, HistoryStore } from './history.js';
import { ResultStore } from './results.js';
import { planSweep } from './plan.js';
import type { OnBadRecord } from './records.js';
import type { ReachCheck, SweepPlan } from './plan.js';
import { AgentRegistry } from './registry.js';
import type { AgentInfo } from './registry.js';
import { retention } from './retention.js';

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
  /** Finished jobs kept per queue at most, lowering the figures of retention.ts (ZENSWEEP_JOBS_KEPT); default: those figures. */
  jobsKept?: number;
}

export interface SubmittedSweep {
  sweepId: string;
  plan: SweepPlan;
  agents: AgentInfo[];
}

export interface SweepProgressEvent {
  done: number;
  total: number;
  alive: number;
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
  private readonly reports: Queue;
  private readonly registry: AgentRegistry;
  private readonly history: HistoryStore;
  private readonly results: ResultStore;
  private readonly onError: (error: Error) => void;

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
    const options = request.options;
    const report: ReportJob = {
      v: 1,
      sweepId,
      targets: request.targets.map((t) => t.text),
      options,
      groups: plan.groups,
      requestedBy,
      owner,
      addresses: plan.addresses,
      createdAt: new Date().toISOString(),
    };
    await this.flows.add({
      name: 'report',
      queueName: REPORT_QUEUE,
      data: report,
      opts: {
        jobId: sweepId,
        // A report that fails on a Redis hiccup is tried again; bad data fails for good (UnrecoverableError).
        attempts: 3,
        backoff: { type: 'exponential', delay: 500 },
        ...retention('reports', this.options.jobsKept),
      },
      children: plan.chunks.map((chunk) => {
        const data: ChunkJob = { v: 1, sweepId, group: chunk.group, index: chunk.index, targets: chunk.targets, options };
        if (chunk.scope) data.scope = chunk.scope;
        return {
          name: 'chunk',
          queueName: sweepQueueName(chunk.group),
          data,
          opts: {
            jobId: `${sweepId}.${chunk.index}`,
            attempts: this.options.attempts ?? 3,
            backoff: { type: 'exponential', delay: 500 },
            // A chunk that fails for good (out of scope, bad data) is reported, not left to block the report.
            ignoreDependencyOnFailure: true,
            ...retention('chunks', this.options.jobsKept),
          },
        };
      }),
    });
    return { sweepId, plan, agents };
  }

  /** Stops a sweep: chunks not started are skipped, running ones are aborted; the report says it was cancelled. */
  async cancel(sweepId: string): Promise<void> {
    await this.options.connection.set(cancelledKey(sweepId, this.prefix), '1', 'EX', 24 * 3600);
    await this.options.connection.publish(cancelChannel(this.prefix), sweepId);
  }

  /**
   * Waits for a sweep's report. Listens for completion and progress events, and also polls the job now and
   * then: events published while Redis or this process was disconnected are not replayed.
   */
  async waitForReport(
    submitted: SubmittedSweep,
    handlers: { onProgress?: (p: SweepProgressEvent) => void; signal?: AbortSignal } = {},
  ): Promise<DistributedReport> {
    const { sweepId, plan } = submitted;
    const connection = this.options.connection;
    // QueueEvents blocks its connection, so each gets its own; BullMQ leaves a connection it was given open, so
    // they are closed here at the end.
    const owned: Redis[] = [];
    const listen = (queue: string): QueueEvents => {
      const own = connection.duplicate().on('error', () => undefined);
      owned.push(own);
      return new bullmq.QueueEvents(queue, { connection: own }).on('error', this.onError);
    };
    const reportEvents = listen(REPORT_QUEUE);
    const chunkEvents = handlers.onProgress ? plan.groups.map((group) => listen(sweepQueueName(group))) : [];
    const progress = new Map<string, { done: number; alive: number }>();
    const total = plan.addresses;
    for (const events of chunkEvents) {
      events.on('progress', ({ jobId, data }) => {
        if (!jobId.startsWith(`${sweepId}.`) || typeof data !== 'object' || data === null) return;
        const p = data as { done?: number; alive?: number };
        progress.set(jobId, { done: Number(p.done ?? 0), alive: Number(p.alive ?? 0) });
        let done = 0;
        let alive = 0;
        for (const q of progress.values()) {
          done += q.done;
          alive += q.alive;
        }
        handlers.onProgress?.({ done, total, alive });
      });
    }
    let poll: NodeJS.Timeout | undefined;
    try {
      return await new Promise<DistributedReport>((resolve, reject) => {
        let settled = false;
        let checking = false;
        let again = false;
        const settle = (done: () => void): void => {
          if (settled) return;
          settled = true;
          done();
        };
        const check = async (): Promise<void> => {
          if (settled) return;
          if (checking) {
            // An event came during a look that may have been too early: look once more after it.
            again = true;
            return;
          }
          checking = true;
          try {
            const job = await bullmq.Job.fromId(this.reports, sweepId);
            if (!job) {
              // Finished and already removed by its retention (a waiter that was away longer than the queue keeps
              // finished jobs): the report, when there is one, is the answer.
              const report = await this.results.loadReport(sweepId);
              if (report) settle(() => resolve(report));
              return;
            }
            if (!job.finishedOn) return;
            if (job.failedReason) {
              settle(() => reject(new SweepFailedError(`sweep ${sweepId} failed: ${job.failedReason}`)));
              return;
            }
            const report = await this.results.loadReport(sweepId);
            settle(() =>
              report
                ? resolve(report)
                : reject(new SweepFailedError(`sweep ${sweepId} finished but its report is no longer in Redis, or unreadable`)),
            );
          } catch {
            // Redis is away for a moment: the next event or poll looks again.
          } finally {
            checking = false;
            if (again) {
              again = false;
              void check();
            }
          }
        };
        const onEvent = ({ jobId }: { jobId: string }): void => {
          if (jobId === sweepId) void check();
        };
        reportEvents.on('completed', onEvent);
        reportEvents.on('failed', onEvent);
        poll = setInterval(() => void check(), 1000);
        handlers.signal?.addEventListener('abort', () =>
          settle(() => reject(handlers.signal?.reason ?? new Error('aborted'))),
        );
        // A report that completed before we listened is found by this first look.
        void reportEvents.waitUntilReady().then(() => check(), () => undefined);
      });
    } finally {
      clearInterval(poll);
      await Promise.all([reportEvents.close(), ...chunkEvents.map((e) => e.close())]);
      for (const own of owned) own.disconnect();
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.flows.close(), this.reports.close()]);
  }
}
