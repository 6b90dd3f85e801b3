import { diagnoseIcmpError, diagnoseLocalError } from '../../core/diagnosis.js';
import type { Reporter } from '../../core/states.js';
import { lossPercent, rttStats } from '../../core/stats.js';
import type { HopResponder, TraceHop, TraceMode, TracePath } from '../../core/trace.js';
import { monotonicMs } from '../clock.js';
import { randomBits } from '../random.js';
import type { IcmpSetting } from '../icmp/raw-transport.js';
import { openTraceTransport } from './transports.js';
import type { ProbeEvent, TraceTransport } from './transports.js';

/** What a probe came to. */
type Answer =
  /** Time exceeded: a router on the way. */
  | 'hop'
  /** The host itself: echo reply, port unreachable to our UDP, SYN-ACK or RST. */
  | 'target'
  /** Unreachable or prohibited: the path ends at whoever said it. */
  | 'refused';

interface Probe {
  ttl: number;
  round: number;
  sentAt: number;
  answer?: Answer;
  from?: string;
  rttMs?: number;
  reporter?: Reporter;
  tcpState?: 'open' | 'closed';
  /** Answered, or no longer waited for (it may still be answered late, until the path is done). */
  settled: boolean;
}

export interface PathTraceOptions {
  mode: TraceMode;
  /** TCP destination port (tcp mode). */
  port: number;
  count: number;
  maxHops: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * Which sockets (ZENSWEEP_ICMP), default auto: raw where permitted, else without privilege (a ping socket, a UDP
   * socket, connects: transports.ts); raw: raw only; ping: without privilege; off: without privilege, and no ICMP
   * trace (ZENSWEEP_ICMP=off sends no echo).
   */
  sockets?: IcmpSetting;
}

/**
 * A silent hop between two that answer is not waited for the whole timeout: like Linux traceroute's `-w` NEAR
 * rule, once a farther hop has answered a probe sent no earlier, the nearer one is given NEAR_FACTOR times that
 * round trip, and never less than NEAR_FLOOR_MS (routers answer from their slow path, later than they forward).
 * An answer that still comes before the path is done counts.
 */
const NEAR_FACTOR = 10;
const NEAR_FLOOR_MS = 50;
/**
 * The next round of probes goes out once the last one is answered, except for probes only waited for under the
 * NEAR rule, or after ROUND_SPACING_FACTOR times the slowest answer of the last round (within the bounds below):
 * sooner, while the host's hop is not known yet, would send it a second probe for every TTL past it.
 */
const ROUND_SPACING_FACTOR = 4;
const ROUND_SPACING_MIN_MS = 50;
const ROUND_SPACING_MAX_MS = 200;
const TICK_MS = 10;
/** Probes of one path are told apart by a key below this: a UDP checksum (key + 1) must not be 0 or 0xffff. */
const KEY_SPACE = 0xfffe;

/**
 * Traces the path to one address in one mode, all hops at once (as mtr does, not one hop after another as
 * traceroute does): round 0 sends a probe with every TTL from 1 to maxHops; each next round goes to the hops up
 * to the host (or the hop that refused) once they are known, as soon as the previous round is answered.
 */
export class PathTracer {
  private readonly probes = new Map<number, Probe>();
  private readonly transport: TraceTransport;
  private readonly keyBase = randomBits(16);
  private nextKey = 0;
  private round = -1;
  private roundStartedAt = 0;
  private reachedTtl = Infinity;
  private refusedTtl = Infinity;
  private localError: Reporter | undefined;
  private finish: (() => void) | undefined;

  /**
   * @throws TraceUnavailableError when no socket of the mode may be opened, IcmpOffError for an ICMP trace under
   *   ZENSWEEP_ICMP=off (see openTraceTransport).
   */
  constructor(
    private readonly address: string,
    private readonly family: 4 | 6,
    /** The probes' source address: raw TCP and UDP checksums cover it. */
    source: string,
    private readonly options: PathTraceOptions,
  ) {
    this.transport = openTraceTransport(
      { address, family, source, mode: options.mode, port: options.port, timeoutMs: options.timeoutMs },
      options.sockets ?? 'auto',
      (event) => this.onEvent(event),
    );
  }

  async run(): Promise<TracePath> {
    const started = monotonicMs();
    try {
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => this.evaluate(), TICK_MS);
        const onAbort = (): void => this.finish?.();
        this.finish = () => {
          clearInterval(timer);
          this.options.signal?.removeEventListener('abort', onAbort);
          this.finish = undefined;
          resolve();
        };
        this.options.signal?.addEventListener('abort', onAbort);
        this.startRound();
        this.evaluate();
      });
    } finally {
      this.close();
    }
    return this.result(monotonicMs() - started);
  }

  private close(): void {
    this.transport.close();
  }

  private get horizon(): number {
    return Math.min(this.reachedTtl, this.refusedTtl, this.options.maxHops);
  }

  private startRound(): void {
    this.round += 1;
    this.roundStartedAt = monotonicMs();
    for (let ttl = 1; ttl <= this.horizon && !this.localError; ttl++) this.send(ttl);
  }

  private send(ttl: number): void {
    const key = (this.keyBase + this.nextKey++) % KEY_SPACE;
    const probe: Probe = { ttl, round: this.round, sentAt: monotonicMs(), settled: false };
    // Recorded before the send, forgotten if it fails: an answer is matched by its key alone.
    this.probes.set(key, probe);
    const result = this.transport.send(key, ttl);
    if (result !== 'sent') {
      this.probes.delete(key);
      this.localError = diagnoseLocalError(result.errno);
    }
  }

  /** What came back for one of this path's probes: the host, a hop, or a refusal that ends the path. */
  private onEvent(event: ProbeEvent): void {
    switch (event.kind) {
      case 'reply':
        if (this.options.mode === 'icmp' && event.from === this.address) this.answer(event.key, 'target', event.from);
        return;
      case 'tcp':
        if (event.from === this.address) this.answer(event.key, 'target', event.from, undefined, event.state);
        return;
      case 'icmp':
        break;
    }
    const { key, type, code, from } = event;
    const timeExceeded = this.family === 4 ? type === 11 : type === 3;
    if (timeExceeded) {
      this.answer(key, 'hop', from);
      return;
    }
    const portUnreachable = this.family === 4 ? type === 3 && code === 3 : type === 1 && code === 4;
    if (this.options.mode === 'udp' && portUnreachable && from === this.address) {
      this.answer(key, 'target', from);
      return;
    }
    this.answer(key, 'refused', from, diagnoseIcmpError(this.family, type, code, from));
  }

  private answer(key: number, answer: Answer, from: string, reporter?: Reporter, tcpState?: 'open' | 'closed'): void {
    const probe = this.probes.get(key);
    if (!probe || probe.answer !== undefined) return;
    probe.answer = answer;
    probe.from = from;
    probe.rttMs = monotonicMs() - probe.sentAt;
    probe.settled = true;
    if (reporter) probe.reporter = reporter;
    if (tcpState) probe.tcpState = tcpState;
    if (answer === 'target') this.reachedTtl = Math.min(this.reachedTtl, probe.ttl);
    if (answer === 'refused') this.refusedTtl = Math.min(this.refusedTtl, probe.ttl);
    this.evaluate();
  }

  /** Gives up on late probes, starts the next round when due, and ends the path when every probe is settled. */
  private evaluate(): void {
    if (!this.finish) return;
    if (this.localError || this.options.signal?.aborted) {
      this.finish();
      return;
    }
    const now = monotonicMs();
    const horizon = this.horizon;
    let roundSettled = true;
    let allSettled = true;
    let slowest: number | undefined;
    const answered = [...this.probes.values()].filter((p) => p.answer !== undefined && p.ttl <= horizon);
    for (const probe of this.probes.values()) {
      if (probe.ttl > horizon || probe.settled) continue;
      let giveUpAt = probe.sentAt + this.options.timeoutMs;
      // The fastest answer from a farther hop to a probe sent no earlier than this one (the NEAR rule).
      let near: number | undefined;
      for (const other of answered) {
        if (other.ttl > probe.ttl && other.sentAt >= probe.sentAt) near = Math.min(near ?? Infinity, other.rttMs ?? 0);
      }
      if (near !== undefined) giveUpAt = Math.min(giveUpAt, probe.sentAt + Math.max(NEAR_FACTOR * near, NEAR_FLOOR_MS));
      if (now >= giveUpAt) probe.settled = true;
      else {
        allSettled = false;
        if (probe.round === this.round && near === undefined) roundSettled = false;
      }
    }
    for (const probe of answered) if (probe.round === this.round) slowest = Math.max(slowest ?? 0, probe.rttMs ?? 0);
    const spacing =
      slowest === undefined
        ? ROUND_SPACING_MAX_MS
        : Math.min(ROUND_SPACING_MAX_MS, Math.max(ROUND_SPACING_MIN_MS, ROUND_SPACING_FACTOR * slowest));
    const moreRounds = this.round + 1 < this.options.count;
    if (moreRounds && (roundSettled || now - this.roundStartedAt >= spacing)) {
      this.startRound();
      if (this.localError) this.finish();
      return;
    }
    if (!moreRounds && allSettled) this.finish();
  }

  private result(durationMs: number): TracePath {
    const mode = this.options.mode;
    const base = {
      mode,
      sockets: this.transport.sockets,
      ...(mode === 'icmp' ? {} : { port: this.transport.destinationPort }),
      probes: this.probes.size,
      durationMs: Math.round(durationMs * 10) / 10,
    };
    if (this.localError && this.probes.size === 0) {
      return { ...base, end: 'local', hops: [], reporter: this.localError };
    }
    const byTtl = new Map<number, Probe[]>();
    for (const probe of this.probes.values()) {
      const list = byTtl.get(probe.ttl) ?? [];
      list.push(probe);
      byTtl.set(probe.ttl, list);
    }
    let last: number;
    if (Number.isFinite(this.reachedTtl) || Number.isFinite(this.refusedTtl)) last = this.horizon;
    else {
      let answeredTtl = 0;
      for (const probe of this.probes.values()) if (probe.answer && probe.ttl > answeredTtl) answeredTtl = probe.ttl;
      last = Math.min(answeredTtl + 1, this.options.maxHops);
    }
    const hops: TraceHop[] = [];
    for (let ttl = 1; ttl <= last; ttl++) hops.push(hopOf(ttl, byTtl.get(ttl) ?? []));
    const path: TracePath = { ...base, end: 'silent', hops };
    if (this.reachedTtl <= this.refusedTtl && Number.isFinite(this.reachedTtl)) {
      path.end = 'reached';
      const states = (byTtl.get(this.reachedTtl) ?? []).map((p) => p.tcpState).filter((s) => s !== undefined);
      if (states.length > 0) path.tcpState = states.includes('open') ? 'open' : 'closed';
    } else if (Number.isFinite(this.refusedTtl)) {
      path.end = 'refused';
      const hop = hops[hops.length - 1];
      if (hop?.responders[0]) path.lastAnswer = { ttl: hop.ttl, address: hop.responders[0].address };
    } else if (this.localError) {
      path.end = 'local';
      path.reporter = this.localError;
    }
    if (path.end === 'silent') {
      const answeredHop = [...hops].reverse().find((h) => h.responders.length > 0);
      if (answeredHop?.responders[0]) path.lastAnswer = { ttl: answeredHop.ttl, address: answeredHop.responders[0].address };
    }
    return path;
  }
}

function hopOf(ttl: number, probes: readonly Probe[]): TraceHop {
  const answered = probes.filter((p) => p.answer !== undefined).sort((a, b) => a.round - b.round);
  let sum = 0;
  let squares = 0;
  let best = Infinity;
  let worst = 0;
  const responders = new Map<string, HopResponder>();
  for (const probe of answered) {
    const rtt = probe.rttMs ?? 0;
    sum += rtt;
    squares += rtt * rtt;
    best = Math.min(best, rtt);
    worst = Math.max(worst, rtt);
    const address = probe.from ?? '';
    const responder = responders.get(address) ?? { address, answers: 0 };
    responder.answers += 1;
    responders.set(address, responder);
  }
  const hop: TraceHop = {
    ttl,
    sent: probes.length,
    received: answered.length,
    lossPct: lossPercent(probes.length, answered.length),
    responders: [...responders.values()].sort((a, b) => b.answers - a.answers),
  };
  const stats = rttStats(answered.length, sum, squares, best, worst);
  const lastProbe = answered[answered.length - 1];
  if (stats && lastProbe?.rttMs !== undefined) {
    hop.last = Math.round(lastProbe.rttMs * 1000) / 1000;
    hop.avg = stats.avg;
    hop.best = stats.min;
    hop.worst = stats.max;
    hop.stdev = stats.mdev;
  }
  if (answered.some((p) => p.answer === 'target')) hop.target = true;
  const refused = answered.find((p) => p.reporter);
  if (refused?.reporter) hop.reporter = refused.reporter;
  return hop;
}
