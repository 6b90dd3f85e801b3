import { createRequire } from 'node:module';
import type * as Addon from '@zensweep/icmp-socket';
import { ZenSweepError } from '../../core/errors.js';
import { errnoName } from '../icmp/icmp-socket.js';

const require = createRequire(import.meta.url);

/** What one read gave: a datagram (`data`), or an ICMP error about one of the socket's own (`icmp`), or a local one. */
export type ProbeSocketRecord = Addon.ProbeRecord;

/** A ping or UDP probe socket could not be opened (a ping socket: EACCES outside net.ipv4.ping_group_range). */
export class ProbeSocketUnavailableError extends ZenSweepError {
  constructor(
    readonly protocol: 'icmp' | 'udp',
    readonly errno: string,
    cause: unknown,
  ) {
    super('probe_socket_unavailable', `cannot open ${ProbeSocketUnavailableError.needOf(protocol, errno)}`, { cause });
  }

  /** What was missing, as the end of a sentence: `a ping socket (EACCES: set net.ipv4.ping_group_range …)`. */
  get need(): string {
    return ProbeSocketUnavailableError.needOf(this.protocol, this.errno);
  }

  private static needOf(protocol: 'icmp' | 'udp', errno: string): string {
    if (protocol === 'udp') return `a UDP socket (${errno})`;
    const fix = errno === 'EACCES' ? `: set net.ipv4.ping_group_range to cover this process's group` : '';
    return `a ping socket (${errno}${fix})`;
  }
}

export type ProbeSendResult = 'sent' | { errno: string };

/**
 * A trace's or a path MTU search's socket without privilege (the addon's ProbeSocket, native/icmp-socket/src/
 * probe_socket.c): a Linux ping socket (`icmp`: echo requests, the kernel writes the identifier) or a UDP socket,
 * with IP_RECVERR. What it reads goes to `onRecord` with the datagram's bytes (the echo reply from its ICMP header;
 * for an error, the probe as the router quoted it: a ping socket's from its ICMP header, a UDP socket's payload),
 * valid during the call only.
 */
export class DatagramProbeSocket {
  private readonly handle: Addon.ProbeSocket;
  private readonly buffer = Buffer.alloc(65_536);
  private closed = false;

  constructor(
    readonly family: 4 | 6,
    readonly protocol: 'icmp' | 'udp',
    private readonly onRecord: (record: ProbeSocketRecord, bytes: Buffer) => void,
    addon: typeof Addon = require('@zensweep/icmp-socket') as typeof Addon,
  ) {
    try {
      this.handle = new addon.ProbeSocket(family, protocol, () => this.drain());
    } catch (error) {
      const errno = typeof (error as { errno?: unknown }).errno === 'number' ? errnoName((error as { errno: number }).errno) : 'EUNKNOWN';
      throw new ProbeSocketUnavailableError(protocol, errno, error);
    }
  }

  /** Binds the local port (0: the kernel's pick) and returns it: a UDP trace's source port, kept for all probes. */
  bind(port = 0): number {
    const bound = this.handle.bind(port);
    if (bound < 0) throw new ProbeSocketUnavailableError(this.protocol, errnoName(-bound), undefined);
    return bound;
  }

  /** Don't Fragment from now on, at any size up to the interface MTU. */
  setDontFragment(): void {
    const errno = this.handle.dontFragment();
    if (errno !== 0) throw new ProbeSocketUnavailableError(this.protocol, errnoName(errno), undefined);
  }

  /** Sends with this hop limit (0: the system's default); port is the UDP destination port (0 for ICMP). */
  send(packet: Buffer, address: string, port: number, hops: number): ProbeSendResult {
    if (this.closed) return { errno: 'EBADF' };
    const errno = this.handle.send(packet, address, port, hops);
    return errno === 0 ? 'sent' : { errno: errnoName(errno) };
  }

  /** Reads everything queued. */
  drain(): void {
    for (let i = 0; i < 10_000 && !this.closed; i++) {
      const record = this.handle.read(this.buffer);
      if (!record) return;
      this.onRecord(record, this.buffer.subarray(0, record.bytes));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
  }
}
