import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullmq } from '../queue/load.js';
import type { Logger } from 'pino';
import { HEARTBEAT_MS } from '../core/agent-health.js';
import { isZenSweepError } from '../core/errors.js';
import { ICMP_MODE_WORDS, ICMP_OFF_SETTING_WARNING, icmpModeOf, icmpOffReason } from '../core/report.js';
import type { IcmpStatus } from '../core/report.js';
import { SWEEP_LIMITS } from '../core/request.js';
import type { SweepOptions, SweepRequest, TargetSpec } from '../core/request.js';
import { Scope } from '../core/scope.js';
import { parseTargetToken } from '../core/targets.js';
import { DEFAULT_OPTIONS } from '../core/request.js';
import { TokenBucket } from '../engine/budget.js';
import { ProbeEngine, inFlightBudget, totalWaitMs } from '../engine/engine.js';
import { DEFAULT_MAX_IN_FLIGHT } from '../engine/scheduler.js';
import { DEFAULT_RESOLVE_TIMEOUT_MS, runSweep } from '../engine/sweep.js';
import { HistoryStore } from '../queue/history.js';
import { isHostJobKind } from '../queue/host-jobs.js';
import { runHostJob } from './host-jobs.js';
import { RedisConnections, isConnectionError } from '../queue/connections.js';
import { chunkJobSchema } from '../queue/jobs.js';
import type { ChunkResult } from '../queue/jobs.js';
import { KEY_PREFIX, agentQueueName, cancelChannel, cancelledKey, sweepQueueName } from '../queue/names.js';
import { logBadRecords } from '../queue/records.js';
import { AgentMetrics } from '../metrics/agent-metrics.js';
import { MetricsServer, redisReadiness } from '../metrics/server.js';
import { AgentRegistry } from '../queue/registry.js';
import type { AgentInfo } from '../queue/registry.js';
import { ReportAssembly } from '../queue/report-worker.js';
import { moveOldKeys } from '../queue/key-layout.js';
import { ResultStore } from '../queue/results.js';
import { retention } from '../queue/retention.js';
import { DEFAULT_CHUNK_SIZE } from '../queue/plan.js';
import { Shutdown } from '../shutdown.js';
import { sweepWithinBound } from './chunk-bound.js';
import { OrphanedChunks } from './orphaned-chunks.js';
import { DeafWatch } from './deaf-watch.js';
import type { DeafChange, DeafQueue } from './deaf-watch.js';
import type { AgentConfig } from './config.js';

export const VERSION = '0.1.0';
const PROGRESS_EVERY_MS = 250;
/** Lock of a report job, in ms (renewed while it runs). */
export const REPORT_LOCK_MS = 10_000;
/** Reason given to the processor's signal: a cancelled sweep ends its chunk; a shutdown hands it back. */
const CANCELLED = 'cancelled';
const SHUTDOWN = 'shutdown';
/** How long running chunks may take to finish after SIGTERM, in ms, before they are handed back. */
export const STOP_GRACE_MS = 10_000;
/**
 * After the grace, how long the agent gives itself to hand back what still runs, leave the registry and close its
 * connections, in ms: so it is gone at most 13 s after SIGTERM, whether Redis answers or not.
 */
const HAND_BACK_MS = 2500;
/** How often the agent looks for chunks whose lock is gone, at most, in ms. */
const STALL_CHECK_MS = 5000;
/** Most chunks one agent holds at once, whatever its budget. */
const MAX_CHUNKS_AT_ONCE = 256;

/**
 * Chunks to hold at once for a sweep with these options: enough to keep the rate busy while every address waits out
 * its timeout and retries (a mostly empty VPC), so the rate, not the number of chunks, is the limit (about 120 at
 * 10,000 packets/s and the defaults, 6 at 4,000/s with timeout:100), and one more ready to start; no more, so the
 * other replicas of the group get their share. ZENSWEEP_CONCURRENCY sets it instead.
 */
export function chunksAtOnce(config: Pick<AgentConfig, 'concurrency' | 'rate'>, options: SweepOptions = DEFAULT_OPTIONS): number {
  if (config.concurrency !== undefined) return config.concurrency;
  const rate = config.rate > 0 && options.rate > 0 ? Math.min(config.rate, options.rate) : config.rate || options.rate;
  const inFlight = rate > 0 ? (rate * totalWaitMs(options) * 1.25) / 1000 : DEFAULT_MAX_IN_FLIGHT;
  return Math.min(MAX_CHUNKS_AT_ONCE, Math.max(2, Math.ceil(inFlight / DEFAULT_CHUNK_SIZE) + 1));
}

/**
 * How long a chunk may wait for the engine behind the chunks held before it, in ms: all of them sent at the rate
 * (each address once per attempt), or, at an unlimited rate, one full wait per budget's worth of them.
 */
function queueAllowanceMs(config: Pick<AgentConfig, 'rate'>, chunks: number, options: SweepOptions, maxInFlight: number): number {
  const addresses = chunks * DEFAULT_CHUNK_SIZE;
  if (config.rate > 0) return Math.ceil((addresses * (options.retries + 1) * 1000) / config.rate);
  return Math.ceil(addresses / maxInFlight) * totalWaitMs(options);
}

/** `the connection waiting for work on sweep.lo has not answered for 31 s` (the longest silent, with the others named). */
function deafWords(deaf: readonly DeafQueue[]): string {
  const worst = Math.max(...deaf.map((d) => d.silentMs));
  const queues = deaf.map((d) => d.queue).join(', ');
  const one = deaf.length === 1;
  return `the connection${one ? '' : 's'} waiting for work on ${queues} ${one ? 'has' : 'have'} not answered for ${Math.round(worst / 1000)} s`;
}

/** The heartbeat's word on deaf connections: since when the first went silent, and which. */
function deafFacts(deaf: readonly DeafQueue[], now: number): Pick<AgentInfo, 'deaf'> {
  if (deaf.length === 0) return {};
  const worst = Math.max(...deaf.map((d) => d.silentMs));
  return { deaf: { since: new Date(now - worst).toISOString(), queues: deaf.map((d) => d.queue) } };
}

/**
 * `zensweep agent`: runs inside a private network, holds no Slack token, and probes only inside its own CIDRs.
 * It consumes its group's chunks and its own (`from:all`: the copy every agent of the group runs itself), runs
 * report jobs (any agent may put a report together), keeps a heartbeat in the registry, ends the chunks left on the
 * own queue of an agent that left, and stops a sweep's chunks when the sweep is cancelled.
 */
export class Agent {
  private readonly connections: RedisConnections;
  private readonly connection: Redis;
  private readonly subscriber: Redis;
  private readonly registry: AgentRegistry;
  private readonly results: ResultStore;
  private chunks: Worker | undefined;
  /** Its own queue: the chunks it must run itself (`from:all`: every agent of the group sweeps the same targets). */
  private ownChunks: Worker | undefined;
  /** Puts reports together: its group's parts, and any sweep's report. */
  private assembly: ReportAssembly | undefined;
  /** Ends the chunks waiting on the own queue of an agent that left. */
  private readonly orphans: OrphanedChunks;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Chunks running here: job id → its sweep, and the worker that holds it. */
  private readonly active = new Map<string, { sweepId: string; worker: Worker }>();
  /** Every job (chunk or report) being processed: a stop waits for them first. */
  private readonly running = new Set<Promise<unknown>>();
  private beating = false;
  private readonly startedAt = new Date().toISOString();
  private icmp: IcmpStatus = { available: false, mode: 'off' };
  private stopping = false;
  private engine: ProbeEngine | undefined;
  private concurrency = 1;
  /** The pace of each sweep with chunks running here (its `rate`, on this agent), and how many chunks share it. */
  private readonly sweepPace = new Map<string, { bucket: TokenBucket; chunks: number }>();
  private readonly metrics: AgentMetrics;
  private metricsServer: MetricsServer | undefined;
  /** The group's queue as the metrics read it (its depth). */
  private readonly chunkQueue: Queue;
  /** When the last heartbeat was written (performance.now()). */
  private lastBeat: number | undefined;
  private lastError: AgentInfo['lastError'];
  /** Whether each worker's blocking connection still answers (a half-open one takes no work and says nothing). */
  private readonly deafWatch: DeafWatch;

  /**
   * @param connections every Redis connection of the process (the command makes them, and stops the agent when Redis
   *   refuses it); default: its own.
   */
  constructor(
    private readonly config: AgentConfig,
    private readonly log: Logger,
    connections?: RedisConnections,
  ) {
    // ioredis reconnects by itself; an outage is logged once by RedisConnections, not by every connection.
    this.connections = connections ?? new RedisConnections(config.redis, log);
    this.connection = this.connections.open();
    this.deafWatch = new DeafWatch((change) => this.deafChanged(change), { outage: () => this.connections.down });
    this.subscriber = this.connection.duplicate();
    this.registry = new AgentRegistry(this.connection, KEY_PREFIX, logBadRecords(log));
    this.results = new ResultStore(this.connection, KEY_PREFIX, logBadRecords(log));
    this.orphans = new OrphanedChunks({ connection: this.connection, registry: this.registry, self: `${config.group}/${config.agentId}`, log });
    this.connection.on('error', (error: Error) => this.noteError(`Redis: ${error.message}`));
    // Only read (its depth): its defaults bound whatever is ever added through it.
    this.chunkQueue = new bullmq.Queue(sweepQueueName(config.group), { connection: this.connection, defaultJobOptions: retention('chunks') });
    // Without a listener BullMQ prints each of its connection's errors as a raw stack (several a second while Redis
    // is away): the outage is RedisConnections' to log, once.
    this.chunkQueue.on('error', this.connections.errorLogger('queue_error', { queue: this.chunkQueue.name }));
    this.metrics = new AgentMetrics({
      connections: () => [this.connection, this.subscriber],
      group: config.group,
      queue: () => this.chunkQueue,
      heartbeatAgeMs: () => (this.lastBeat === undefined ? undefined : performance.now() - this.lastBeat),
      rateLimit: config.rate,
    });
  }

  /**
   * Said once when workers' blocking connections go deaf (one line for those found in one round) and once when they
   * answer again; the heartbeat says it at once.
   */
  private deafChanged(change: DeafChange): void {
    const queues = change.queues.map((q) => q.queue);
    const seconds = Math.round(Math.max(...change.queues.map((q) => q.silentMs)) / 1000);
    if (change.deaf) {
      const message = `${deafWords(change.queues)}: this agent takes no work from ${queues.length === 1 ? 'it until it answers' : 'them until they answer'}`;
      this.log.warn({ event: 'queue_connection_deaf', queues, silentS: seconds }, message);
      this.noteError(message);
    } else {
      this.log.info({ event: 'queue_connection_back', queues, silentS: seconds }, `the connection${queues.length === 1 ? '' : 's'} waiting for work on ${queues.join(', ')} ${queues.length === 1 ? 'answers' : 'answer'} again`);
    }
    if (this.heartbeat) void this.beat();
  }

  /** Remembers the last thing that went wrong, for the heartbeat (one line, no secret). */
  private noteError(message: string): void {
    this.lastError = { at: new Date().toISOString(), message: message.split('\n')[0]?.slice(0, 200) ?? '' };
  }

  /**
   * Starts taking chunks and reports, and resolves once the agent is subscribed and listed in the registry: while
   * Redis is away that waits for it, and `stop()` may be called meanwhile.
   */
  async start(): Promise<void> {
    // One engine for every chunk: one ICMP socket per family, one rate (ZENSWEEP_RATE), one in-flight budget sized
    // for addresses that wait out the default timeout and retry.
    const families = this.config.scope.families();
    const maxInFlight = inFlightBudget(this.config.rate, totalWaitMs(DEFAULT_OPTIONS));
    // Two chunks to begin with: the first chunk's options say how many keep the rate busy (holdChunksFor).
    this.concurrency = this.config.concurrency ?? 2;
    const engine = new ProbeEngine({ families, rate: this.config.rate, maxInFlight, icmp: this.config.icmp });
    this.engine = engine;
    this.icmp = engine.icmp;
    this.metrics.icmpMode(icmpModeOf(engine.icmp));
    // Said once, at start: how ICMP goes out; off by the setting, as a choice; and when it cannot, why and the fix.
    if (engine.icmp.available) {
      this.log.info({ event: 'icmp_mode', mode: icmpModeOf(engine.icmp) }, ICMP_MODE_WORDS[icmpModeOf(engine.icmp)]);
    } else if (icmpOffReason(engine.icmp) === 'setting') {
      this.log.info({ event: 'icmp_mode', mode: 'off', reason: 'setting' }, ICMP_OFF_SETTING_WARNING);
    } else {
      this.log.warn({ event: 'icmp_unavailable', mode: 'off', reason: 'unavailable' }, engine.icmp.warning ?? 'ICMP not sent: TCP probes only');
    }
    const { group, lockMs } = this.config;
    const concurrency = this.concurrency;
    // First: /healthz answers, and /readyz says why not, even while Redis is away.
    if (this.config.metricsPort !== undefined) {
      this.metricsServer = await MetricsServer.start({
        port: this.config.metricsPort,
        host: this.config.metricsHost,
        registry: this.metrics.registry,
        checks: [
          redisReadiness(this.connection),
          {
            name: 'queue',
            check: async () => {
              const deaf = this.deafWatch.deaf();
              if (deaf.length > 0) throw new Error(deafWords(deaf));
            },
          },
        ],
        log: this.log,
      });
    }
    // Trace and diag jobs of the group come on the same queue, under their own job names.
    const chunkWorker = (queue: string): Worker => {
      const worker: Worker = new bullmq.Worker(queue, (job, _token, signal) => this.track(this.process(job, worker, signal)), {
        connection: this.connection,
        concurrency,
        lockDuration: lockMs,
        // A chunk whose lock is gone (its agent died, or a failover lost it) runs again within two checks: checked
        // every 5 s, not every lock period, which held a sweep half a minute longer after a failover. A live chunk's
        // lock is renewed every half period, so it is never taken for stalled.
        stalledInterval: Math.min(lockMs, STALL_CHECK_MS),
        maxStalledCount: 2,
      });
      return worker;
    };
    this.chunks = chunkWorker(sweepQueueName(group));
    this.ownChunks = chunkWorker(agentQueueName(group, this.config.agentId));
    const onBadRecord = logBadRecords(this.log);
    const history = new HistoryStore(this.connection, {
      maxCount: this.config.historyCount,
      maxAgeDays: this.config.historyDays,
      onBadRecord,
    });
    // Its group's report parts, and any sweep's report: any agent may put one together.
    this.assembly = new ReportAssembly({
      connection: this.connection,
      workerConnection: this.connection,
      groups: [group],
      history,
      onBadRecord,
      track: (processing) => this.track(processing),
      // A part or a report takes well under a second: a short lock lets another process take over soon if this one dies.
      workerOptions: { lockDuration: REPORT_LOCK_MS },
      onError: () => undefined,
    });
    const assembling = this.assembly.workers;
    for (const worker of [this.chunks, this.ownChunks, ...assembling]) {
      this.deafWatch.watch(worker);
      const chunks = !assembling.includes(worker);
      worker.on('failed', (job, error) => {
        this.log.warn({ event: 'job_failed', queue: worker.name, job: job?.id, reason: error.message });
        // Not its reason: that names a requester's targets and scope, and the heartbeat is shown to every group's users.
        this.noteError(`a ${chunks ? 'chunk or trace' : 'report'} failed (its reason is in this agent's log)`);
        (chunks ? this.metrics.chunksFailed : this.metrics.sweepsFailed).inc();
      });
      worker.on('error', this.connections.errorLogger('worker_error', { queue: worker.name }));
      worker.on('error', (error) => {
        if (!isConnectionError(error)) this.noteError(`worker: ${error.message}`);
      });
    }
    this.assembly.reports.on('completed', (job) => {
      const sweepId = (job.returnvalue as { sweepId?: unknown } | undefined)?.sweepId;
      if (typeof sweepId !== 'string') return;
      void this.connection.exists(cancelledKey(sweepId, KEY_PREFIX)).then(
        (cancelled) => (cancelled ? this.metrics.sweepsCancelled : this.metrics.sweepsFinished).inc(),
        () => this.metrics.sweepsFinished.inc(),
      );
    });
    // History and baselines an older version wrote under names without a hash tag: under their names now.
    const moved = await moveOldKeys(this.connection).catch((error: Error) => {
      this.log.warn({ event: 'redis_upgrade_failed', message: error.message });
      return 0;
    });
    if (moved > 0) this.log.info({ event: 'redis_upgraded', keysRenamed: moved });
    this.subscriber.on('message', (_channel: string, sweepId: string) => this.cancelSweep(sweepId));
    await this.subscriber.subscribe(cancelChannel(KEY_PREFIX));
    if (this.stopping) return;
    await this.beat();
    if (this.stopping) return;
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.deafWatch.start();
    this.orphans.start();
    this.log.info({
      event: 'agent_started',
      group,
      agent: this.config.agentId,
      cidrs: this.config.cidrs,
      icmp: icmpModeOf(this.icmp),
      rate: this.config.rate,
      inFlight: engine.budget.limits.maxInFlight,
      onLink: engine.budget.limits.maxOnLink,
      chunksAtOnce: this.config.concurrency ?? 'per sweep',
    });
  }

  /**
   * Stops taking chunks, lets running ones finish for up to `graceMs`, then hands back what is still running (it
   * fails retryably and another replica runs it), leaves the registry and closes its connections, all within
   * `graceMs` + 2.5 s. While Redis is away nothing can be handed back or written: what ran is found stalled later and
   * runs elsewhere. Safe to call during `start()`.
   */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.heartbeat);
    this.deafWatch.stop();
    const shutdown = new Shutdown();
    await shutdown.step('metrics', 1000, this.metricsServer?.close());
    // Resolves once the jobs have ended and BullMQ's connections are closed: never while Redis is away (bullmq#4656).
    const closed = Promise.all([this.chunks?.close(), this.ownChunks?.close(), this.assembly?.close(), this.orphans.stop()]);
    if (!(await shutdown.step('chunks', graceMs, Promise.all(this.running)))) {
      this.chunks?.cancelAllJobs(SHUTDOWN);
      this.ownChunks?.cancelAllJobs(SHUTDOWN);
    }
    const deadline = performance.now() + HAND_BACK_MS;
    const left = (): number => (this.connections.down ? 0 : deadline - performance.now());
    await shutdown.step('hand back', left(), closed);
    this.engine?.close();
    await shutdown.step('registry', left(), this.registry.remove(this.config.group, this.config.agentId));
    await shutdown.step('queue', left(), this.chunkQueue.close());
    await this.connections.close(left());
    this.log.info({ event: 'agent_stopped', agent: this.config.agentId, unfinished: shutdown.unfinished });
  }

  /** Keeps a job's processing in `running` while it lasts. */
  private track<T>(processing: Promise<T>): Promise<T> {
    this.running.add(processing);
    const forget = (): void => void this.running.delete(processing);
    processing.then(forget, forget);
    return processing;
  }

  private async beat(): Promise<void> {
    // While Redis is away a heartbeat waits for it: one waiting is enough.
    if (this.beating) return;
    this.beating = true;
    const now = new Date().toISOString();
    const info: AgentInfo = {
      group: this.config.group,
      id: this.config.agentId,
      cidrs: this.config.cidrs,
      version: VERSION,
      icmp: this.icmp.available,
      icmpMode: icmpModeOf(this.icmp),
      ...(!this.icmp.available && this.icmp.reason ? { icmpReason: this.icmp.reason } : {}),
      load: { active: this.active.size, concurrency: this.concurrency },
      startedAt: this.startedAt,
      lastSeen: now,
      inFlight: this.metrics.inFlight,
      sendRate: Math.round(this.metrics.sampleRate()),
      rateLimit: this.config.rate,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...deafFacts(this.deafWatch.deaf(), Date.now()),
    };
    await this.registry
      .heartbeat(info)
      .then(() => (this.lastBeat = performance.now()))
      .catch((error: Error) => this.log.warn({ event: 'heartbeat_failed', message: error.message }))
      .finally(() => (this.beating = false));
  }

  private cancelSweep(sweepId: string): void {
    for (const [jobId, running] of this.active) {
      if (running.sweepId === sweepId) running.worker.cancelJob(jobId, CANCELLED);
    }
  }

  private process(job: Job, worker: Worker, signal?: AbortSignal): Promise<unknown> {
    if (!isHostJobKind(job.name)) return this.processChunk(job, worker, signal);
    const { group, agentId, scope } = this.config;
    return runHostJob(job, { group, agentId, scope }, signal);
  }

  private async processChunk(job: Job, worker: Worker, signal?: AbortSignal): Promise<ChunkResult> {
    const parsed = chunkJobSchema.safeParse(job.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new bullmq.UnrecoverableError(`bad chunk data: ${issue?.path.join('.') || 'job'} ${issue?.message ?? 'is invalid'}`);
    }
    const data = parsed.data;
    if (data.group !== this.config.group) {
      throw new bullmq.UnrecoverableError(`chunk for group ${data.group} reached an agent of group ${this.config.group}`);
    }
    // A chunk of a from:all sweep is this agent's view: run by any other, it would say what another agent saw.
    if (data.agent !== undefined && data.agent !== this.config.agentId) {
      throw new bullmq.UnrecoverableError(`chunk for agent ${data.agent} reached agent ${this.config.agentId}`);
    }
    this.holdChunksFor(data.options);
    const started = performance.now();
    if (job.processedOn !== undefined) this.metrics.chunkWait.observe(Math.max(0, job.processedOn - job.timestamp) / 1000);
    const result = (partial: Partial<ChunkResult>): ChunkResult => ({
      index: data.index,
      group: data.group,
      agentId: this.config.agentId,
      planned: 0,
      complete: false,
      icmp: this.icmp,
      durationMs: Math.round(performance.now() - started),
      attempt: job.attemptsMade + 1,
      stalled: job.stalledCounter,
      ...partial,
    });
    if (await this.connection.exists(cancelledKey(data.sweepId, KEY_PREFIX))) {
      this.metrics.chunksCancelled.inc();
      return result({});
    }

    let targets: TargetSpec[];
    // The requester's scope, from the policy that let the sweep start: enforced here too, names once resolved.
    let requesterScope: Scope | undefined;
    try {
      targets = data.targets.map((t) => parseTargetToken(t));
      requesterScope = data.scope && Scope.of(data.scope);
    } catch (error) {
      throw new bullmq.UnrecoverableError(`bad chunk data: ${(error as Error).message}`);
    }
    const request: SweepRequest = { targets, options: data.options };
    const engine = this.engine;
    if (!engine) throw new Error('agent not started');
    this.active.set(String(job.id), { sweepId: data.sweepId, worker });
    const pace = this.paceOf(data.sweepId, data.options.rate);
    this.metrics.chunksStarted.inc();
    let lastProgress = 0;
    try {
      // A chunk whose sweep never ends would hold its lock (and the report) forever: past its bound it is given up.
      const { report, plan, gaveUp } = await sweepWithinBound(
        (bounded, onPlan) =>
          runSweep(request, {
            scope: this.config.scope,
            requesterScope,
            engine,
            bucket: pace.bucket,
            signal: bounded,
            onPlan,
            maxAddresses: SWEEP_LIMITS.addresses.default,
            meter: this.metrics,
            onProgress: (p) => {
              const now = performance.now();
              if (now - lastProgress < PROGRESS_EVERY_MS && p.done < p.total) return;
              lastProgress = now;
              void job.updateProgress({ done: p.done, total: p.total, alive: p.alive }).catch(() => undefined);
            },
          }),
        { signal, planningMs: DEFAULT_RESOLVE_TIMEOUT_MS },
      );
      if (signal?.aborted && signal.reason === SHUTDOWN) throw new Error('agent shut down: chunk handed back');
      await this.results.saveChunk(data.sweepId, data, { hosts: report?.hosts ?? [], names: report?.names ?? [] });
      this.metrics.countResults(report?.hosts ?? []);
      this.metrics.chunkRun.observe((performance.now() - started) / 1000);
      (signal?.aborted ? this.metrics.chunksCancelled : this.metrics.chunksFinished).inc();
      const overTime = gaveUp ?? (report?.stopped?.code === 'over_time' ? report.stopped.reason : undefined);
      if (overTime) this.log.warn({ event: 'chunk_over_time', sweep: data.sweepId, chunk: data.index, reason: overTime });
      return result({
        planned: report?.planned ?? plan?.addresses ?? 0,
        complete: report?.complete ?? false,
        ...(report ? { icmp: report.icmp } : {}),
        ...(overTime ? { reason: overTime } : {}),
      });
    } catch (error) {
      // Out of scope, too large, a bad target: the same data fails the same way everywhere.
      if (isZenSweepError(error)) throw new bullmq.UnrecoverableError(error.message);
      throw error;
    } finally {
      this.active.delete(String(job.id));
      pace.chunks -= 1;
      if (pace.chunks === 0) this.sweepPace.delete(data.sweepId);
    }
  }

  /**
   * Takes as many chunks at once as keep the rate busy for sweeps like this one (chunksAtOnce): BullMQ fetches more
   * as soon as it looks again, which it does right after this job started. A chunk's time bound allows for those
   * held before it.
   */
  private holdChunksFor(options: SweepOptions): void {
    const engine = this.engine;
    if (!engine || !this.chunks) return;
    this.concurrency = chunksAtOnce(this.config, options);
    this.chunks.concurrency = this.concurrency;
    if (this.ownChunks) this.ownChunks.concurrency = this.concurrency;
    engine.budget.queueMs = queueAllowanceMs(this.config, this.concurrency, options, engine.budget.limits.maxInFlight);
  }

  /**
   * The chunks of one sweep running here share its rate (`rate:`, per agent: N agents sweep N times as fast); the
   * engine's own rate (ZENSWEEP_RATE) caps them all together.
   */
  private paceOf(sweepId: string, rate: number): { bucket: TokenBucket; chunks: number } {
    let pace = this.sweepPace.get(sweepId);
    if (!pace) {
      pace = { bucket: new TokenBucket(rate), chunks: 0 };
      this.sweepPace.set(sweepId, pace);
    }
    pace.chunks += 1;
    return pace;
  }
}
