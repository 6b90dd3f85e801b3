import { ZenSweepError } from '../../core/errors.js';
import { icmpOffRefusal } from '../../core/report.js';
import type { NativeSocket } from 'raw-socket';
import { FAMILY_CODE, errnoOf, installIcmpFilter, native } from '../icmp/raw-transport.js';

/**
 * One raw socket of the trace: ICMP or ICMPv6 (echo probes, and every error a router sends back), TCP (SYN probes,
 * and the SYN-ACK or RST of the target) or UDP (datagram probes). Sends are synchronous `sendto` calls on raw-socket's
 * native handle (see icmp/raw-transport.ts), so the hop limit set just before a send is the one that packet carries:
 * Node's own sockets cannot do that (dgram's setTTL races its queued sends; net.Socket has no TTL at all).
 */

const PROTOCOL_NUMBER = { icmp: 1, tcp: 6, udp: 17, icmp6: 58 } as const;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const IPPROTO_IP = 0;
const IP_TTL = 2;
const IP_MTU_DISCOVER = 10;
const IPPROTO_IPV6 = 41;
const IPV6_UNICAST_HOPS = 16;
const IPV6_MTU_DISCOVER = 23;
const IPV6_DONTFRAG = 62;
/** Set DF and send at the size asked even above a path MTU the kernel has learnt (Linux 2.6.31+). */
const PMTUDISC_PROBE = 3;

export type ProbeProtocol = 'icmp' | 'tcp' | 'udp';

/**
 * A trace or path MTU probe cannot be sent: no raw socket (root or CAP_NET_RAW), and, where one was tried, no socket
 * without privilege either (`message` then says both).
 */
export class TraceUnavailableError extends ZenSweepError {
  /** Why the raw socket could not be opened (EPERM). */
  readonly errno: string;

  constructor(cause: unknown, message?: string) {
    const errno = cause instanceof TraceUnavailableError ? cause.errno : errnoOf(cause);
    super(
      'trace_unavailable',
      message ?? `trace and path MTU probes need raw sockets: run as root or with CAP_NET_RAW (docker: cap_add: [NET_RAW]) (${errno})`,
      { cause },
    );
    this.errno = errno;
  }
}

/**
 * ZENSWEEP_ICMP=off: this process sends no ICMP echo, by its operator's choice, so a probe made of echoes (an ICMP
 * trace, the path MTU search) is refused before any socket is tried; no privilege would change that. UDP and TCP
 * traces send no echo and still run.
 */
export class IcmpOffError extends ZenSweepError {
  /** @param what the probe refused, as a sentence begins: `an ICMP trace`, `the path MTU search`. */
  constructor(what: string) {
    super('icmp_off', icmpOffRefusal(what));
  }
}

export type RawSendResult = 'sent' | { errno: string };

export class RawProbeSocket {
  private readonly handle: NativeSocket;
  private readonly buffer = Buffer.alloc(65_536);
  private hopLimit = -1;
  private closed = false;

  /**
   * @param onPacket every packet read (IPv4: with its IP header; IPv6: the transport header on), and its source.
   *   Absent for a socket that only sends: the kernel still queues it a copy of every packet of its protocol, so
   *   reading is switched off and its receive buffer made small (the copies are dropped).
   */
  constructor(
    readonly family: 4 | 6,
    readonly protocol: ProbeProtocol,
    private readonly onPacket?: (packet: Buffer, source: string) => void,
  ) {
    const raw = native();
    const number = protocol === 'icmp' && family === 6 ? PROTOCOL_NUMBER.icmp6 : PROTOCOL_NUMBER[protocol];
    try {
      this.handle = new raw.SocketWrap(number, FAMILY_CODE[family]);
    } catch (error) {
      throw new TraceUnavailableError(error);
    }
    this.handle.on('error', () => this.close());
    if (onPacket) {
      this.handle.on('recvReady', () => this.drain());
      if (protocol === 'icmp') installIcmpFilter(this.handle, family);
    } else {
      this.handle.pause(true, true);
      this.trySet(SOL_SOCKET, SO_RCVBUF, 4096);
    }
  }

  /** The TTL (IPv4) or hop limit (IPv6) of the packets sent from now on. */
  setHopLimit(hops: number): void {
    if (hops === this.hopLimit) return;
    if (this.family === 4) this.handle.setOption(IPPROTO_IP, IP_TTL, hops);
    else this.handle.setOption(IPPROTO_IPV6, IPV6_UNICAST_HOPS, hops);
    this.hopLimit = hops;
  }

  /** Don't Fragment from now on, at any size up to the interface MTU (beyond it a send fails with EMSGSIZE). */
  setDontFragment(): void {
    if (this.family === 4) {
      this.handle.setOption(IPPROTO_IP, IP_MTU_DISCOVER, PMTUDISC_PROBE);
    } else {
      this.handle.setOption(IPPROTO_IPV6, IPV6_MTU_DISCOVER, PMTUDISC_PROBE);
      this.handle.setOption(IPPROTO_IPV6, IPV6_DONTFRAG, 1);
    }
  }

  send(packet: Buffer, address: string): RawSendResult {
    if (this.closed) return { errno: 'EBADF' };
    try {
      this.handle.send(packet, 0, packet.length, address, noop);
      return 'sent';
    } catch (error) {
      return { errno: errnoOf(error) };
    }
  }

  /** Reads every packet already queued. */
  drain(): void {
    if (this.closed || !this.onPacket) return;
    const stackLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      for (let i = 0; i < 10_000; i++) this.handle.recv(this.buffer, this.deliver);
    } catch {
      // EAGAIN: nothing more queued
    } finally {
      Error.stackTraceLimit = stackLimit;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
  }

  private readonly deliver = (buffer: Buffer, bytes: number, source: string): void => {
    this.onPacket?.(buffer.subarray(0, bytes), source);
  };

  private trySet(level: number, option: number, value: number): void {
    try {
      this.handle.setOption(level, option, value);
    } catch {
      /* keep the default */
    }
  }
}

function noop(): void {}
