import type net from 'node:net';
import { diagnoseLocalError } from '../core/diagnosis.js';
import type { Reporter } from '../core/states.js';
import { netModule } from './builtins.js';
import type { TcpOutcome, TcpProber } from './probers.js';

/** Errors that say the sweeper itself ran short, not that the host did anything. */
const RESOURCE_ERRNOS = new Set(['EADDRNOTAVAIL', 'EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EAGAIN']);

/** What the prober uses of a node:net socket. */
export interface ProbeSocket {
  /** The attempt's own source port, once its SYN is on its way; what an ICMP error quoting that SYN names. */
  readonly localPort?: number | undefined;
  once(event: 'connect', listener: () => void): this;
  on(event: 'error', listener: (error: NodeJS.ErrnoException) => void): this;
  destroy(): this;
  resetAndDestroy(): this;
}

/** Opens a socket and starts connecting it; node:net's `connect` unless a test passes its own. */
export type ProbeSocketFactory = (options: net.TcpNetConnectOpts) => ProbeSocket;

/** One connection attempt: its own socket, timer and outcome, whatever else is in flight to the same address:port. */
interface Attempt {
  readonly key: string;
  readonly socket: ProbeSocket;
  readonly started: bigint;
  /** The source port of its SYN, read once the SYN is sent. */
  localPort: number | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Cleared once the attempt is settled: whatever comes after (a late error, its timer, an ICMP error) is ignored. */
  done: ((outcome: TcpOutcome) => void) | undefined;
}

function outcomeOfErrno(code: string, ms: number): TcpOutcome {
  if (code === 'ECONNREFUSED') return { kind: 'closed', ms };
  if (code === 'ETIMEDOUT') return { kind: 'timeout' };
  if (RESOURCE_ERRNOS.has(code)) return { kind: 'resource', errno: code };
  return { kind: 'error', reporter: diagnoseLocalError(code) };
}

/**
 * TCP connect probes on node:net with a connect timer of their own (a socket's idle timeout is not a connect
 * timeout). Outcomes: open (connected; we reset at once, leaving no TIME_WAIT behind), closed (RST: refused),
 * timeout (filtered), an unreachable error (EHOSTUNREACH/ENETUNREACH, or EPERM from a local firewall), or a
 * shortage of the sweeper's own resources.
 *
 * Each attempt ends exactly once, by its timer at the latest, whichever of connect, error, timer and ICMP error
 * comes first and in whatever order the others follow; its socket is destroyed before its outcome is delivered.
 */
export class NodeTcpProber implements TcpProber {
  /** Attempts in flight by `address|port`: a retry may be in flight while an earlier attempt's ICMP error arrives. */
  private readonly attempts = new Map<string, Set<Attempt>>();
  private closed = false;

  constructor(
    private readonly openSocket: ProbeSocketFactory = (options) => netModule().connect(options),
  ) {}

  /** Attempts started and not yet settled. */
  get inFlight(): number {
    let count = 0;
    for (const attempts of this.attempts.values()) count += attempts.size;
    return count;
  }

  /**
   * Ends the attempt whose SYN an ICMP error quotes (to address:port from `sourcePort`), seen by the raw ICMP socket.
   * The kernel may not tell the TCP socket at all: for IPv6 it drops an error that arrives while connect() holds
   * the socket lock, and the connect fails (EACCES) only after the SYN is retransmitted a second later. An error
   * quoting an attempt that has ended already ends nothing (false): it is not about the attempt now in flight.
   */
  failFromIcmp(address: string, port: number, sourcePort: number, reporter: Reporter): boolean {
    const attempts = this.attempts.get(`${address}|${port}`);
    if (!attempts) return false;
    for (const attempt of attempts) {
      if (attempt.localPort === sourcePort) {
        this.settle(attempt, { kind: 'error', reporter });
        return true;
      }
    }
    return false;
  }

  connect(address: string, port: number, timeoutMs: number, done: (outcome: TcpOutcome) => void): void {
    if (this.closed) return;
    const started = process.hrtime.bigint();
    let socket: ProbeSocket;
    try {
      socket = this.openSocket({ host: address, port, autoSelectFamily: false });
    } catch (error) {
      // Delivered later, as every outcome is: never from inside the caller's own call.
      const outcome = outcomeOfErrno((error as NodeJS.ErrnoException).code ?? 'EUNKNOWN', 0);
      setImmediate(() => {
        if (!this.closed) done(outcome);
      });
      return;
    }
    const attempt: Attempt = {
      key: `${address}|${port}`,
      socket,
      started,
      localPort: undefined,
      timer: undefined,
      done,
    };
    // Queued after node:net's own tick that issues the connect() system call: read before it, the port would be
    // empty, and node:net keeps the first answer it gets.
    process.nextTick(() => {
      if (attempt.done) attempt.localPort = socket.localPort;
    });
    let same = this.attempts.get(attempt.key);
    if (!same) {
      same = new Set();
      this.attempts.set(attempt.key, same);
    }
    same.add(attempt);
    attempt.timer = setTimeout(() => this.settle(attempt, { kind: 'timeout' }), timeoutMs);
    socket.once('connect', () => this.settle(attempt, { kind: 'open', ms: elapsedMs(attempt) }));
    // `on`, not `once`: an error after the attempt is settled must find a listener (and is ignored).
    socket.on('error', (error) => this.settle(attempt, outcomeOfErrno(error.code ?? 'EUNKNOWN', elapsedMs(attempt))));
  }

  close(): void {
    this.closed = true;
    for (const attempts of this.attempts.values()) {
      for (const attempt of attempts) {
        attempt.done = undefined;
        clearTimeout(attempt.timer);
        attempt.socket.destroy();
      }
    }
    this.attempts.clear();
  }

  /** Ends an attempt once: timer cleared, forgotten, socket destroyed, and only then the outcome delivered. */
  private settle(attempt: Attempt, outcome: TcpOutcome): void {
    const done = attempt.done;
    if (!done) return;
    attempt.done = undefined;
    clearTimeout(attempt.timer);
    const same = this.attempts.get(attempt.key);
    same?.delete(attempt);
    if (same?.size === 0) this.attempts.delete(attempt.key);
    try {
      if (outcome.kind === 'open') attempt.socket.resetAndDestroy();
      else attempt.socket.destroy();
    } finally {
      if (!this.closed) done(outcome);
    }
  }
}

function elapsedMs(attempt: Attempt): number {
  return Number(process.hrtime.bigint() - attempt.started) / 1e6;
}
