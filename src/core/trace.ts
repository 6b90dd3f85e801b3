/**
 * The trace model: where the packets to one host stop, hop by hop, in ICMP, UDP or TCP, shared by the engine
 * (which fills it), the CLI, JSON and Slack (which show it). README, "When a host does not answer", shows it.
 */
import type { Reporter } from './states.js';
import type { TargetSpec } from './request.js';

export const TRACE_MODES = ['icmp', 'udp', 'tcp'] as const;
export type TraceMode = (typeof TRACE_MODES)[number];

export interface TraceOptions {
  /** `auto` (default): ICMP, then TCP to `port` when ICMP gets no answer from the host. */
  mode: TraceMode | 'auto';
  /** TCP port of `tcp` mode, and of the fallback of `auto` mode; default 443. */
  port: number;
  /** Probes per hop, default 3. */
  count: number;
  /** Highest TTL (hop limit) probed, default 30. */
  maxHops: number;
  /** Longest wait for the answer to one probe, in milliseconds, default 1000. */
  timeoutMs: number;
  /** Look up hop addresses in reverse DNS (`dns:on`); default off: private networks seldom have PTR records. */
  dns: boolean;
  /** Agent group to run in (`vpc:NAME`), for `submit` and Slack. */
  vpc?: string;
}

/**
 * What one trace may ask for, stated once (as SWEEP_LIMITS for sweeps): the grammar refuses what lies outside, the
 * job schema refuses it again in the agent, and the door sizes the requester's slot from it. Inclusive ranges.
 */
export const TRACE_LIMITS = Object.freeze({
  /** Probes per hop. */
  count: Object.freeze({ min: 1, max: 20 }),
  /** Highest TTL probed. */
  maxHops: Object.freeze({ min: 1, max: 64 }),
  /** Wait for one probe's answer, in milliseconds. */
  timeoutMs: Object.freeze({ min: 100, max: 10_000 }),
});

/** What one diag may ask for: the TCP ports it connects to. */
export const DIAG_LIMITS = Object.freeze({
  /** Distinct ports one diag connects to. */
  ports: Object.freeze({ min: 1, max: 16 }),
  /** Longest a diag runs on its agent, in milliseconds (pings, connects, trace and path MTU, with room). */
  runMs: 60_000,
});

export const DEFAULT_TRACE_OPTIONS: Readonly<TraceOptions> = Object.freeze({
  mode: 'auto',
  port: 443,
  count: 3,
  maxHops: 30,
  timeoutMs: 1000,
  dns: false,
});

export interface TraceRequest {
  /** One address or host name. */
  target: Exclude<TargetSpec, { kind: 'cidr' } | { kind: 'range' }>;
  options: TraceOptions;
}

/** One address that answered for a hop, with how many of the hop's probes it answered. */
export interface HopResponder {
  address: string;
  /** Reverse DNS name, with `dns:on`. */
  name?: string;
  answers: number;
}

/** A hop as `mtr --report` shows it: sent, loss %, last/avg/best/worst and standard deviation in milliseconds. */
export interface TraceHop {
  /** TTL (IPv4) or hop limit (IPv6) of its probes. */
  ttl: number;
  sent: number;
  received: number;
  /** 0–100, one decimal. */
  lossPct: number;
  last?: number;
  avg?: number;
  best?: number;
  worst?: number;
  stdev?: number;
  /** Who answered, most answers first; empty for a silent hop (`*`). */
  responders: HopResponder[];
  /** The host itself answered at this hop (the end of a path that reached it). */
  target?: boolean;
  /** What a hop said instead of "time exceeded": unreachable, prohibited (the path ends there). */
  reporter?: Reporter;
}

/** How a path ended. */
export type PathEnd =
  /** The host answered: echo reply, port unreachable (UDP), SYN-ACK or RST (TCP). */
  | 'reached'
  /** A router or the host answered unreachable or prohibited. */
  | 'refused'
  /** Nothing answered past the last hop that did (or no hop answered at all). */
  | 'silent'
  /** The sweeper could not send (no route). */
  | 'local';

/**
 * What a path's probes went through: raw sockets (root or CAP_NET_RAW), or without privilege a ping socket (ICMP,
 * where net.ipv4.ping_group_range covers the process), a UDP socket (UDP) or the kernel's own connects (TCP), each
 * reading the ICMP errors about its own probes from its error queue.
 */
export type TraceSockets = 'raw' | 'ping' | 'udp' | 'connect';

/** How each is said after a path: `ICMP through a ping socket (no privilege)`. */
export const TRACE_SOCKET_WORDS: Record<TraceSockets, string> = {
  raw: 'a raw socket',
  ping: 'a ping socket (no privilege)',
  udp: 'a UDP socket (no privilege)',
  connect: 'TCP connects (no privilege)',
};

/** `ICMP through a ping socket (no privilege), TCP 443 through TCP connects (no privilege)`; '' for older reports. */
export function describeSockets(paths: readonly TracePath[]): string {
  return paths
    .flatMap((path) => (path.sockets ? [`${describeMode(path)} through ${TRACE_SOCKET_WORDS[path.sockets]}`] : []))
    .join(', ');
}

export interface TracePath {
  mode: TraceMode;
  /** What the probes went through; absent from reports made before it was recorded (raw sockets then). */
  sockets?: TraceSockets;
  /** TCP port, or the UDP destination port. */
  port?: number;
  end: PathEnd;
  /** TCP: the port answered SYN-ACK (open) or RST (closed). */
  tcpState?: 'open' | 'closed';
  /** Hops 1 … the host (reached), the hop that refused, or one past the last that answered. */
  hops: TraceHop[];
  /** The last hop that answered before the path went silent, or the one that refused. */
  lastAnswer?: { ttl: number; address: string };
  /** Why the sweeper could not send (`local`). */
  reporter?: Reporter;
  /** Probes sent. */
  probes: number;
  durationMs: number;
}

export interface TraceReport {
  /** The target as the user wrote it. */
  target: string;
  /** The address traced (a name's first address). */
  address: string;
  family: 4 | 6;
  /** The address the probes left from. */
  source?: string;
  options: TraceOptions;
  /** ISO 8601. */
  startedAt: string;
  durationMs: number;
  /** One path per mode run: auto mode runs ICMP, then TCP when ICMP did not reach the host. */
  paths: TracePath[];
  /** What to conclude, in one line. */
  conclusion: string;
  /**
   * A mode auto could not run, and why (TCP was traced alone): ICMP where the process has neither a raw socket nor a
   * ping socket, or sends no ICMP echo at all (ZENSWEEP_ICMP=off).
   */
  warning?: string;
  /** Where it ran, when it ran on an agent. */
  agent?: { group: string; id: string };
}

/** `ICMP`, `UDP`, `TCP 443`. */
export function describeMode(path: Pick<TracePath, 'mode' | 'port'>): string {
  return path.mode === 'tcp' ? `TCP ${path.port ?? ''}`.trim() : path.mode.toUpperCase();
}

function hopAt(path: TracePath, ttl: number): string {
  const address = path.hops[ttl - 1]?.responders[0]?.address;
  return address ? `hop ${ttl} (${address})` : `hop ${ttl}`;
}

/** One sentence about one path: where it stops and what that means. */
export function describePath(path: TracePath, address: string): string {
  const mode = describeMode(path);
  switch (path.end) {
    case 'reached': {
      const hops = path.hops.length;
      const state = path.tcpState ? `: port ${path.tcpState}` : '';
      return `${mode} reaches ${address} in ${hops} hop${hops === 1 ? '' : 's'}${state}`;
    }
    case 'refused': {
      const last = path.hops[path.hops.length - 1];
      const reporter = last?.reporter;
      const who = reporter?.address === address ? `${address} itself` : hopAt(path, last?.ttl ?? path.hops.length);
      return `${mode} is refused by ${who}: ${reporter?.reason ?? 'unreachable'}`;
    }
    case 'local':
      return `${mode} cannot leave the sweeper: ${path.reporter?.reason ?? 'no route'}${path.reporter?.errno ? ` (${path.reporter.errno})` : ''}`;
    case 'silent':
      if (!path.lastAnswer) {
        return `no answer from any hop in ${mode}: the probes are dropped next to the sweeper (its own firewall, or the first router)`;
      }
      return `no answer past hop ${path.lastAnswer.ttl} in ${mode}: the path ends at ${path.lastAnswer.address}`;
  }
}

/**
 * The line the on-call engineer reads first. With two paths (auto mode: ICMP did not reach, TCP ran), what the
 * difference means: "ICMP stops after hop 3 (10.0.0.1) but TCP 443 reaches the host: a firewall after hop 3 drops
 * ICMP".
 */
export function concludeTrace(paths: readonly TracePath[], address: string): string {
  const [first, second] = paths;
  if (!first) return 'nothing was traced';
  if (!second) return describePath(first, address);
  if (first.end === 'silent' && second.end === 'reached') {
    const tcp = describeMode(second);
    const state = second.tcpState ? ` (port ${second.tcpState})` : '';
    if (!first.lastAnswer) {
      return `no hop answers ${describeMode(first)} but ${tcp} reaches the host${state}: ICMP is dropped from the first hop on`;
    }
    const at = `hop ${first.lastAnswer.ttl}`;
    return (
      `${describeMode(first)} stops after ${at} (${first.lastAnswer.address}) but ${tcp} reaches the host${state}: ` +
      `a firewall after ${at} drops ICMP`
    );
  }
  return `${describePath(first, address)}; ${describePath(second, address)}`;
}
