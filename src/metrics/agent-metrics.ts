import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { HostResult, IcmpMode } from '../core/report.js';
import { HOST_STATES, PORT_STATES } from '../core/states.js';
import type { ProbeKind, ProbeMeter } from '../engine/meter.js';
import { labelledCounter, queueGauges, redisUpGauge, serviceRegistry } from './registry.js';

/** Seconds, from a few ms to several minutes: chunk waits and runs. */
const CHUNK_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export interface AgentMetricSources {
  /** The agent's Redis connections. */
  connections: () => readonly Redis[];
  /** Its group and that group's sweep queue. */
  group: string;
  queue: () => Queue | undefined;
  /** Milliseconds since its last heartbeat was written, undefined before the first. */
  heartbeatAgeMs: () => number | undefined;
  /** Its configured send limit, packets per second; 0 = unlimited. */
  rateLimit: number;
}

/**
 * An agent's metrics. It is also the engine's probe meter: counts probes by kind, keeps the number outstanding
 * and measures the send rate between two calls of `sampleRate()` (the heartbeat).
 */
export class AgentMetrics implements ProbeMeter {
  readonly registry: Registry;
  readonly chunksStarted: Counter;
  readonly chunksFinished: Counter;
  readonly chunksFailed: Counter;
  readonly chunksCancelled: Counter;
  readonly sweepsFinished: Counter;
  readonly sweepsCancelled: Counter;
  readonly sweepsFailed: Counter;
  readonly chunkWait: Histogram;
  readonly chunkRun: Histogram;
  private readonly probesSent: Counter<'kind'>;
  private readonly icmpModes: Gauge<'mode'>;
  private readonly hostResults: Counter<'state'>;
  private readonly portResults: Counter<'state'>;
  /** Probes outstanding, probes sent in all, and the rate measured at the last sample. */
  private readonly live = { outstanding: 0, sent: 0, rate: { at: performance.now(), sent: 0, perSecond: 0 } };

  constructor(sources: AgentMetricSources) {
    const registry = serviceRegistry();
    this.registry = registry;
    const counter = (name: string, help: string): Counter => new Counter({ name, help, registers: [registry] });
    this.chunksStarted = counter('zensweep_chunks_started_total', 'Chunks this agent started probing.');
    this.chunksFinished = counter('zensweep_chunks_finished_total', 'Chunks this agent probed to the end.');
    this.chunksFailed = counter('zensweep_chunks_failed_total', 'Chunks that failed here (bad data, out of scope, an error, handed back at shutdown).');
    this.chunksCancelled = counter('zensweep_chunks_cancelled_total', 'Chunks stopped or skipped here because their sweep was cancelled.');
    this.sweepsFinished = counter('zensweep_sweeps_finished_total', 'Sweep reports this agent put together (complete or not, not cancelled).');
    this.sweepsCancelled = counter('zensweep_sweeps_cancelled_total', 'Sweep reports this agent put together for a cancelled sweep.');
    this.sweepsFailed = counter('zensweep_sweeps_failed_total', 'Sweep report jobs that failed on this agent.');
    this.probesSent = labelledCounter(
      registry,
      'zensweep_probes_sent_total',
      'Probes sent, by kind: icmp (echo requests, retries included) and tcp (connection attempts).',
      ['kind'],
      { label: 'kind', values: ['icmp', 'tcp'] },
    );
    this.hostResults = labelledCounter(registry, 'zensweep_host_results_total', 'Hosts probed to the end, by the state they were found in.', ['state'], {
      label: 'state',
      values: HOST_STATES,
    });
    this.portResults = labelledCounter(registry, 'zensweep_port_results_total', 'TCP ports probed to the end, by the state they were found in.', ['state'], {
      label: 'state',
      values: PORT_STATES,
    });
    this.chunkWait = new Histogram({
      name: 'zensweep_chunk_wait_seconds',
      help: 'Time a chunk waited in its queue before this agent took it, in seconds.',
      buckets: CHUNK_BUCKETS,
      registers: [registry],
    });
    this.chunkRun = new Histogram({
      name: 'zensweep_chunk_run_seconds',
      help: 'Time this agent took to probe a chunk, in seconds.',
      buckets: CHUNK_BUCKETS,
      registers: [registry],
    });
    const live = this.live;
    new Gauge({
      name: 'zensweep_probes_in_flight',
      help: 'Probes sent and not yet answered or timed out.',
      registers: [registry],
      collect() {
        this.set(live.outstanding);
      },
    });
    new Gauge({
      name: 'zensweep_send_rate_packets_per_second',
      help: 'Probes sent per second, measured between the last two heartbeats.',
      registers: [registry],
      collect() {
        this.set(live.rate.perSecond);
      },
    });
    new Gauge({
      name: 'zensweep_send_rate_limit_packets_per_second',
      help: 'The agent’s send limit (ZENSWEEP_RATE), packets per second; 0 = unlimited.',
      registers: [registry],
    }).set(sources.rateLimit);
    new Gauge({
      name: 'zensweep_agent_heartbeat_age_seconds',
      help: 'Seconds since this agent last wrote its heartbeat to the registry (absent before the first).',
      registers: [registry],
      collect() {
        this.reset();
        const age = sources.heartbeatAgeMs();
        if (age !== undefined) this.set(age / 1000);
      },
    });
    this.icmpModes = new Gauge({
      name: 'zensweep_icmp_mode',
      help: 'How this agent sends ICMP echo: 1 for its mode (raw: root or CAP_NET_RAW; ping: a ping socket, net.ipv4.ping_group_range; off: TCP probes only), 0 for the others.',
      labelNames: ['mode'],
      registers: [registry],
    });
    redisUpGauge(registry, sources.connections);
    queueGauges(registry, async () => {
      const queue = sources.queue();
      return new Map(queue ? [[sources.group, queue]] : []);
    });
  }
  /** Says how ICMP is sent (zensweep_icmp_mode{mode="ping"} 1), once the engine has opened its sockets. */
  icmpMode(mode: IcmpMode): void {
    for (const each of ['raw', 'ping', 'off'] as const) this.icmpModes.set({ mode: each }, each === mode ? 1 : 0);
  }


  sent(kind: ProbeKind): void {
    this.probesSent.inc({ kind });
    this.live.outstanding += 1;
    this.live.sent += 1;
  }

  settled(count: number): void {
    this.live.outstanding = Math.max(0, this.live.outstanding - count);
  }

  /** Probes outstanding now. */
  get inFlight(): number {
    return this.live.outstanding;
  }

  /** Counts the hosts and ports of a finished chunk by state. */
  countResults(hosts: readonly HostResult[]): void {
    for (const host of hosts) {
      this.hostResults.inc({ state: host.state });
      for (const port of host.ports) this.portResults.inc({ state: port.state });
    }
  }

  /** Packets per second since the previous call; called at each heartbeat. */
  sampleRate(): number {
    const now = performance.now();
    const { rate, sent } = this.live;
    const seconds = (now - rate.at) / 1000;
    const perSecond = seconds > 0 ? (sent - rate.sent) / seconds : 0;
    this.live.rate = { at: now, sent, perSecond };
    return perSecond;
  }
}
