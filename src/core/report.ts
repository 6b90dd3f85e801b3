import type { HostState, PortState, Reporter } from './states.js';
import { HOST_STATES } from './states.js';
import type { EchoStats } from './stats.js';
import type { SweepOptions } from './request.js';

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
