import type net from 'node:net';
import { diagnoseLocalError, diagnoseUnusableV6 } from '../core/diagnosis.js';
import type { Reporter } from '../core/states.js';
import { netModule } from './builtins.js';
import type { TcpAttempt, TcpOutcome, TcpProber } from './probers.js';

/** Errors that say the sweeper itself ran short, not that the host did anything. */
const RESOURCE_ERRNOS = new Set(['EADDRNOTAVAIL', 'EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EAGAIN']);

/** What the prober uses of a node:net socket. */
export interface ProbeSocket {
  /** The attempt's own source address and port, once its SYN is on its way: what an ICMP error quoting it names. */
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
  once(event: 'connect', listener: () => void): this;
  on(event: 'error', listener: (error: NodeJS.ErrnoException) => void): this;
  destroy(): this;
  resetAndDestroy(): this;
}

/** Opens a socket and starts connecting it; node:net's `connect` unless a test passes its own. */
export type ProbeSocketFactory = (options: net.TcpNetConnectOpts) => ProbeSocket;

/** The flow of a TCP segment as an ICMP error quotes it (codec.ts's QuotedTcp). */
export interface QuotedFlow {
  source: string;
  sourcePort: number;
  destination: string;
  destinationPort: number;
}

/** One connection attempt: its own socket, timer and outcome, whatever else is in flight to the same address:port. */
interface Attempt extends TcpAttempt {
  readonly socket: ProbeSocket;
  readonly started: bigint;
  /** Its own flow and those of the timed-out attempts it retries (TcpAttempt.flows). */
  readonly flows: string[];
  timer: NodeJS.Timeout | undefined;
  /** Cleared once the attempt is settled: whatever comes after (a late error, its timer, an ICMP error) is ignored. */
  done: ((outcome: TcpOutcome) => void) | undefined;
}

function flowKey(source: string, sourcePort: number, destination: string, destinationPort: number): string {
  return `${source}|${sourcePort}|${destination}|${destinationPort}`;
}

/** What a failed connect's errno says: refused (an RST), timed out, the sweeper short of something, or unreachable. */
export function outcomeOfErrno(code: string, ms: number): TcpOutcome {
  if (code === 'ECONNREFUSED') return { kind: 'closed', ms };
  if (code === 'ETIMEDOUT') return { kind: 'timeout' };
  if (RESOURCE_ERRNOS.has(code)) return { kind: 'resource', errno: code };
  return { kind: 'error', reporter: diagnoseLocalError(code) };
}

/**
 * TCP connect probes on node:net with a connect timer of their own (a socket's idle timeout is not a connect
 * timeout). Outcomes: open (connected; we reset at once, leaving no TIME_WAIT behind), closed (RST: refused),
 * timeout (filtered), an ICMP error (a firewall or a router, named), an unreachable error of the sweeper's own stack
 * (EHOSTUNREACH/ENETUNREACH, or EPERM from a local firewall), or a shortage of the sweeper's own resources.
 *
 * An ICMP error counts for an attempt only if it quotes that attempt's own flow: source address and port, destination
 * address and port. While the attempt's socket is open no other socket of the host can hold that flow, so the error
 * is about this attempt's SYN, whoever else probes the same host and port at the same time (another sweep, another
 * agent, another process); an error that quotes no attempt in flight is about nothing of ours and ends nothing.
 * Nothing is remembered from one attempt to another, or for a while. (The quoted sequence number cannot be compared
 * as well: node:net does not tell a socket's initial sequence number, and the kernel only with CAP_NET_ADMIN.)
 *
 * Each attempt ends exactly once, by its timer at the latest, whichever of connect, error, timer and ICMP error
 * comes first and in whatever order the others follow; its socket is destroyed before its outcome is delivered.
 */
export class NodeTcpProber implements TcpProber {
  /** Attempts started and not settled. */
  private readonly live = new Set<Attempt>();
  /** The attempt in flight that each flow belongs to, once its SYN is sent. */
  private readonly byFlow = new Map<string, Attempt>();
  private closed = false;

  /**
   * @param openSocket makes the sockets (tests pass their own).
   * @param readIcmpErrors reads the ICMP errors already queued on the raw ICMP sockets, each handed to `failFromIcmp`:
   *   called when a socket fails, before its own error is taken as the outcome. The kernel queues its copy of an
   *   ICMP error to the raw sockets as it fails the TCP socket, but the event loop may report the TCP failure first;
   *   the copy names who sent it (a router, a firewall's host) and its type and code, where the socket's errno
   *   (EHOSTUNREACH, EACCES, ECONNREFUSED for a REJECT with port unreachable) names nobody.
   */
  constructor(
    private readonly openSocket: ProbeSocketFactory = (options) => netModule().connect(options),
    private readonly readIcmpErrors?: () => void,
  ) {}

  /** Attempts started and not yet settled. */
  get inFlight(): number {
    return this.live.size;
  }

  /**
   * Ends the attempt in flight whose flow an ICMP error quotes (its own SYN, or one of the timed-out attempts it
   * retries: TcpAttempt.flows), with that error. False when the flow is no attempt's in flight: the error is about
   * another process's connection, or an attempt that has ended already, and ends nothing.
   *
   * The kernel may not tell the TCP socket at all: for IPv6 it drops an error that arrives while connect() holds
   * the socket lock, and the connect fails (EACCES) only after the SYN is retransmitted a second later.
   */
  failFromIcmp(quoted: QuotedFlow, reporter: Reporter): boolean {
    const attempt = this.byFlow.get(flowKey(quoted.source, quoted.sourcePort, quoted.destination, quoted.destinationPort));
    if (!attempt) return false;
    this.settle(attempt, { kind: 'error', reporter });
    return true;
  }

  connect(address: string, port: number, timeoutMs: number, done: (outcome: TcpOutcome) => void, after?: TcpAttempt): TcpAttempt {
    const started = process.hrtime.bigint();
    const unusable = address.includes(':') ? diagnoseUnusableV6(address) : undefined;
    let socket: ProbeSocket | undefined;
    let failed: TcpOutcome | undefined;
    if (unusable) {
      failed = { kind: 'error', reporter: unusable };
    } else if (!this.closed) {
      try {
        socket = this.openSocket({ host: address, port, autoSelectFamily: false });
      } catch (error) {
        failed = outcomeOfErrno((error as NodeJS.ErrnoException).code ?? 'EUNKNOWN', 0);
      }
    }
    if (!socket) {
      // Delivered later, as every outcome is: never from inside the caller's own call.
      const outcome = failed;
      if (outcome && !this.closed) {
        setImmediate(() => {
          if (!this.closed) done(outcome);
        });
      }
      return { flows: after?.flows ?? [] };
    }
    const attempt: Attempt = { socket, started, flows: [], timer: undefined, done };
    this.live.add(attempt);
    // The attempts this one retries timed out, but an ICMP error about their SYNs may still come (a router answers
    // once its ARP fails, about 3 s later): it answers this probe, so it ends this attempt.
    for (const flow of after?.flows ?? []) this.own(attempt, flow);
    // Queued after node:net's own tick that issues the connect() system call: read before it, the flow would be
    // unknown, and node:net keeps the first answer it gets.
    process.nextTick(() => {
      if (!attempt.done || socket.localPort === undefined || socket.localAddress === undefined) return;
      this.own(attempt, flowKey(socket.localAddress, socket.localPort, address, port));
    });
    attempt.timer = setTimeout(() => this.settle(attempt, { kind: 'timeout' }), timeoutMs);
    socket.once('connect', () => this.settle(attempt, { kind: 'open', ms: elapsedMs(attempt) }));
    // `on`, not `once`: an error after the attempt is settled must find a listener (and is ignored).
    socket.on('error', (error) => this.failed(attempt, error));
    return attempt;
  }

  close(): void {
    this.closed = true;
    for (const attempt of this.live) {
      attempt.done = undefined;
      clearTimeout(attempt.timer);
      attempt.socket.destroy();
    }
    this.live.clear();
    this.byFlow.clear();
  }

  private own(attempt: Attempt, flow: string): void {
    attempt.flows.push(flow);
    this.byFlow.set(flow, attempt);
  }

  /** The socket failed: an ICMP error already queued for its SYN ends it first, with who sent it. */
  private failed(attempt: Attempt, error: NodeJS.ErrnoException): void {
    if (!attempt.done) return;
    this.readIcmpErrors?.();
    this.settle(attempt, outcomeOfErrno(error.code ?? 'EUNKNOWN', elapsedMs(attempt)));
  }

  /** Ends an attempt once: timer cleared, forgotten, socket destroyed, and only then the outcome delivered. */
  private settle(attempt: Attempt, outcome: TcpOutcome): void {
    const done = attempt.done;
    if (!done) return;
    attempt.done = undefined;
    clearTimeout(attempt.timer);
    this.live.delete(attempt);
    for (const flow of attempt.flows) if (this.byFlow.get(flow) === attempt) this.byFlow.delete(flow);
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
