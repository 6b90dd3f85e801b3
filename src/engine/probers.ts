import type { Reporter } from '../core/states.js';

/**
 * What one echo request came to, as plain arguments (a /16 sweep settles 65,536 echoes; no object is made for
 * each): `rttMs` ≥ 0 for a reply; otherwise −1, with the `reporter` of an ICMP or local error, or without one
 * for a timeout. `context` is what the caller passed to `echo`.
 */
export type EchoDone<C> = (context: C, rttMs: number, reporter: Reporter | undefined) => void;

/** What one TCP connection attempt came to. */
export type TcpOutcome =
  | { kind: 'open'; ms: number }
  | { kind: 'closed'; ms: number }
  | { kind: 'timeout' }
  | { kind: 'error'; reporter: Reporter }
  /** The sweeper ran out of something (ports, descriptors): not the host's fault, try again later. */
  | { kind: 'resource'; errno: string };

/** Sends ICMP echo requests. `done` is called exactly once per call, unless the prober is closed first. */
export interface EchoProber {
  echo<C>(address: string, family: 4 | 6, timeoutMs: number, context: C, done: EchoDone<C>): void;
  /** Reads the replies already queued, so their RTTs are not stretched by slow work that follows (a connect). */
  poll(): void;
  close(): void;
}

/** One TCP connection attempt, as `connect` returns it: what its retry needs to know of it. */
export interface TcpAttempt {
  /**
   * The flows (source address and port, destination address and port) of its SYN, once sent, and of the attempts
   * it retried: an ICMP error quoting one of them is about this probe.
   */
  readonly flows: readonly string[];
}

/** Makes TCP connection attempts. `done` is called exactly once per call, unless the prober is closed first. */
export interface TcpProber {
  /**
   * @param after the attempt of the same probe that timed out, when this one retries it: an ICMP error about that
   *   attempt's SYN (or an earlier one's) that arrives while this one is in flight ends this one (a router that
   *   answers once its ARP fails, seconds later, answers the probe).
   */
  connect(address: string, port: number, timeoutMs: number, done: (outcome: TcpOutcome) => void, after?: TcpAttempt): TcpAttempt;
  close(): void;
}
