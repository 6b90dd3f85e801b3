import type { HostState, PortState, Reporter } from './states.js';
import { HOST_STATES } from './states.js';
import type { EchoStats } from './stats.js';
import type { SweepOptions } from './request.js';
import type { ProbeSet, SweepDiff } from './diff-model.js';

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

export interface SweepReport {
  /** The targets as the user wrote them. */
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
  icmp: { available: boolean; warning?: string };
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
