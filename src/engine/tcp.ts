import type net from 'node:net';
import { diagnoseLocalError } from '../core/diagnosis.js';
import type { Reporter } from '../core/states.js';
import { netModule } from './builtins.js';
import type { TcpOutcome, TcpProber } from './probers.js';

/** Errors that say the sweeper itself ran short, not that the host did anything. */
const RESOURCE_ERRNOS = new Set(['EADDRNOTAVAIL', 'EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EAGAIN']);

/**
 * TCP connect probes on node:net with a connect timer of their own (a socket's idle timeout is not a connect
 * timeout). Outcomes: open (connected; we reset at once, leaving no TIME_WAIT behind), closed (RST: refused),
 * timeout (filtered), an unreachable error (EHOSTUNREACH/ENETUNREACH, or EPERM from a local firewall), or a
 * shortage of the sweeper's own resources.
 */
export class NodeTcpProber implements TcpProber {
  private readonly sockets = new Set<net.Socket>();
  /** Attempts in progress by `address|port`, to be ended early by an ICMP error seen for them. */
  private readonly attempts = new Map<string, (outcome: TcpOutcome) => void>();
  private closed = false;

  /**
   * Ends an attempt in progress with an ICMP error that the raw ICMP socket saw for its SYN. The kernel may not
   * tell the TCP socket at all: for IPv6 it drops an error that arrives while connect() holds the socket lock,
   * and the connect fails (EACCES) only after the SYN is retransmitted a second later.
   */
  failFromIcmp(address: string, port: number, reporter: Reporter): boolean {
    const finish = this.attempts.get(`${address}|${port}`);
    if (!finish) return false;
    finish({ kind: 'error', reporter });
    return true;
  }

  connect(address: string, port: number, timeoutMs: number, done: (outcome: TcpOutcome) => void): void {
    if (this.closed) return;
    const started = process.hrtime.bigint();
    const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e6;
    let settled = false;
    const socket = netModule().connect({ host: address, port, autoSelectFamily: false });
    const key = `${address}|${port}`;
    this.sockets.add(socket);
    const finish = (outcome: TcpOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.sockets.delete(socket);
      if (this.attempts.get(key) === finish) this.attempts.delete(key);
      if (outcome.kind === 'open') socket.resetAndDestroy();
      else socket.destroy();
      if (!this.closed) done(outcome);
    };
    this.attempts.set(key, finish);
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    socket.once('connect', () => finish({ kind: 'open', ms: elapsed() }));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? 'EUNKNOWN';
      if (code === 'ECONNREFUSED') finish({ kind: 'closed', ms: elapsed() });
      else if (code === 'ETIMEDOUT') finish({ kind: 'timeout' });
      else if (RESOURCE_ERRNOS.has(code)) finish({ kind: 'resource', errno: code });
      else finish({ kind: 'error', reporter: diagnoseLocalError(code) });
    });
  }

  close(): void {
    this.closed = true;
    this.attempts.clear();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}
