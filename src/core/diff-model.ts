/**
 * The model of "what changed" between two sweeps: what is compared per host, how a sweep probed, and the diff
 * itself. Apart from diff.ts (which computes it) so that the report model can hold a diff without importing the
 * computation, and the computation can read report hosts without a circle.
 */
import type { HostState, PortState } from './states.js';

/** A host in a list of the diff: its address and the state of its fact (core/facts.ts) in the later sweep. */
export type CompactHost = [ip: string, state: HostState];

/**
 * A host as two sweeps are compared: its address and its fact (`hostFact` in core/facts.ts, e.g.
 * `alive 22/closed 5432/open`; a state alone in history records written before facts were kept).
 */
export type FactHost = [ip: string, fact: string];

/** How a sweep probed, as far as it decides whether two sweeps' answers compare: TCP ports and echoes per host. */
export interface ProbeSet {
  ports: number[];
  count: number;
}

/** What makes a comparison like with like when the two sweeps probed different TCP ports. */
export interface DiffContext {
  /** The TCP ports each host of the earlier sweep answered on (open or closed); hosts not listed answered on none. */
  answeredOn: ReadonlyMap<string, readonly number[]>;
  /** The TCP ports the later sweep probed. */
  portsNow: readonly number[];
  /**
   * Addresses of the later sweep to which no ICMP echo was sent (their agent ran without ICMP): a silent fact reads
   * the same with or without an echo, so this says which silences were never asked by ICMP. Absent: every address
   * got its echo, or the facts say otherwise (`icmp/unsent`).
   */
  noEchoNow?: ReadonlySet<string>;
}

/** A TCP port probed by both sweeps whose state changed, e.g. 5432 `open` → `closed`. */
export interface PortChange {
  port: number;
  from: PortState;
  to: PortState;
}

export interface SweepDiff {
  /** Answering now (`alive` or `alive_tcp_only`), not answering before or not swept before; state now. */
  appeared: CompactHost[];
  /** Answering before, now `silent`, `unreachable` or `prohibited`; state now. */
  wentSilent: CompactHost[];
  /**
   * Every other change of fact: of state (`alive` → `alive_tcp_only`, `silent` → `prohibited`), of the ports both
   * sweeps probed (`from` and `to` the same state then), or both. States are the facts' (a host unreachable only
   * because nothing answered its neighbour lookup is `silent`). `ports` is absent in diffs made before it existed.
   */
  changed: { ip: string; from: HostState; to: HostState; ports?: PortChange[] }[];
  /** Hosts of the later sweep whose fact did not change. */
  unchanged: number;
  /**
   * Hosts that answered before only on TCP ports the later sweep did not probe, and do not answer now: not probed
   * the same way, so neither "went silent" nor unchanged. Absent in diffs made before it existed.
   */
  notCompared?: { ip: string; ports: number[] }[];
  /**
   * Hosts whose facts differ only in what ICMP was asked: one of the two sweeps sent them no echo (its agent ran
   * without ICMP), and what both could see, TCP, is the same (`alive` then, "TCP answered; ICMP not sent" now). No
   * change of the host, so in no other list; `unsent` says which sweep sent no echo. Absent in diffs made before it.
   */
  echoNotCompared?: { ip: string; then: HostState; now: HostState; unsent: 'then' | 'now' }[];
}
