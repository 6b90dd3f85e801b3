import { createRequire } from 'node:module';
import type * as Addon from '@zensweep/icmp-socket';
import { diagnoseIcmpError, diagnoseUnusableV6 } from '../core/diagnosis.js';
import { errnoName } from './icmp/icmp-socket.js';
import type { TcpAttempt, TcpOutcome, TcpProber } from './probers.js';
import { outcomeOfErrno } from './tcp.js';

const require = createRequire(import.meta.url);

/** What a connect may ask for besides the address and port. */
export interface ErrqueueConnectOptions {
  /**
   * The SYN's IP TTL (IPv6 hop limit), 1 to 255; default the system's. A SYN that runs out of hops on the way comes
   * back as ICMP time exceeded from that hop, on the same error queue: the outcome is then that error, with the hop's
   * address (the beginning of a TCP trace without privilege).
   */
  ttl?: number;
}

/** One attempt in flight, by its slot in the addon's connector. */
interface Attempt {
  readonly family: 4 | 6;
  readonly started: bigint;
  readonly done: (outcome: TcpOutcome) => void;
  timer: NodeJS.Timeout | undefined;
}

/** This prober matches no flow: the error queue is the socket's own. */
const NO_FLOWS: TcpAttempt = Object.freeze({ flows: Object.freeze([]) });

/**
 * TCP connect probes made by ZenSweep's addon (native/icmp-socket/src/tcp_connect.c), for a sweeper that has no raw
 * ICMP socket to read the ICMP errors about its SYNs from (no root or CAP_NET_RAW: Kubernetes' restricted profile,
 * Fargate, a ping socket's ICMP). Each socket has IP_RECVERR set, so Linux queues the ICMP error that answers its SYN
 * on the socket's own error queue, with the type, the code and who sent it: a firewall's REJECT reads "prohibited,
 * said 198.18.1.1" exactly as with the raw socket, where node:net's errno (EHOSTUNREACH, EACCES, ECONNREFUSED)
 * names nobody. The outcomes are NodeTcpProber's: open (reset at once, no TIME_WAIT), closed (RST), timeout (this
 * prober's own timer), error (an ICMP error with its sender, or the sweeper's own stack), resource (no descriptor,
 * no local port: EMFILE, EADDRNOTAVAIL…).
 *
 * The error queue is the socket's, so nothing is matched and nothing is remembered; but an error that comes after
 * its attempt timed out is lost with the socket: a retry (`after`) is answered by errors about its own SYN only. (A
 * timed-out socket kept open for its retry would retransmit its SYN a second after sending it, past the sweep's
 * rate; TCP_USER_TIMEOUT does not stop that first retransmission, measured on Linux 6.18: it only ends the socket at
 * the next one.) The raw path still answers a retry with an earlier attempt's late error (a router that answers once its ARP
 * fails, ~3 s later): with timeouts shorter than that, such an address reads filtered here, unreachable there.
 *
 * Each attempt ends exactly once, by its timer at the latest; its socket is closed before its outcome is delivered,
 * and no outcome is delivered from inside `connect`.
 */
export class ErrqueueTcpProber implements TcpProber {
  private readonly connector: Addon.TcpConnector;
  private readonly live = new Map<number, Attempt>();
  private closed = false;

  /** @param addon the addon to use (tests pass the sanitized build the same way: ZENSWEEP_ICMP_ADDON). */
  constructor(addon: typeof Addon = require('@zensweep/icmp-socket') as typeof Addon) {
    this.connector = new addon.TcpConnector((slot, errno, icmpType, icmpCode, sender) =>
      this.ended(slot, errno, icmpType, icmpCode, sender),
    );
  }

  /** Attempts started and not yet settled. */
  get inFlight(): number {
    return this.live.size;
  }

  /** `after` is not used: see the class's notes. */
  connect(address: string, port: number, timeoutMs: number, done: (outcome: TcpOutcome) => void): TcpAttempt {
    return this.probe(address, port, timeoutMs, done);
  }

  /** A connect with options (`ttl`); `connect` is this with none. */
  probe(
    address: string,
    port: number,
    timeoutMs: number,
    done: (outcome: TcpOutcome) => void,
    options: ErrqueueConnectOptions = {},
  ): TcpAttempt {
    if (this.closed) return NO_FLOWS;
    const family = address.includes(':') ? 6 : 4;
    const started = process.hrtime.bigint();
    const unusable = family === 6 ? diagnoseUnusableV6(address) : undefined;
    const slot = unusable ? -1 : this.connector.connect(family, address, port, options.ttl ?? 0);
    if (slot < 0) {
      const outcome: TcpOutcome = unusable ? { kind: 'error', reporter: unusable } : outcomeOfErrno(errnoName(-slot), 0);
      // Delivered later, as every outcome is: never from inside the caller's own call.
      setImmediate(() => {
        if (!this.closed) done(outcome);
      });
      return NO_FLOWS;
    }
    const attempt: Attempt = { family, started, done, timer: undefined };
    this.live.set(slot, attempt);
    attempt.timer = setTimeout(() => this.timedOut(slot, attempt), timeoutMs);
    return NO_FLOWS;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const attempt of this.live.values()) clearTimeout(attempt.timer);
    this.live.clear();
    this.connector.close();
  }

  private timedOut(slot: number, attempt: Attempt): void {
    if (this.live.get(slot) !== attempt) return;
    this.live.delete(slot);
    this.connector.cancel(slot);
    if (!this.closed) attempt.done({ kind: 'timeout' });
  }

  /** The addon's word on an attempt, its socket closed already. Its slot is free again once this returns. */
  private ended(slot: number, errno: number, icmpType: number, icmpCode: number, sender: string | undefined): void {
    const attempt = this.live.get(slot);
    if (!attempt) return;
    // Forgotten first: `done` may start the next attempt, which can take the same slot.
    this.live.delete(slot);
    clearTimeout(attempt.timer);
    const ms = Number(process.hrtime.bigint() - attempt.started) / 1e6;
    let outcome: TcpOutcome;
    if (icmpType >= 0 && sender !== undefined) {
      outcome = { kind: 'error', reporter: diagnoseIcmpError(attempt.family, icmpType, icmpCode, sender) };
    } else if (errno === 0) {
      outcome = { kind: 'open', ms };
    } else {
      outcome = outcomeOfErrno(errnoName(errno), ms);
    }
    if (!this.closed) attempt.done(outcome);
  }
}

/**
 * Which TCP prober an engine uses: `net` (node:net, the ICMP errors about its SYNs read from the raw ICMP socket:
 * NodeTcpProber), `errqueue` (ErrqueueTcpProber: each socket reads its own, no privilege needed), or `auto`: `net`
 * where a raw ICMP socket is open (or a test's socket factory is given), `errqueue` where none is.
 */
export type TcpProberChoice = 'auto' | 'net' | 'errqueue';
