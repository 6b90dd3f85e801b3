/**
 * The model of "what changed" between two sweeps: what history keeps per host, how a sweep probed, and the diff
 * itself. Apart from diff.ts (which computes it) so that the report model can hold a diff without importing the
 * computation, and the computation can read report hosts without a circle.
 */
import type { HostState } from './states.js';

/** What history keeps per host: the address and its state. */
export type CompactHost = [ip: string, state: HostState];

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
}

export interface SweepDiff {
  /** Answering now (`alive` or `alive_tcp_only`), not answering before or not swept before; state now. */
  appeared: CompactHost[];
  /** Answering before, now `silent`, `unreachable` or `prohibited`; state now. */
  wentSilent: CompactHost[];
  /** Every other change of state, e.g. `alive` → `alive_tcp_only`, `silent` → `prohibited`. */
  changed: { ip: string; from: HostState; to: HostState }[];
  /** Hosts of the later sweep whose state did not change. */
  unchanged: number;
  /**
   * Hosts that answered before only on TCP ports the later sweep did not probe, and do not answer now: not probed
   * the same way, so neither "went silent" nor unchanged. Absent in diffs made before it existed.
   */
  notCompared?: { ip: string; ports: number[] }[];
}
