/**
 * What a user asked for, after parsing: the same for the CLI and for Slack. Holds no secret, so it can travel in
 * job data as it is.
 */

/** One target token as the user wrote it, validated. Addresses are kept as BigInt ranges (inclusive). */
export type TargetSpec =
  | { kind: 'cidr'; text: string; family: 4 | 6; prefix: number; start: bigint; end: bigint }
  | { kind: 'address'; text: string; family: 4 | 6; start: bigint; end: bigint }
  | { kind: 'range'; text: string; family: 4 | 6; start: bigint; end: bigint }
  | { kind: 'name'; text: string; name: string };

export interface SweepOptions {
  /** TCP ports to probe on every host, sorted, unique; empty for an ICMP-only sweep. */
  ports: number[];
  /** ICMP echoes per host, default 1. */
  count: number;
  /** Time to wait for an answer to one probe, in milliseconds, default 1000. */
  timeoutMs: number;
  /** Extra attempts for a probe that got no answer at all, default 1 (each waits 1.5× longer). */
  retries: number;
  /** Packets per second for the whole sweep; 0 means unlimited. Default 10,000. */
  rate: number;
  /** Gap between two echoes to the same host when count > 1, in milliseconds, default 1000 (as ping). */
  intervalMs: number;
  /** Agent group to run in (`vpc:NAME`, or `vpc:all` for every group's declared CIDRs); used by the dispatcher. */
  vpc?: string;
  /**
   * Several agent groups (`vpc:onprem,prod`, two or more, sorted), each sweeping the same targets; only with `from:`.
   * `vpc` is then absent.
   */
  vpcs?: string[];
  /**
   * Where the same targets are swept from, each a vantage of its own: `all` every live agent of the group (or of
   * each group of `vpcs`), `each` each group of `vpcs` (any one of its agents). Absent: once, by any agent.
   */
  from?: Vantages;
  /** Save this sweep as a named baseline (`save:NAME`). */
  save?: string;
  /** Compare this sweep with a named baseline (`compare:NAME`). */
  compare?: string;
  /** Look up the PTR name of every host that answered (`dns:on`), where the probes run; absent: off. */
  dns?: boolean;
}

/** `from:all` (every live agent) or `from:each` (each named group). */
export const VANTAGES = ['all', 'each'] as const;
export type Vantages = (typeof VANTAGES)[number];

export const DEFAULT_OPTIONS: Readonly<SweepOptions> = Object.freeze({
  ports: [],
  count: 1,
  timeoutMs: 1000,
  retries: 1,
  rate: 10_000,
  intervalMs: 1000,
});

/**
 * What one sweep may ask for, stated once: the grammar refuses what lies outside, the job schema refuses it again in
 * the agent (job data may come from anywhere), and the services bound their settings with the same figures.
 * Each range is inclusive.
 */
export const SWEEP_LIMITS = Object.freeze({
  /** TCP port numbers, and how many distinct ports one sweep may probe on every host. */
  ports: Object.freeze({ min: 1, max: 65_535, distinct: 1_024 }),
  /** ICMP echoes per host. */
  count: Object.freeze({ min: 1, max: 100 }),
  /** Wait for one probe's answer, in milliseconds. */
  timeoutMs: Object.freeze({ min: 1, max: 60_000 }),
  /** Extra attempts for a probe that got no answer. */
  retries: Object.freeze({ min: 0, max: 10 }),
  /** Packets per second; 0 means unlimited. */
  rate: Object.freeze({ min: 0, max: 1_000_000 }),
  /** Gap between two echoes to the same host, in milliseconds. */
  intervalMs: Object.freeze({ min: 1, max: 60_000 }),
  /**
   * Distinct addresses of one sweep: 65,536 by default (an IPv4 /16 is 65,534 probed addresses), and at most this
   * much whatever the settings say. An agent holds every chunk to the default.
   */
  addresses: Object.freeze({ default: 65_536, max: 16_777_216 }),
});

export interface SweepRequest {
  targets: TargetSpec[];
  options: SweepOptions;
}
