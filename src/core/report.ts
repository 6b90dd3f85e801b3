import type { HostState, PortState, Reporter } from './states.js';
import { HOST_STATES } from './states.js';
import type { EchoStats } from './stats.js';
import type { SweepOptions } from './request.js';
import type { ProbeSet, SweepDiff } from './diff-model.js';
import { addressCount, formatCount } from './format.js';

/** The outcome for one TCP port of one host. */
export interface PortResult {
  port: number;
  state: PortState;
  /** Connect time in milliseconds (fractional) for `open` and `closed`. */
  ms?: number;
  /** Who answered, for `unreachable` and `prohibited`. */
  reporter?: Reporter;
  /** Connection attempts made (1 + retries used). */
  attempts: number;
  /** The sweep stopped (past its time bound) before this probe ended: `filtered` here is no verdict. */
  unanswered?: true;
}

export interface HostResult {
  ip: string;
  /** Host names that resolved to this address, when the target was a name. */
  names?: string[];
  /** With `dns:on`, for a host that answered: its PTR name where the probes ran. */
  ptr?: string;
  /** With `dns:on`: why the PTR lookup failed, in the resolver's code (ETIMEOUT…); absent when there is no record. */
  ptrError?: string;
  state: HostState;
  /** Echo statistics; `sent` is 0 when ICMP could not be used. */
  icmp: EchoStats;
  ports: PortResult[];
  /** For `prohibited` and `unreachable`: who said so. */
  reporter?: Reporter;
  /** The sweep stopped (past its time bound) before every probe of this host ended; the state is from those that did. */
  unfinished?: true;
  /** On-link targets only: whether anything answered ARP (IPv4) or neighbour discovery (IPv6) for this address. */
  link?: 'answered' | 'no_answer';
  /** With `link: 'answered'`: the link-layer address that answered, lower-case `aa:bb:cc:dd:ee:ff`. */
  mac?: string;
}

/**
 * The names said beside a host's address: those it was swept by (its target was a name), then its PTR name
 * (`dns:on`) when that is another.
 */
export function shownNames(host: Pick<HostResult, 'names' | 'ptr'>): string[] | undefined {
  const names = host.names ?? [];
  const all = host.ptr !== undefined && !names.includes(host.ptr) ? [...names, host.ptr] : names;
  return all.length > 0 ? all : undefined;
}

/** A host name target and what it resolved to where the probes ran. */
export interface NameResolution {
  name: string;
  addresses: string[];
  /** Set when the name did not resolve, e.g. `ENOTFOUND`. */
  error?: string;
}

export type StateCounts = Record<HostState, number>;

export interface SweepSummary extends StateCounts {
  /** Addresses probed to the end. */
  total: number;
}

/** Why a sweep ended before every probe was answered. */
export interface SweepStop {
  /** `cancelled`: someone stopped it; `over_time`: it ran past the time its own arithmetic allows (a safeguard). */
  code: 'cancelled' | 'over_time';
  /** One sentence for a person. */
  reason: string;
}

/**
 * The first of a report's targets when the request was `vpc:all` alone (no target of its own): the targets that
 * follow are the networks it swept, every group's declared CIDRs.
 */
export const ALL_GROUPS = 'vpc:all';

/**
 * How the sweeper sent ICMP echo: a raw socket (root or CAP_NET_RAW), a Linux ping socket (no privilege, where
 * net.ipv4.ping_group_range covers the process), or not at all (TCP probes only).
 */
export type IcmpMode = 'raw' | 'ping' | 'off';

/**
 * Why a sweeper sent no ICMP echo: its operator turned it off (`setting`: ZENSWEEP_ICMP=off, a choice that no
 * privilege changes), or it could open no ICMP socket (`unavailable`: no CAP_NET_RAW, and net.ipv4.ping_group_range
 * leaves its group out), which has a fix.
 */
export type IcmpOffReason = 'setting' | 'unavailable';

/** Whether and how the sweep could send ICMP. */
export interface IcmpStatus {
  available: boolean;
  /** Absent from reports made before the mode was recorded: read it with icmpModeOf. */
  mode?: IcmpMode;
  /** With mode off: why. Absent from reports made before it was recorded: read it with icmpOffReason. */
  reason?: IcmpOffReason;
  /**
   * Why ICMP was not sent, and the fix when there is one, when it was not; in a report whose agents differed
   * (agentsWithoutIcmp), the first of those without it (by chunk index) said this.
   */
  warning?: string;
}

/** How each mode is said, in a log line, a footer, the list of agents. */
export const ICMP_MODE_WORDS: Record<IcmpMode, string> = {
  raw: 'ICMP through a raw socket',
  ping: 'ICMP through a ping socket (no privilege)',
  off: 'ICMP not sent, TCP probes only',
};

/** A report's ICMP mode; for one made before the mode was recorded, raw when ICMP was available. */
export function icmpModeOf(icmp: IcmpStatus): IcmpMode {
  return icmp.mode ?? (icmp.available ? 'raw' : 'off');
}

/**
 * Why no echo went; a status recorded before the reason was kept reads as `unavailable`, the words it was said in
 * then.
 */
export function icmpOffReason(icmp: { reason?: IcmpOffReason }): IcmpOffReason {
  return icmp.reason ?? 'unavailable';
}

/** The fix an operator applies when neither ICMP socket may be opened; ZENSWEEP_ICMP=off has none (it is a choice). */
export const ICMP_FIX = 'set net.ipv4.ping_group_range, or add NET_RAW';

/**
 * Why no echo went, in the fewest words, every place that says it (the list of agents, footers, diag, trace): the
 * setting by its name, the want of a socket by what is missing.
 */
export const ICMP_OFF_WHY: Record<IcmpOffReason, string> = {
  setting: 'ZENSWEEP_ICMP=off',
  unavailable: 'no NET_RAW, no ping_group_range',
};

/** The warning of a sweeper with ZENSWEEP_ICMP=off: the setting, and no fix (wanting a socket, it names the fix). */
export const ICMP_OFF_SETTING_WARNING = `ICMP not sent: ${ICMP_OFF_WHY.setting}; running the TCP probes only`;

/**
 * What refuses a probe made of ICMP echo (an ICMP trace, the path MTU search) under ZENSWEEP_ICMP=off: `an ICMP trace
 * sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here`. Read alone and after `ICMP not traced: `.
 */
export function icmpOffRefusal(what: string): string {
  return `${what} sends ICMP echo, and ${ICMP_OFF_WHY.setting} sends none from here`;
}

/**
 * The agents of a distributed report that sent no ICMP echo, when others did: each host is then worded by how its
 * own agent probed it (a host's `icmp.sent` is 0 where no echo went), and the report says who ran without ICMP.
 * Empty for a report whose agents all sent ICMP, or none did (its `icmp` says that), and for a local sweep.
 */
export function agentsWithoutIcmp(report: SweepReport | { chunks?: readonly ChunkAccount[] }): string[] {
  const chunks = 'chunks' in report ? (report.chunks ?? []) : [];
  const off = new Set(chunks.filter((c) => c.icmpMode === 'off').map((c) => c.agentId));
  const on = chunks.some((c) => c.icmpMode !== undefined && c.icmpMode !== 'off');
  return on ? [...off].sort() : [];
}

/**
 * The agents of agentsWithoutIcmp by why they sent none (each agent by its first chunk), the setting first: one
 * entry when they all agree, none when agentsWithoutIcmp is empty.
 */
export function agentsWithoutIcmpByReason(report: SweepReport | { chunks?: readonly ChunkAccount[] }): { reason: IcmpOffReason; agents: string[] }[] {
  const without = agentsWithoutIcmp(report);
  const chunks = 'chunks' in report ? [...(report.chunks ?? [])].sort((a, b) => a.index - b.index) : [];
  const reasonOf = (agent: string): IcmpOffReason =>
    icmpOffReason({ reason: chunks.find((c) => c.agentId === agent && c.icmpMode === 'off')?.icmpReason });
  return (['setting', 'unavailable'] as const)
    .map((reason) => ({ reason, agents: without.filter((agent) => reasonOf(agent) === reason) }))
    .filter((group) => group.agents.length > 0);
}

export interface SweepReport {
  /** The targets as the user wrote them; for `vpc:all` alone, `vpc:all` then the networks it swept (ALL_GROUPS). */
  targets: string[];
  options: SweepOptions;
  /** ISO 8601. */
  startedAt: string;
  durationMs: number;
  /** False when the sweep was cancelled, or stopped past its time bound, before every address was probed. */
  complete: boolean;
  /** Why it stopped early, when it did. */
  stopped?: SweepStop;
  /** Addresses planned; equals summary.total when complete. */
  planned: number;
  icmp: IcmpStatus;
  summary: SweepSummary;
  names: NameResolution[];
  /** In address order (IPv4 first). */
  hosts: HostResult[];
}

/** A chunk of a distributed sweep as it came back, for the report's account of who ran what. */
export interface ChunkAccount {
  index: number;
  group: string;
  agentId: string;
  /** 1 on the first try; more when the chunk ran again after a failure or a stalled agent. */
  attempt: number;
  /** Times the chunk was found stalled (its agent stopped answering) before this run. */
  stalled: number;
  durationMs: number;
  /** How its agent sent ICMP echo for this chunk's hosts (absent in reports made before it was kept). */
  icmpMode?: IcmpMode;
  /** With icmpMode off: why (absent in reports made before it was kept: read it with icmpOffReason). */
  icmpReason?: IcmpOffReason;
}

/**
 * One vantage of a sweep asked `from:all` or `from:each`: what one agent (`from:all`) or one agent group
 * (`from:each`) saw of the same targets.
 */
export interface VantageView {
  /** How the report names it: the agent's id (`prod-a`) for `from:all`, the group (`onprem`) for `from:each`. */
  name: string;
  group: string;
  /** `from:all`: the agent that was to run every chunk of this view. */
  agent?: string;
  /** Every chunk of this view ran to the end. */
  complete: boolean;
  /** Why some or all of this view is missing (its agent left mid-sweep): that agent's trouble, not the hosts'. */
  missing?: string;
  /** Addresses this view was to probe (names not counted). */
  planned: number;
  summary: SweepSummary;
  names: NameResolution[];
  /** In address order (IPv4 first). */
  hosts: HostResult[];
}

/**
 * A sweep run by agents through Redis: the report model, who ran it, and what changed since the last sweep of the
 * same targets or against a named baseline. The CLI's local sweep is the same model without these fields.
 */
export interface DistributedReport extends SweepReport {
  sweepId: string;
  groups: string[];
  requestedBy: string;
  chunks: ChunkAccount[];
  /** True when someone cancelled the sweep (then `complete` is false too). */
  cancelled: boolean;
  /** Chunks that failed for good (out of scope, bad data), with the reason. */
  failures: { index: number; group: string; reason: string }[];
  /**
   * Against the last sweep of the same targets, when there was one. `probedBefore`: how that sweep probed, when it
   * differs from this one (other TCP ports, another count).
   */
  changes?: { since: string; sinceId: string; diff: SweepDiff; probedBefore?: ProbeSet };
  /** Against the baseline named with compare:NAME (absent when no baseline has that name). */
  baseline?: { name: string; at: string; diff: SweepDiff; probedBefore?: ProbeSet };
  /** The baseline saved with save:NAME. */
  savedAs?: string;
  /** save:NAME that was not saved (the sweep is partial), and why, in one sentence. */
  notSaved?: { name: string; reason: string };
  /**
   * `from:all` / `from:each`: one view per vantage, in the plan's order. `hosts` and `summary` are then the combined
   * view (each host as the vantage that reached it best saw it), so what reads one view of a sweep reads this one.
   */
  vantages?: VantageView[];
}

/** Either report: views take both and show the run's part when there is one. */
export type AnyReport = SweepReport | DistributedReport;

export function isDistributed(report: AnyReport): report is DistributedReport {
  return 'sweepId' in report;
}

export function emptyCounts(): StateCounts {
  return { alive: 0, alive_tcp_only: 0, prohibited: 0, unreachable: 0, silent: 0 };
}

export function summarize(hosts: readonly HostResult[]): SweepSummary {
  const counts = emptyCounts();
  for (const host of hosts) counts[host.state] += 1;
  return { ...counts, total: hosts.length };
}

export function statesInOrder(): readonly HostState[] {
  return HOST_STATES;
}

/** Why a sweep is partial: someone cancelled it, it ran past its time bound, or some of its chunks failed for good. */
export type PartialCause = 'cancelled' | 'over_time' | 'failed';

/** Why a report is partial, or undefined when it is complete. */
export function partialCause(report: AnyReport): PartialCause | undefined {
  if (report.complete) return undefined;
  if (isDistributed(report) && report.cancelled) return 'cancelled';
  if (report.stopped) return report.stopped.code;
  if (isDistributed(report) && report.failures.length > 0) return 'failed';
  // A local sweep stopped short without a time bound's reason was interrupted (Ctrl-C): cancelled.
  return 'cancelled';
}

const PARTIAL_ENDS: Record<PartialCause, string> = {
  cancelled: 'before it was cancelled',
  over_time: 'before it was stopped past its time bound',
  failed: 'as some of its chunks failed',
};

/** `partial: 312 of 1,022 addresses probed before it was cancelled`. */
export function partialWords(cause: PartialCause, probed: number, planned: number): string {
  return `partial: ${formatCount(probed)} of ${addressCount(planned)} probed ${PARTIAL_ENDS[cause]}`;
}
