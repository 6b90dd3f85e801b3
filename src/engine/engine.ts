import { ICMP_FIX, ICMP_OFF_SETTING_WARNING } from '../core/report.js';
import type { IcmpStatus } from '../core/report.js';
import type { SweepOptions } from '../core/request.js';
import type { AddressSet } from '../core/targets.js';
import { SendBudget } from './budget.js';
import { IcmpEchoProber, MAX_OUTSTANDING_ECHOES } from './icmp/echo-prober.js';
import type { TcpErrorListener } from './icmp/echo-prober.js';
import { IcmpUnavailableError } from './icmp/raw-transport.js';
import type { IcmpSetting } from './icmp/raw-transport.js';
import { LinkWatch } from './link-watch.js';
import { defaultNeighbourReader } from './neighbours.js';
import type { NeighbourReader } from './neighbours.js';
import { RouteTable, neighbourTableLimit } from './routes.js';
import { DEFAULT_MAX_IN_FLIGHT, ProbeScheduler } from './scheduler.js';
import { attemptTimeoutMs } from './time-bound.js';
import type { ProbeKit, SchedulerLimits } from './scheduler.js';
import { NodeTcpProber } from './tcp.js';
import type { ProbeSocketFactory } from './tcp.js';
import { ErrqueueTcpProber } from './tcp-errqueue.js';
import type { TcpProberChoice } from './tcp-errqueue.js';

/** How long one address can keep a probe waiting, in ms: the timeout of each attempt, retries included. */
export function totalWaitMs(options: Pick<SweepOptions, 'timeoutMs' | 'retries'>): number {
  let wait = 0;
  for (let attempt = 0; attempt <= options.retries; attempt += 1) wait += attemptTimeoutMs(options, attempt);
  return wait;
}

/**
 * Probes outstanding at once that let `rate` packets/s go out when nearly every probe waits its full timeout (a
 * mostly empty VPC): rate × the total wait, with a quarter more for the replies' and timers' slack; at least the
 * default 4096 (which is also the budget of an unlimited rate: then it is the pacing), at most what the echo
 * prober's sequence numbers can tell apart.
 */
export function inFlightBudget(rate: number, waitMs: number): number {
  if (rate <= 0) return DEFAULT_MAX_IN_FLIGHT;
  return Math.min(MAX_OUTSTANDING_ECHOES, Math.max(DEFAULT_MAX_IN_FLIGHT, Math.ceil(((rate * waitMs) / 1000) * 1.25)));
}

export interface EngineOptions {
  /** Address families to open ICMP sockets for now (others are opened on first use). */
  families: Iterable<4 | 6>;
  /** Packets per second for everything this engine sends, 0 = unlimited (each sweep still keeps its own rate). */
  rate: number;
  /** Probes outstanding at once, all sweeps together (see inFlightBudget). */
  maxInFlight: number;
  /**
   * On-link targets in progress at once, default half the kernel's neighbour table limit (gc_thresh3, 1,024 by
   * default): each holds a neighbour entry for up to about 3 s.
   */
  maxOnLink?: number;
  /** Send echoes from a thread of their socket, on another core (IcmpEchoProber's sendHelper). */
  sendHelper?: boolean;
  /**
   * How to send ICMP echo (ZENSWEEP_ICMP), default `auto`: a raw socket where permitted, else a ping socket where
   * net.ipv4.ping_group_range covers the process, else none (TCP probes only).
   */
  icmp?: IcmpSetting;
  /** Told once that ICMP cannot be used (why, and the fix). */
  onWarning?: (message: string) => void;
  /** Told once how ICMP is sent, when not the usual raw socket: `ICMP through a ping socket (…)`. */
  onNotice?: (message: string) => void;
  /** Probers to use instead of real sockets (tests); left open by `close`. */
  kit?: ProbeKit;
  /**
   * The TCP prober's socket factory, default node:net's `connect` (tests bind the connects of two engines on one
   * host to two source addresses, so that a firewall can answer them differently).
   */
  openSocket?: ProbeSocketFactory;
  /** The TCP prober (TcpProberChoice), default `auto`: node:net where a raw ICMP socket reads its errors, else the addon's. */
  tcp?: TcpProberChoice;
  /** The routes that tell on-link targets; default the kernel's, read now. */
  routes?: RouteTable;
  /**
   * The neighbour table's reader, which tells the on-link hosts that answered ARP/ND from the empty addresses
   * (HostResult.link); default the kernel's (netlink through the addon, else /proc/net/arp for IPv4), or none when
   * `kit` is given (probers that send nothing leave nothing in the table). False: not read, no host gets a `link`.
   */
  neighbours?: NeighbourReader | false;
  /** How often the neighbour table is read while on-link probes are out, in ms, default NEIGHBOUR_READ_EVERY_MS. */
  neighbourReadEveryMs?: number;
}

/**
 * One prober and one send budget for every sweep run on it: an ICMP socket per family, TCP connects, a rate, an
 * in-flight count and an on-link allowance (budget.ts). `zensweep sweep` opens one per sweep; an agent opens one
 * at start and runs all its chunks on it, so a large sweep is bound by the rate and the timeout, not by how many
 * chunks run at once. Its neighbour table reads (link-watch.ts) serve every sweep on it too: one dump per period,
 * whatever the number of sweeps with on-link targets.
 */
export class ProbeEngine {
  readonly kit: ProbeKit;
  readonly icmp: IcmpStatus;
  readonly budget: SendBudget;
  /** The reads of the neighbour table (and what they cost so far). */
  readonly links: LinkWatch;
  private readonly routes: RouteTable;
  private readonly ownsKit: boolean;
  private schedulers = 0;

  constructor(options: EngineOptions) {
    this.routes = options.routes ?? RouteTable.read();
    const maxInFlight = Math.max(1, options.maxInFlight);
    this.budget = new SendBudget({
      rate: options.rate,
      maxInFlight,
      maxOnLink: Math.max(1, Math.min(maxInFlight, options.maxOnLink ?? Math.floor(neighbourTableLimit() / 2))),
    });
    this.ownsKit = options.kit === undefined;
    const neighbours = options.neighbours ?? (options.kit ? false : defaultNeighbourReader());
    this.links = new LinkWatch(neighbours === false ? undefined : neighbours, options.neighbourReadEveryMs);
    if (options.kit) {
      this.kit = options.kit;
      this.icmp = options.kit.echo !== undefined ? { available: true, mode: 'raw' } : { available: false, mode: 'off' };
    } else {
      ({ kit: this.kit, icmp: this.icmp } = openProbeKit(new Set(options.families), {
        sendHelper: options.sendHelper,
        openSocket: options.openSocket,
        tcp: options.tcp,
        icmp: options.icmp,
        onWarning: options.onWarning,
        onNotice: options.onNotice,
        onCongestion: () => this.budget.congested(),
      }));
    }
  }

  /** A scheduler for `set` on this engine's probers and budget; `limits.maxInFlight` defaults to the engine's. */
  scheduler(set: AddressSet, total: number, options: SweepOptions, limits: SchedulerLimits = {}): ProbeScheduler {
    const onLink = this.routes.onLinkTest(set);
    // A sweep with no on-link target (a routed VPC range, loopback) has nothing to read: it costs no read at all.
    const links = onLink ? this.links.open() : undefined;
    return new ProbeScheduler(set[Symbol.iterator](), total, options, this.kit, {
      ...limits,
      maxInFlight: Math.min(limits.maxInFlight ?? Infinity, this.budget.limits.maxInFlight),
      budget: this.budget,
      onLink,
      ...(links ? { links } : {}),
      priority: this.schedulers++,
    });
  }

  close(): void {
    this.links.close();
    this.budget.close();
    if (this.ownsKit) {
      this.kit.echo?.close();
      this.kit.tcp.close();
    }
  }
}

/**
 * The real probers. ICMP goes through a raw socket where the process may open one, else a ping socket (`setting`
 * auto; or the one mode asked for); without either the kit has no echo prober and `icmp` says why and what fixes it.
 * With a raw ICMP socket, TCP probes are node:net's connects, wired so that an ICMP error quoting the SYN of one of
 * them ends that attempt (and a failed connect first reads the errors already queued, to name who sent its own).
 * Without one (a ping socket sees no ICMP error about a TCP segment; without any ICMP socket nothing reads them),
 * the addon's connects, each reading the ICMP error about its own SYN from its own error queue (tcp-errqueue.ts),
 * so a firewall's or a router's answer still names its sender.
 *
 * @param options.openSocket node:net's socket factory (tests watch or replace the sockets); given, `auto` is `net`.
 * @param options.tcp which TCP prober (TcpProberChoice), default `auto`.
 * @param options.onCongestion told when the kernel is short of buffers (ENOBUFS): send less.
 */
export function openProbeKit(
  families: ReadonlySet<4 | 6>,
  options: {
    sendHelper?: boolean;
    openSocket?: ProbeSocketFactory;
    tcp?: TcpProberChoice;
    icmp?: IcmpSetting;
    onWarning?: (message: string) => void;
    onNotice?: (message: string) => void;
    onCongestion?: () => void;
  } = {},
): { kit: ProbeKit; icmp: IcmpStatus } {
  const { openSocket, onWarning, onNotice, icmp: setting = 'auto', tcp: choice = 'auto', ...echoOptions } = options;
  let netTcp: NodeTcpProber | undefined;
  const { echo, icmp } = openEchoProber(families, setting, {
    ...echoOptions,
    onWarning,
    onNotice,
    onTcpError: (quoted, reporter) => netTcp?.failFromIcmp(quoted, reporter),
  });
  // Only a raw ICMP socket sees the errors about node:net's SYNs (a ping socket does not: it counts as none).
  const rawSeesTcpErrors = echo !== undefined && icmp.mode === 'raw';
  const useNet = choice === 'net' || (choice === 'auto' && (rawSeesTcpErrors || openSocket !== undefined));
  const tcp = useNet ? (netTcp = new NodeTcpProber(openSocket, () => echo?.poll())) : new ErrqueueTcpProber();
  return { kit: echo ? { echo, tcp } : { tcp }, icmp };
}

/** The echo prober of `setting` (auto: raw, else ping), or none, with what was used or why none could be. */
function openEchoProber(
  families: ReadonlySet<4 | 6>,
  setting: IcmpSetting,
  options: {
    sendHelper?: boolean;
    onWarning?: (message: string) => void;
    onNotice?: (message: string) => void;
    onCongestion?: () => void;
    onTcpError: TcpErrorListener;
  },
): { echo: IcmpEchoProber | undefined; icmp: IcmpStatus } {
  const { onWarning, onNotice, ...echoOptions } = options;
  if (setting === 'off') {
    // A choice, not a fault: said as the setting, with no privilege to add.
    onWarning?.(ICMP_OFF_SETTING_WARNING);
    return { echo: undefined, icmp: { available: false, mode: 'off', reason: 'setting', warning: ICMP_OFF_SETTING_WARNING } };
  }
  if (families.size === 0) return { echo: undefined, icmp: { available: true, mode: setting === 'ping' ? 'ping' : 'raw' } };
  const failures: IcmpUnavailableError[] = [];
  for (const mode of setting === 'auto' ? (['raw', 'ping'] as const) : [setting]) {
    try {
      const echo = new IcmpEchoProber(families, { ...echoOptions, mode });
      if (mode === 'ping') {
        const raw = failures.find((failure) => failure.mode === 'raw');
        onNotice?.(`ICMP through a ping socket${raw ? ` (no raw socket: ${raw.errno}, needs root or CAP_NET_RAW)` : ''}`);
      }
      return { echo, icmp: { available: true, mode } };
    } catch (error) {
      if (!(error instanceof IcmpUnavailableError)) throw error;
      failures.push(error);
    }
  }
  const warning = `ICMP not sent: ${failures.map(failureWords).join(', and ')}; running the TCP probes only (${ICMP_FIX})`;
  onWarning?.(warning);
  return { echo: undefined, icmp: { available: false, mode: 'off', reason: 'unavailable', warning } };
}

/** `no raw socket (EPERM: needs root or CAP_NET_RAW)`, `no ping socket (EACCES: …)`. */
function failureWords(failure: IcmpUnavailableError): string {
  const needs =
    failure.mode === 'raw'
      ? 'needs root or CAP_NET_RAW'
      : `net.ipv4.ping_group_range does not cover group ${process.getgid?.() ?? '?'}`;
  return `no ${failure.mode} socket (${failure.errno}: ${needs})`;
}
