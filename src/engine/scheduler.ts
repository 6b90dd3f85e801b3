import { classifyHost } from '../core/classify.js';
import { formatCount, formatDuration } from '../core/format.js';
import type { HostResult, PortResult, SweepStop } from '../core/report.js';
import type { SweepOptions } from '../core/request.js';
import type { Reporter } from '../core/states.js';
import type { EchoStats } from '../core/stats.js';
import { lossPercent, rttStats } from '../core/stats.js';
import type { LinkLog } from './link-watch.js';
import type { ProbeMeter } from './meter.js';
import type { EchoProber, TcpAttempt, TcpOutcome, TcpProber } from './probers.js';
import { DeadlineQueue, Fifo } from './queue.js';
import type { Expiring } from './queue.js';
import { attemptTimeoutMs, sweepTimeBoundMs } from './time-bound.js';
import { TokenBucket } from './budget.js';
import type { BudgetWaiter, SendBudget } from './budget.js';

export interface SweepProgress {
  /** Hosts finished. */
  done: number;
  /** Hosts planned. */
  total: number;
  /** Hosts found alive (by echo or TCP) so far. */
  alive: number;
}

export interface SchedulerLimits {
  /** Probes (echoes and connects) outstanding at once, default 4096. Also caps the hosts in progress at once. */
  maxInFlight?: number;
  signal?: AbortSignal;
  /** Called each time a host is finished. */
  onProgress?: (progress: SweepProgress) => void;
  /** Host names that led to an address, reported with it. */
  names?: ReadonlyMap<string, string[]>;
  /** Told of every probe sent and settled (metrics). */
  meter?: ProbeMeter;
  /**
   * The engine's budget, shared with the other schedulers of the engine (ProbeEngine): every probe also needs room
   * in it (its rate, its in-flight count), and every on-link target room in its on-link allowance.
   */
  budget?: SendBudget;
  /** True for an on-link target (ProbeEngine, from the kernel's routes); absent when none is. */
  onLink?: (address: string) => boolean;
  /**
   * What the kernel's neighbour table says of the on-link targets (ProbeEngine): told of each one's first probe, read
   * once more when the sweep ends, and then asked for each on-link host's `link`.
   */
  links?: LinkLog;
  /** The pace of this sweep (`options.rate`), when shared with other schedulers (the chunks of one sweep). */
  bucket?: TokenBucket;
  /** Its place in the budget's line (ProbeEngine numbers its schedulers in order): lower is served first. */
  priority?: number;
  /**
   * Wall time in milliseconds past which the sweep stops and reports what it has (`complete: false`); default
   * from its own arithmetic (sweepTimeBoundMs). A safeguard: a sweep whose every probe ends never reaches it.
   */
  timeBoundMs?: number;
}

export interface SchedulerResult {
  /** In iteration order. */
  hosts: HostResult[];
  complete: boolean;
  /** Why it stopped early, when it did. */
  stopped?: SweepStop;
}

export interface ProbeKit {
  /** Absent when ICMP cannot be used (no root or CAP_NET_RAW): the TCP probes run alone. */
  echo?: EchoProber;
  tcp: TcpProber;
}

export const DEFAULT_MAX_IN_FLIGHT = 4096;
/** Times a probe is put back when the sweeper itself is short of ports or descriptors, before it gives up. */
const RESOURCE_RETRIES = 20;
const RESOURCE_RETRY_DELAY_MS = 20;
const NO_PORTS: PortResult[] = [];
/** Probes sent in one go before the event loop gets a turn to read replies. */
const SEND_BATCH = 128;
/** A TCP attempt the prober has not ended this long after its timeout is ended here, as a timeout. */
const TCP_DEADLINE_GRACE_MS = 500;
/**
 * Extra echoes for an on-link host whose echo went unanswered while the kernel's neighbour table was full: the kernel
 * may have evicted the neighbour entry the echo waited on, and dropped the echo with it, without a word. The loss is
 * the table's, not the host's, so it does not use up the host's `retries`.
 */
const FULL_TABLE_RETRIES = 2;

/**
 * One address being probed. It also stands for its own next echo in the queues, so the echo path (the hot one:
 * a /16 sweep sends 65,536 of them) allocates no job object.
 */
interface ActiveHost {
  index: number;
  ip: string;
  family: 4 | 6;
  /** Echoes still to send, the one queued included. */
  echoesLeft: number;
  /** Attempt number of the echo queued next (> 0 for a retry). */
  echoAttempt: number;
  echoSent: number;
  echoReceived: number;
  rttSum: number;
  rttSumSquares: number;
  rttMin: number;
  rttMax: number;
  echoError: Reporter | undefined;
  ports: PortResult[];
  /** Probes of this host queued, delayed or in flight. */
  outstanding: number;
  /** When its next echo is due (count > 1). */
  dueAt: number;
  /** Holds room in the engine's on-link allowance. */
  onLink: boolean;
  /** When its first probe went (performance.now()), kept for on-link hosts only (their allowance); 0 before. */
  firstSentAt: number;
  /** When its last echo went (performance.now()). */
  echoSentAt: number;
  /** Echoes sent again because the neighbour table was full while one was waiting (FULL_TABLE_RETRIES). */
  fullTableRetries: number;
}

/** One attempt of one TCP probe: a retry is a new job. */
interface TcpJob extends Expiring {
  host: ActiveHost;
  port: PortResult;
  attempt: number;
  resourceRetries: number;
  /** Its outcome is in (from the prober, or from its deadline here): whatever comes after is ignored. */
  settled: boolean;
  /** The attempt this job retries (TcpProber.connect's `after`). */
  after: TcpAttempt | undefined;
  /** This job's attempt, once started. */
  started: TcpAttempt | undefined;
}

function tcpJob(host: ActiveHost, port: PortResult, attempt: number, after?: TcpAttempt, resourceRetries = 0): TcpJob {
  return { host, port, attempt, resourceRetries, settled: false, deadline: 0, after, started: undefined };
}

type Work = ActiveHost | TcpJob;

const isTcpJob = (work: Work): work is TcpJob => (work as TcpJob).port !== undefined;

/**
 * Runs every probe of a sweep: admits addresses lazily from the iterator (memory stays flat in the number of
 * addresses), keeps at most `maxInFlight` probes outstanding, paces sends to `rate` packets per second, spaces
 * a host's echoes by `intervalMs`, retries unanswered probes with a growing timeout, and finishes each host as soon
 * as its last probe is in. Resolves with the hosts in iteration order; `complete` is false when aborted, or when
 * the sweep ran past its time bound (then the hosts in progress are reported too, marked unfinished: all of them
 * past the bound, those with a probe sent when aborted).
 */
export class ProbeScheduler implements BudgetWaiter {
  private readonly maxInFlight: number;
  private readonly results: (HostResult | undefined)[] = [];
  private readonly ready = new Fifo<Work>();
  private readonly delayed = new Fifo<ActiveHost>();
  /** Hosts admitted and not finished. */
  private readonly active = new Set<ActiveHost>();
  /** Ports whose probe has not ended (queued, in flight, or waiting to be retried). */
  private readonly pendingPorts = new Set<PortResult>();
  private readonly tcpDeadlines: DeadlineQueue<TcpJob>;
  /** Milliseconds past which the sweep stops (SchedulerLimits.timeBoundMs). */
  readonly timeBoundMs: number;
  /** When the time bound started counting (performance.now() ms). */
  private boundFrom = 0;
  private boundTimer: NodeJS.Timeout | undefined;
  private delayTimer: NodeJS.Timeout | undefined;
  private paceTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private activeHosts = 0;
  private admitted = 0;
  private done = 0;
  private alive = 0;
  private exhausted = false;
  private pumping = false;
  private yielded = false;
  private finished = false;
  private readonly bucket: TokenBucket;
  private readonly budget: SendBudget | undefined;
  /** An address taken from the iterator that waits for on-link room. */
  private heldAddress: string | undefined;
  /** Hosts of this scheduler holding on-link room. */
  private readonly onLinkHosts = new Set<ActiveHost>();
  /** On-link hosts finished, whose `link` is decided once the sweep ends (SchedulerLimits.links). */
  private readonly onLinkResults: HostResult[] = [];
  private resolve!: (value: SchedulerResult) => void;
  private readonly onEchoDone = (host: ActiveHost, rttMs: number, reporter: Reporter | undefined): void =>
    this.echoDone(host, rttMs, reporter);

  constructor(
    private readonly addresses: Iterator<string>,
    private readonly total: number,
    private readonly options: SweepOptions,
    private readonly kit: ProbeKit,
    private readonly limits: SchedulerLimits = {},
  ) {
    this.maxInFlight = Math.max(1, limits.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    this.bucket = limits.bucket ?? new TokenBucket(options.rate);
    this.budget = limits.budget;
    this.timeBoundMs =
      limits.timeBoundMs ??
      sweepTimeBoundMs(options, { addresses: total, echo: kit.echo !== undefined, maxInFlight: this.maxInFlight }) +
        (limits.budget?.queueMs ?? 0);
    this.tcpDeadlines = new DeadlineQueue(
      (job) => job.settled,
      (job) => this.tcpDone(job, { kind: 'timeout' }),
    );
  }

  /** The engine's budget has room again (BudgetWaiter). */
  wake(): void {
    this.pump();
  }

  /** Its place in the engine's line: the older a sweep, the sooner it is served (BudgetWaiter). */
  get priority(): number {
    return this.limits.priority ?? 0;
  }

  run(): Promise<SchedulerResult> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      const signal = this.limits.signal;
      const cancelled: SweepStop = { code: 'cancelled', reason: 'the sweep was cancelled' };
      if (signal?.aborted) return this.finish(cancelled);
      signal?.addEventListener('abort', () => this.stopCancelled(cancelled), { once: true });
      this.boundFrom = performance.now();
      this.boundTimer = setTimeout(() => this.stopOverTime(), this.timeBoundMs);
      this.pump();
    });
  }

  private finish(stopped?: SweepStop): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.boundTimer);
    // Probes still out when the sweep stops are dropped: their answers are no longer awaited.
    if (this.inFlight > 0) this.limits.meter?.settled(this.inFlight);
    if (this.delayTimer) clearTimeout(this.delayTimer);
    if (this.paceTimer) clearTimeout(this.paceTimer);
    this.tcpDeadlines.clear();
    this.ready.clear();
    this.delayed.clear();
    // Aborted: the on-link room of hosts left unfinished goes back (their probes' room comes back as they end).
    for (const host of this.onLinkHosts) this.budget?.onLinkDone(host.firstSentAt || undefined);
    this.onLinkHosts.clear();
    const links = this.limits.links;
    if (links) {
      // Every probe has ended (or been dropped): what layer 2 said of each on-link host is as complete as it gets.
      links.finish();
      for (const result of this.onLinkResults) links.decide(result);
    }
    const hosts: HostResult[] = [];
    for (const host of this.results) if (host) hosts.push(host);
    this.resolve(stopped ? { hosts, complete: false, stopped } : { hosts, complete: true });
  }

  /**
   * Cancelled: the hosts whose probes went out are reported with what they have, marked unfinished (a cancelled
   * sweep says what it probed, not "0 addresses" after seconds of echoes); hosts with nothing sent yet are not.
   */
  private stopCancelled(stopped: SweepStop): void {
    if (this.finished) return;
    for (const host of [...this.active]) {
      if (host.echoSent > 0 || host.ports.some((p) => p.attempts > 0)) this.finishHost(host, true);
    }
    this.finish(stopped);
  }

  /** Past the time bound: the hosts in progress are reported with what they have, and the sweep ends. */
  private stopOverTime(): void {
    if (this.finished) return;
    // The kernel ran short of buffers meanwhile (a full neighbour table): the sweep was slowed down on purpose, so
    // its bound counts from then. Every echo still ends (sent, or given up after a few refusals), so it does end.
    const congestedAt = this.budget?.lastCongestionAt ?? -Infinity;
    if (congestedAt > this.boundFrom) {
      this.boundFrom = congestedAt;
      this.boundTimer = setTimeout(() => this.stopOverTime(), Math.max(1, congestedAt + this.timeBoundMs - performance.now()));
      return;
    }
    const unfinished = [...this.active];
    for (const host of unfinished) this.finishHost(host, true);
    const reason =
      `it ran past its time bound of ${formatDuration(this.timeBoundMs)} ` +
      `(the longest its probes can take at this rate, timeout and retries); ` +
      `${formatCount(unfinished.length)} host${unfinished.length === 1 ? '' : 's'} still had probes unanswered` +
      (this.exhausted ? '' : ', and some addresses were not probed');
    this.finish({ code: 'over_time', reason });
  }

  private pump(): void {
    if (this.pumping || this.finished || this.yielded) return;
    this.pumping = true;
    try {
      let sent = 0;
      while (this.inFlight < this.maxInFlight && !this.finished) {
        if (sent === SEND_BATCH) {
          // Let the loop read replies between batches: keeps RTTs honest and the receive queue short.
          this.yielded = true;
          setImmediate(() => {
            this.yielded = false;
            this.pump();
          });
          break;
        }
        if (this.ready.length === 0 && !this.admit()) break;
        if (!this.takeToken()) break;
        if (this.budget && !this.budget.takeProbe(this)) break;
        this.bucket.take();
        const work = this.ready.shift();
        if (work === undefined) continue;
        if (isTcpJob(work)) this.sendTcp(work);
        else this.sendEcho(work);
        sent += 1;
      }
      if (this.exhausted && this.activeHosts === 0) this.finish();
    } finally {
      this.pumping = false;
    }
  }

  /** Takes the next address from the iterator and queues its first probes; false when none can be admitted. */
  private admit(): boolean {
    if (this.exhausted || this.activeHosts >= this.maxInFlight) return false;
    let ip = this.heldAddress;
    this.heldAddress = undefined;
    if (ip === undefined) {
      const next = this.addresses.next();
      if (next.done) {
        this.exhausted = true;
        return false;
      }
      ip = next.value;
    }
    const onLink = this.limits.onLink !== undefined && this.limits.onLink(ip);
    if (onLink && this.budget && !this.budget.takeOnLink(this)) {
      this.heldAddress = ip;
      return false;
    }
    const ports = this.options.ports;
    const host: ActiveHost = {
      index: this.admitted++,
      ip,
      family: ip.includes(':') ? 6 : 4,
      echoesLeft: this.kit.echo ? this.options.count : 0,
      echoAttempt: 0,
      echoSent: 0,
      echoReceived: 0,
      rttSum: 0,
      rttSumSquares: 0,
      rttMin: Infinity,
      rttMax: -Infinity,
      echoError: undefined,
      ports: ports.length === 0 ? NO_PORTS : ports.map((port) => ({ port, state: 'filtered', attempts: 0 })),
      outstanding: 0,
      dueAt: 0,
      onLink,
      firstSentAt: 0,
      echoSentAt: 0,
      fullTableRetries: 0,
    };
    if (onLink) this.onLinkHosts.add(host);
    this.activeHosts += 1;
    this.active.add(host);
    if (host.echoesLeft > 0) {
      host.outstanding += 1;
      this.ready.push(host);
    }
    for (const port of host.ports) {
      host.outstanding += 1;
      this.pendingPorts.add(port);
      this.ready.push(tcpJob(host, port, 0));
    }
    if (host.outstanding === 0) this.finishHost(host);
    return true;
  }

  /** True when this sweep's own pace lets a packet go now (spent once the engine's budget agrees too). */
  private takeToken(): boolean {
    if (this.bucket.ready()) return true;
    if (!this.paceTimer) {
      const waitMs = this.bucket.waitMs();
      this.paceTimer = setTimeout(() => {
        this.paceTimer = undefined;
        this.pump();
      }, waitMs);
    }
    return false;
  }

  private sendEcho(host: ActiveHost): void {
    this.inFlight += 1;
    if (host.onLink && host.firstSentAt === 0) this.firstOnLinkProbe(host);
    this.limits.meter?.sent('icmp');
    host.echoesLeft -= 1;
    host.echoSent += 1;
    host.echoSentAt = performance.now();
    const attempt = host.echoAttempt;
    if (host.echoesLeft > 0 && attempt === 0) {
      // The next echo of `count`, one interval from now; it stays outstanding until sent.
      host.outstanding += 1;
      host.dueAt = performance.now() + this.options.intervalMs;
      this.delayed.push(host);
      this.armDelayTimer();
    }
    this.kit.echo?.echo(host.ip, host.family, attemptTimeoutMs(this.options, attempt), host, this.onEchoDone);
  }

  private sendTcp(job: TcpJob): void {
    this.inFlight += 1;
    if (job.host.onLink && job.host.firstSentAt === 0) this.firstOnLinkProbe(job.host);
    this.limits.meter?.sent('tcp');
    job.port.attempts += 1;
    // Replies already queued are read first, so the slow connect() setup does not stretch their RTTs.
    this.kit.echo?.poll();
    const timeoutMs = attemptTimeoutMs(this.options, job.attempt);
    // The prober ends every attempt by its timeout; this deadline holds even if an outcome were ever lost.
    this.tcpDeadlines.add(job, timeoutMs + TCP_DEADLINE_GRACE_MS);
    job.started = this.kit.tcp.connect(job.host.ip, job.port.port, timeoutMs, (outcome) => this.tcpDone(job, outcome), job.after);
  }

  /** The first probe to an on-link host goes now: its neighbour entry is made (or used) from here on. */
  private firstOnLinkProbe(host: ActiveHost): void {
    host.firstSentAt = performance.now();
    this.limits.links?.watch(host.ip);
  }

  private armDelayTimer(): void {
    const head = this.delayed.peek();
    if (!head || this.delayTimer) return;
    this.delayTimer = setTimeout(
      () => {
        this.delayTimer = undefined;
        const now = performance.now();
        for (let next = this.delayed.peek(); next && next.dueAt <= now; next = this.delayed.peek()) {
          this.delayed.shift();
          next.echoAttempt = 0;
          this.ready.push(next);
        }
        this.armDelayTimer();
        this.pump();
      },
      Math.max(0, Math.ceil(head.dueAt - performance.now())),
    );
  }

  private echoDone(host: ActiveHost, rttMs: number, reporter: Reporter | undefined): void {
    this.budget?.probeDone();
    if (this.finished) return;
    this.inFlight -= 1;
    this.limits.meter?.settled(1);
    if (rttMs >= 0) {
      host.echoReceived += 1;
      host.rttSum += rttMs;
      host.rttSumSquares += rttMs * rttMs;
      if (rttMs < host.rttMin) host.rttMin = rttMs;
      if (rttMs > host.rttMax) host.rttMax = rttMs;
    } else if (reporter) {
      if (!host.echoError || (reporter.verdict === 'prohibited' && host.echoError.verdict !== 'prohibited')) {
        host.echoError = reporter;
      }
    } else if (this.options.count === 1 && host.echoReceived === 0 && (host.echoAttempt < this.options.retries || this.lostToFullTable(host))) {
      // Retries stand in for a lost single echo; with count > 1 the loss is the measurement.
      host.echoAttempt += 1;
      host.echoesLeft += 1;
      this.ready.push(host);
      this.pump();
      return;
    }
    this.probeDone(host);
  }

  /**
   * True, and counted, when an on-link host's unanswered echo may have been dropped by the kernel with its neighbour
   * entry: the table was found full after the echo went (FULL_TABLE_RETRIES).
   */
  private lostToFullTable(host: ActiveHost): boolean {
    const congestedAt = this.budget?.lastCongestionAt ?? -Infinity;
    if (!host.onLink || host.fullTableRetries >= FULL_TABLE_RETRIES || congestedAt < host.echoSentAt) return false;
    host.fullTableRetries += 1;
    return true;
  }

  private tcpDone(job: TcpJob, outcome: TcpOutcome): void {
    if (job.settled) return;
    job.settled = true;
    // Also after the sweep ended: the engine's budget counts every probe until it ends.
    this.budget?.probeDone();
    if (this.finished) return;
    const { host, port } = job;
    this.inFlight -= 1;
    this.limits.meter?.settled(1);
    switch (outcome.kind) {
      case 'open':
        port.state = 'open';
        port.ms = outcome.ms;
        break;
      case 'closed':
        // A firewall's REJECT with ICMP port unreachable ends in ECONNREFUSED too: the prober tells it from an RST
        // (an 'error' outcome, from the ICMP error quoting this very attempt's SYN).
        port.state = 'closed';
        port.ms = outcome.ms;
        break;
      case 'timeout':
        if (job.attempt < this.options.retries) {
          // The retry carries this attempt's flow: an ICMP error about its SYN that comes late still answers.
          this.ready.push(tcpJob(host, port, job.attempt + 1, job.started ?? job.after));
          this.pump();
          return;
        }
        port.state = 'filtered';
        break;
      case 'error':
        port.state = outcome.reporter.verdict;
        port.reporter = outcome.reporter;
        break;
      case 'resource':
        if (job.resourceRetries < RESOURCE_RETRIES) {
          port.attempts -= 1;
          const retry = tcpJob(host, port, job.attempt, job.started ?? job.after, job.resourceRetries + 1);
          setTimeout(() => {
            if (this.finished) return;
            this.ready.push(retry);
            this.pump();
          }, RESOURCE_RETRY_DELAY_MS);
          return;
        }
        port.state = 'unreachable';
        port.reporter = {
          verdict: 'unreachable',
          address: 'local',
          errno: outcome.errno,
          reason: `the sweeper ran short of resources (${outcome.errno})`,
        };
        break;
    }
    this.pendingPorts.delete(port);
    this.probeDone(host);
  }

  private probeDone(host: ActiveHost): void {
    host.outstanding -= 1;
    if (host.outstanding === 0) this.finishHost(host);
    this.pump();
  }

  private finishHost(host: ActiveHost, unfinished = false): void {
    if (unfinished) {
      for (const port of host.ports) if (this.pendingPorts.delete(port)) port.unanswered = true;
    }
    const { state, reporter } = classifyHost(host.echoReceived, host.echoError, host.ports);
    const icmp: EchoStats = {
      sent: host.echoSent,
      received: host.echoReceived,
      lossPct: lossPercent(host.echoSent, host.echoReceived),
    };
    const rtt = rttStats(host.echoReceived, host.rttSum, host.rttSumSquares, host.rttMin, host.rttMax);
    if (rtt) icmp.rtt = rtt;
    const result: HostResult = { ip: host.ip, state, icmp, ports: host.ports };
    const names = this.limits.names?.get(host.ip);
    if (names) result.names = names;
    if (reporter) result.reporter = reporter;
    if (unfinished) result.unfinished = true;
    this.results[host.index] = result;
    this.active.delete(host);
    if (host.onLink) {
      this.onLinkHosts.delete(host);
      this.budget?.onLinkDone(host.firstSentAt || undefined);
      if (this.limits.links) this.onLinkResults.push(result);
    }
    this.activeHosts -= 1;
    this.done += 1;
    if (state === 'alive' || state === 'alive_tcp_only') this.alive += 1;
    this.limits.onProgress?.({ done: this.done, total: this.total, alive: this.alive });
  }
}
