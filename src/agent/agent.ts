import type { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullmq, ioredis } from '../queue/load.js';
import type { Logger } from 'pino';
import { isZenSweepError } from '../core/errors.js';
import { SWEEP_LIMITS } from '../core/request.js';
import type { SweepRequest, TargetSpec } from '../core/request.js';
import { AddressSet, parseNetwork, parseTargetToken } from '../core/targets.js';
import { IcmpEchoProber } from '../engine/icmp/echo-prober.js';
import { runSweep } from '../engine/sweep.js';
import { HistoryStore } from '../queue/history.js';
import { isHostJobKind } from '../queue/host-jobs.js';
import { runHostJob } from './host-jobs.js';
import { chunkJobSchema } from '../queue/jobs.js';
import type { ChunkResult } from '../queue/jobs.js';
import { KEY_PREFIX, REPORT_QUEUE, cancelChannel, cancelledKey, sweepQueueName } from '../queue/names.js';
import { logBadRecords } from '../queue/records.js';
import { AgentRegistry } from '../queue/registry.js';
import type { AgentInfo } from '../queue/registry.js';
import { reportProcessor } from '../queue/report-worker.js';
import { ResultStore } from '../queue/results.js';
import type { AgentConfig } from './config.js';

export const VERSION = '0.1.0';
const HEARTBEAT_MS = 10_000;
const PROGRESS_EVERY_MS = 250;
/** Lock of a report job, in ms (renewed while it runs). */
export const REPORT_LOCK_MS = 10_000;
/** Reason given to the processor's signal: a cancelled sweep ends its chunk; a shutdown hands it back. */
const CANCELLED = 'cancelled';
const SHUTDOWN = 'shutdown';

function canSendIcmp(): boolean {
  try {
    new IcmpEchoProber([4]).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * `zensweep agent`: runs inside a private network, holds no Slack token, and probes only inside its own CIDRs.
 * It consumes its group's chunks, runs report jobs (any agent may put a report together), keeps a heartbeat in
 * the registry, and stops a sweep's chunks when the sweep is cancelled.
 */
export class Agent {
  private readonly connection: Redis;
  private readonly subscriber: Redis;
  private readonly registry: AgentRegistry;
  private readonly results: ResultStore;
  private chunks: Worker | undefined;
  private reports: Worker | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly active = new Map<string, string>(); // job id → sweep id
  private readonly startedAt = new Date().toISOString();
  private icmp = false;
  private stopping = false;

  constructor(
    private readonly config: AgentConfig,
    private readonly log: Logger,
  ) {
    this.connection = new ioredis.Redis(config.redisUrl, { maxRetriesPerRequest: null });
    this.subscriber = this.connection.duplicate();
    this.registry = new AgentRegistry(this.connection, KEY_PREFIX);
    this.results = new ResultStore(this.connection, KEY_PREFIX);
    for (const client of [this.connection, this.subscriber]) {
      // ioredis reconnects by itself; say so once per event, without the URL (it may hold a password).
      client.on('error', (error: Error) => this.log.warn({ event: 'redis_error', message: error.message }));
    }
  }

  async start(): Promise<void> {
    this.icmp = canSendIcmp();
    if (!this.icmp) this.log.warn({ event: 'icmp_unavailable' }, 'ICMP needs root or CAP_NET_RAW: TCP probes only');
    const { group, concurrency, lockMs } = this.config;
    // Trace and diag jobs of the group come on the same queue, under their own job names.
    this.chunks = new bullmq.Worker(sweepQueueName(group), (job, _token, signal) => this.process(job, signal), {
      connection: this.connection,
      concurrency,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      maxStalledCount: 2,
    });
    const onBadRecord = logBadRecords(this.log);
    const history = new HistoryStore(this.connection, {
      maxCount: this.config.historyCount,
      maxAgeDays: this.config.historyDays,
      onBadRecord,
    });
    this.reports = new bullmq.Worker(REPORT_QUEUE, reportProcessor({ connection: this.connection, history, onBadRecord }), {
      connection: this.connection,
      concurrency: 4,
      // A report takes well under a second: a short lock lets another process take over soon if this one dies.
      lockDuration: REPORT_LOCK_MS,
    });
    for (const worker of [this.chunks, this.reports]) {
      worker.on('failed', (job, error) =>
        this.log.warn({ event: 'job_failed', queue: worker.name, job: job?.id, reason: error.message }),
      );
      worker.on('error', (error) => this.log.warn({ event: 'worker_error', queue: worker.name, message: error.message }));
    }
    await this.subscriber.subscribe(cancelChannel(KEY_PREFIX));
    this.subscriber.on('message', (_channel: string, sweepId: string) => this.cancelSweep(sweepId));
    await this.beat();
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.log.info({ event: 'agent_started', group, agent: this.config.agentId, cidrs: this.config.cidrs, icmp: this.icmp });
  }

  /**
   * Stops taking chunks, lets running ones finish for up to `graceMs`, then hands back what is still running (it
   * fails retryably and another replica runs it), and leaves the registry.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.heartbeat);
    const closing = Promise.all([this.chunks?.close(), this.reports?.close()]);
    const timer = setTimeout(() => this.chunks?.cancelAllJobs(SHUTDOWN), graceMs);
    await closing;
    clearTimeout(timer);
    await this.registry.remove(this.config.group, this.config.agentId).catch(() => undefined);
    await this.subscriber.quit().catch(() => undefined);
    await this.connection.quit().catch(() => undefined);
    this.log.info({ event: 'agent_stopped', agent: this.config.agentId });
  }

  private async beat(): Promise<void> {
    const now = new Date().toISOString();
    const info: AgentInfo = {
      group: this.config.group,
      id: this.config.agentId,
      cidrs: this.config.cidrs,
      version: VERSION,
      icmp: this.icmp,
      load: { active: this.active.size, concurrency: this.config.concurrency },
      startedAt: this.startedAt,
      lastSeen: now,
    };
    await this.registry.heartbeat(info).catch((error: Error) => this.log.warn({ event: 'heartbeat_failed', message: error.message }));
  }

  private cancelSweep(sweepId: string): void {
    for (const [jobId, sweep] of this.active) {
      if (sweep === sweepId) this.chunks?.cancelJob(jobId, CANCELLED);
    }
  }

  private process(job: Job, signal?: AbortSignal): Promise<unknown> {
    if (!isHostJobKind(job.name)) return this.processChunk(job, signal);
    const { group, agentId, scope, cidrs } = this.config;
    return runHostJob(job, { group, agentId, scope, cidrs }, signal);
  }

  private async processChunk(job: Job, signal?: AbortSignal): Promise<ChunkResult> {
    const parsed = chunkJobSchema.safeParse(job.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new bullmq.UnrecoverableError(`bad chunk data: ${issue?.path.join('.') || 'job'} ${issue?.message ?? 'is invalid'}`);
    }
    const data = parsed.data;
    if (data.group !== this.config.group) {
      throw new bullmq.UnrecoverableError(`chunk for group ${data.group} reached an agent of group ${this.config.group}`);
    }
    const started = performance.now();
    const result = (partial: Partial<ChunkResult>): ChunkResult => ({
      index: data.index,
      group: data.group,
      agentId: this.config.agentId,
      planned: 0,
      complete: false,
      icmp: { available: this.icmp },
      durationMs: Math.round(performance.now() - started),
      attempt: job.attemptsMade + 1,
      stalled: job.stalledCounter,
      ...partial,
    });
    if (await this.connection.exists(cancelledKey(data.sweepId, KEY_PREFIX))) return result({});

    let targets: TargetSpec[];
    // The requester's scope, from the policy that let the sweep start: enforced here too, names once resolved.
    const requesterScope = data.scope && { set: new AddressSet(), text: data.scope.join(', ') };
    try {
      targets = data.targets.map((t) => parseTargetToken(t));
      for (const cidr of data.scope ?? []) {
        const network = parseNetwork(cidr);
        requesterScope?.set.add(network.family, network.start, network.end);
      }
    } catch (error) {
      throw new bullmq.UnrecoverableError(`bad chunk data: ${(error as Error).message}`);
    }
    const options = { ...data.options };
    // The agent's own rate is shared by the chunks it runs at once.
    if (this.config.rate > 0) {
      const share = Math.max(1, Math.floor(this.config.rate / this.config.concurrency));
      options.rate = options.rate > 0 ? Math.min(options.rate, share) : share;
    }
    const request: SweepRequest = { targets, options };
    this.active.set(String(job.id), data.sweepId);
    let lastProgress = 0;
    try {
      const report = await runSweep(request, {
        scope: { set: this.config.scope, text: this.config.cidrs.join(', ') },
        requesterScope,
        signal,
        maxAddresses: SWEEP_LIMITS.addresses.default,
        onProgress: (p) => {
          const now = performance.now();
          if (now - lastProgress < PROGRESS_EVERY_MS && p.done < p.total) return;
          lastProgress = now;
          void job.updateProgress({ done: p.done, total: p.total, alive: p.alive }).catch(() => undefined);
        },
      });
      if (signal?.aborted && signal.reason === SHUTDOWN) throw new Error('agent shut down: chunk handed back');
      await this.results.saveChunk(data.sweepId, data.index, { hosts: report.hosts, names: report.names });
      return result({
        planned: report.planned,
        complete: report.complete,
        icmp: report.icmp,
      });
    } catch (error) {
      // Out of scope, too large, a bad target: the same data fails the same way everywhere.
      if (isZenSweepError(error)) throw new bullmq.UnrecoverableError(error.message);
      throw error;
    } finally {
      this.active.delete(String(job.id));
    }
  }
}
