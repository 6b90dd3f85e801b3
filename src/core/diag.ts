/**
 * The escalation report: the facts a network team asks for before it looks at a problem (seed 004), gathered in
 * one run from where the probes run: source and destination with masks, the route and the default gateway, the
 * interface and its MTU, the neighbour entry of the next hop, name resolution, ping statistics, each TCP port,
 * the trace, the path MTU, the commands that would show the same, and the UTC time window.
 */
import type { PathMtuReport } from './path-mtu.js';
import { ICMP_FIX, ICMP_OFF_WHY, icmpOffReason } from './report.js';
import type { HostResult, IcmpOffReason, IcmpStatus, PortResult } from './report.js';
import type { HostState } from './states.js';
import { echoNotSent } from './facts.js';
import type { TraceReport } from './trace.js';

export interface DiagInterface {
  device: string;
  /** The address the probes leave from, with its prefix: `198.19.1.1/24`. */
  cidr: string;
  mtu?: number;
  mac?: string;
}

export interface DiagRoute {
  /** The route the kernel takes, as `ip route show` writes its destination: `198.19.0.0/16`. */
  destination: string;
  gateway?: string;
  device: string;
  metric: number;
  /** An unreachable/prohibit/blackhole route. */
  reject: boolean;
  /** The host is this machine (the local table): `ip route get` says `local`. */
  local?: boolean;
}

export interface DiagNeighbour {
  /** The next hop: the gateway, or the host itself when it is on the link. */
  address: string;
  device?: string;
  lladdr?: string;
  /** `complete`, `permanent`, `incomplete` (ARP unanswered or failed), `none` (no entry), `unknown` (IPv6). */
  state: 'complete' | 'permanent' | 'incomplete' | 'none' | 'unknown';
}

export interface DiagResolution {
  /** The name servers of /etc/resolv.conf, the first of which is asked. */
  servers: string[];
  /**
   * Those of them this machine has no route to: a query to them never leaves, and the resolver's answer (ENOTFOUND,
   * a timeout) says nothing of the name. Absent when every one has a route.
   */
  unroutable?: string[];
  /** A target given as a name: what DNS answers (A, AAAA) and what the system resolver (hosts file too) gives. */
  name?: string;
  a?: string[];
  aaaa?: string[];
  /** Why DNS gave no address, e.g. `ECONNREFUSED` (no server), `ENOTFOUND`. */
  dnsError?: string;
  system?: string[];
  systemError?: string;
  /** A target given as an address: its PTR names, or why none. */
  ptr?: string[];
  ptrError?: string;
}

export interface DiagReport {
  target: string;
  /** Absent when the name did not resolve: then only name resolution was checked. */
  address?: string;
  family?: 4 | 6;
  agent?: { group: string; id: string };
  /** UTC, ISO 8601: when the facts were gathered. */
  window: { start: string; end: string };
  source?: DiagInterface;
  route?: DiagRoute;
  /** When the sweeper has no route at all: why (ENETUNREACH). */
  routeError?: string;
  /** The gateway of the default route, if there is one. */
  defaultGateway?: string;
  neighbour?: DiagNeighbour;
  resolution: DiagResolution;
  /** The ping statistics (10 echoes) and each TCP port: a one-host sweep. */
  host?: HostResult;
  /** How that sweep sent ICMP, and why not when it did not; absent from reports made before it was kept. */
  icmp?: IcmpStatus;
  trace?: TraceReport;
  pathMtu?: PathMtuReport;
  /** Why the path MTU was not measured (ZENSWEEP_ICMP=off, or no socket for its echoes), in one sentence. */
  pathMtuNotMeasured?: string;
  /** The commands that show the same facts on a Linux host, for the ticket. */
  commands: string[];
  /** The few lines to read first. */
  summary: string[];
  durationMs: number;
}

/** Echoes of the ping part, and their spacing in milliseconds (ping -c 10 -i 0.2). */
export const DIAG_ECHOES = 10;
export const DIAG_ECHO_INTERVAL_MS = 200;

/** The Linux commands equivalent to what a diag reads and sends, in the order the report shows them. */
export function diagCommands(report: Pick<DiagReport, 'address' | 'route' | 'neighbour' | 'host' | 'trace'>): string[] {
  const address = report.address;
  if (!address) return ['getent ahosts NAME', 'cat /etc/resolv.conf'];
  const six = address.includes(':') ? ' -6' : '';
  const commands = [`ip${six} route get ${address}`, `ip${six} address show${report.route ? ` dev ${report.route.device}` : ''}`];
  if (report.neighbour) commands.push(`ip${six} neigh show ${report.neighbour.address}`);
  commands.push('cat /etc/resolv.conf', `ping -c ${DIAG_ECHOES} -i ${DIAG_ECHO_INTERVAL_MS / 1000} ${address}`);
  for (const port of report.host?.ports ?? []) commands.push(`nc -vz -w 2 ${address} ${port.port}`);
  for (const path of report.trace?.paths ?? []) {
    commands.push(path.mode === 'tcp' ? `mtr --report -n -c 3 -T -P ${path.port ?? ''} ${address}` : `mtr --report -n -c 3${path.mode === 'udp' ? ' -u' : ''} ${address}`);
  }
  commands.push(`ping -M do -s SIZE ${address}   (SIZE = packet size - ${address.includes(':') ? 48 : 28})`);
  return commands;
}

const STATE_SUMMARY: Record<HostState, string> = {
  alive: 'answers ICMP echo',
  alive_tcp_only: 'answers TCP only, ICMP filtered',
  prohibited: 'prohibited by a firewall',
  unreachable: 'unreachable',
  silent: 'silent',
};

/**
 * The host's state where no echo was sent (the agent runs without ICMP): what TCP said, and that ICMP was not asked —
 * never "ICMP filtered" nor "silent", which only an echo that went unanswered can say.
 */
const STATE_SUMMARY_WITHOUT_ICMP: Partial<Record<HostState, string>> = {
  alive_tcp_only: 'answers TCP; ICMP not sent',
  silent: 'answers no TCP port; ICMP not sent',
};

/**
 * What the ping part says when no echo was sent, by why ICMP is off where the probes ran: ZENSWEEP_ICMP=off (a
 * choice, no fix to give), or neither a raw socket nor a ping socket could be opened (and how to turn it on).
 */
export const NO_ECHO_WORDS: Record<IcmpOffReason, string> = {
  setting: `ICMP not sent: ${ICMP_OFF_WHY.setting}`,
  unavailable: `ICMP not sent: the agent runs without ICMP (${ICMP_FIX})`,
};

/** The ping part's words without an echo, by the diag's ICMP status; a report without one reads as it did before. */
export function noEchoWords(report: Pick<DiagReport, 'icmp'>): string {
  return NO_ECHO_WORDS[icmpOffReason(report.icmp ?? {})];
}

/** The host's state in the diag's words, as its echo lets it be said. */
export function diagStateWords(host: HostResult): string {
  return (echoNotSent(host) ? STATE_SUMMARY_WITHOUT_ICMP[host.state] : undefined) ?? STATE_SUMMARY[host.state];
}

/** `443/tcp open 0.31 ms`, `22/tcp prohibited by 10.0.0.1`. */
export function describeDiagPort(port: PortResult): string {
  const ms = port.ms === undefined ? '' : ` ${port.ms.toFixed(port.ms < 10 ? 2 : 0)} ms`;
  const by = port.reporter ? ` by ${port.reporter.address === 'local' ? 'the sweeper itself' : port.reporter.address}` : '';
  return `${port.port}/tcp ${port.state}${ms}${by}`;
}

/** The few lines to read first: the host's state with its ports, the trace's conclusion, the path MTU's. */
export function summarizeDiag(report: Omit<DiagReport, 'summary'>): string[] {
  if (!report.address) {
    const asked = report.resolution.servers[0];
    if (asked !== undefined && report.resolution.unroutable?.includes(asked)) {
      return [`${report.target} could not be resolved: name server ${asked} unreachable (no route to it); nothing was probed`];
    }
    return [`${report.target} does not resolve here: nothing was probed`];
  }
  const lines: string[] = [];
  if (report.routeError) lines.push(`no route from here to ${report.address}: ${report.routeError}`);
  const host = report.host;
  if (host) {
    const detail = [host.reporter ? `${host.reporter.reason}, said ${host.reporter.address}` : '', host.ports.map(describeDiagPort).join(', ')].filter(Boolean);
    lines.push(`${report.address} ${diagStateWords(host)}${detail.length > 0 ? ` (${detail.join('; ')})` : ''}`);
  }
  if (report.trace) lines.push(report.trace.conclusion);
  if (report.pathMtu) lines.push(report.pathMtu.conclusion);
  if (report.neighbour?.state === 'incomplete') lines.push(`the next hop ${report.neighbour.address} does not answer ARP`);
  return lines;
}
