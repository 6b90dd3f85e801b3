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

/** Makes TCP connection attempts. `done` is called exactly once per call, unless the prober is closed first. */
export interface TcpProber {
  connect(address: string, port: number, timeoutMs: number, done: (outcome: TcpOutcome) => void): void;
  close(): void;
}
