/**
 * How a trace's probes go out and what comes back for them, with or without privilege. The tracer (tracer.ts) sends
 * probe `key` with a TTL and hears back ProbeEvents about its keys; it does not know which sockets carry them:
 * - raw (root or CAP_NET_RAW): crafted ICMP, UDP or TCP packets on raw sockets, every ICMP error read from a raw
 *   ICMP socket and matched to a probe by what it quotes (packets.ts);
 * - without privilege, as mtr and traceroute do: ICMP through a ping socket, UDP through a UDP socket, each with its
 *   own IP_TTL per send and the ICMP errors about its own datagrams on its error queue (probe-socket.ts); TCP through
 *   the addon's connects with a TTL, each reading the error about its own SYN (tcp-errqueue.ts).
 */
import type { TraceMode, TraceSockets } from '../../core/trace.js';
import type { IcmpSetting } from '../icmp/raw-transport.js';
import { randomBits } from '../random.js';
import { ErrqueueTcpProber } from '../tcp-errqueue.js';
import { freeSourcePort } from './endpoints.js';
import {
  TRACEROUTE_UDP_PORT,
  TRACE_PROBE_BYTES,
  UDP_HEADER_BYTES,
  decodeTcpSegment,
  decodeTraceIcmp,
  echoRequest,
  tcpSyn,
  udpChecksumFor,
  udpProbe,
} from './packets.js';
import type { TraceIcmp } from './packets.js';
import { DatagramProbeSocket, ProbeSocketUnavailableError } from './probe-socket.js';
import { IcmpOffError, RawProbeSocket, TraceUnavailableError } from './raw-socket.js';

/** What came back for probe `key`. */
export type ProbeEvent =
  /** An echo reply (ICMP mode) from `from`. */
  | { kind: 'reply'; key: number; from: string }
  /** An ICMP error about the probe: time exceeded, unreachable, prohibited, from `from`. */
  | { kind: 'icmp'; key: number; type: number; code: number; from: string }
  /** The host's SYN-ACK (open) or RST (closed) to a TCP probe. */
  | { kind: 'tcp'; key: number; state: 'open' | 'closed'; from: string };

export type TraceSendResult = 'sent' | { errno: string };

export interface TraceTransport {
  readonly sockets: TraceSockets;
  /** TCP: the port; UDP: the destination port of every probe. */
  readonly destinationPort: number;
  /** Sends probe `key` (below KEY_SPACE) with this TTL. */
  send(key: number, ttl: number): TraceSendResult;
  close(): void;
}

export interface TransportTarget {
  address: string;
  family: 4 | 6;
  /** The probes' source address: raw TCP and UDP checksums cover it. */
  source: string;
  mode: TraceMode;
  /** TCP destination port. */
  port: number;
  /** Longest wait for one probe's answer, in milliseconds: a TCP connect's own timeout. */
  timeoutMs: number;
}

const TRACE_NAMES = { icmp: 'an ICMP trace', udp: 'a UDP trace', tcp: 'a TCP trace' } as const;

/**
 * The transport for one path: raw sockets where permitted (ZENSWEEP_ICMP auto or raw), else (auto, ping or off) the
 * unprivileged one. Throws TraceUnavailableError when neither can be opened (ICMP mode outside
 * net.ipv4.ping_group_range without CAP_NET_RAW), and IcmpOffError for ICMP mode under ZENSWEEP_ICMP=off: this
 * process sends no ICMP echo, whatever sockets it could open.
 */
export function openTraceTransport(target: TransportTarget, setting: IcmpSetting, onEvent: (event: ProbeEvent) => void): TraceTransport {
  if (setting === 'off' && target.mode === 'icmp') throw new IcmpOffError(TRACE_NAMES.icmp);
  let rawFailure: TraceUnavailableError | undefined;
  if (setting === 'auto' || setting === 'raw') {
    try {
      return new RawTraceTransport(target, onEvent);
    } catch (error) {
      if (!(error instanceof TraceUnavailableError) || setting === 'raw') throw error;
      rawFailure = error;
    }
  }
  try {
    switch (target.mode) {
      case 'icmp':
        return new PingTraceTransport(target, onEvent);
      case 'udp':
        return new UdpTraceTransport(target, onEvent);
      case 'tcp':
        return new ConnectTraceTransport(target, onEvent);
    }
  } catch (error) {
    if (!(error instanceof ProbeSocketUnavailableError)) throw error;
    throw new TraceUnavailableError(
      rawFailure ?? error,
      `${TRACE_NAMES[target.mode]} needs a raw socket (root or CAP_NET_RAW${rawFailure ? `; ${rawFailure.errno}` : ''}) or ${error.need}`,
    );
  }
}

/** Raw sockets: crafted probes, every ICMP error of the host read and matched by what it quotes. */
class RawTraceTransport implements TraceTransport {
  readonly sockets = 'raw';
  readonly destinationPort: number;
  private readonly opened: RawProbeSocket[] = [];
  private readonly sender: RawProbeSocket;
  private readonly identifier = randomBits(16);
  private readonly sequenceBase = randomBits(32);
  private readonly sourcePort: number;

  constructor(
    private readonly target: TransportTarget,
    private readonly onEvent: (event: ProbeEvent) => void,
  ) {
    try {
      const icmp = this.open('icmp', (packet, from) => this.onIcmp(packet, from));
      if (target.mode === 'tcp') this.sender = this.open('tcp', (packet, from) => this.onTcp(packet, from));
      else if (target.mode === 'udp') this.sender = this.open('udp');
      else this.sender = icmp;
    } catch (error) {
      this.close();
      throw error;
    }
    this.sourcePort = target.mode === 'icmp' ? 0 : freeSourcePort(target.mode);
    this.destinationPort = target.mode === 'tcp' ? target.port : TRACEROUTE_UDP_PORT;
  }

  send(key: number, ttl: number): TraceSendResult {
    const { address, family, source } = this.target;
    let packet: Buffer;
    switch (this.target.mode) {
      case 'icmp':
        packet = echoRequest(family, this.identifier, key);
        break;
      case 'udp':
        packet = udpProbe(source, address, this.sourcePort, this.destinationPort, udpChecksumFor(key));
        break;
      case 'tcp':
        packet = tcpSyn(source, address, this.sourcePort, this.destinationPort, this.sequenceBase + key, 1460);
        break;
    }
    this.sender.setHopLimit(ttl);
    return this.sender.send(packet, address);
  }

  close(): void {
    for (const socket of this.opened) socket.close();
  }

  private open(protocol: 'icmp' | 'tcp' | 'udp', onPacket?: (packet: Buffer, from: string) => void): RawProbeSocket {
    const socket = new RawProbeSocket(this.target.family, protocol, onPacket);
    this.opened.push(socket);
    return socket;
  }

  private onIcmp(packet: Buffer, from: string): void {
    const message = decodeTraceIcmp(this.target.family, packet);
    if (!message) return;
    if (message.kind === 'echo-reply') {
      if (this.target.mode === 'icmp' && message.identifier === this.identifier) {
        this.onEvent({ kind: 'reply', key: message.sequence, from });
      }
      return;
    }
    const key = this.keyOf(message);
    if (key !== undefined) this.onEvent({ kind: 'icmp', key, type: message.type, code: message.code, from });
  }

  /** The key of the probe an ICMP error quotes, if it is one of ours. */
  private keyOf(message: Extract<TraceIcmp, { kind: 'error' }>): number | undefined {
    const quoted = message.quoted;
    if (quoted.destination !== this.target.address || quoted.protocol !== this.target.mode) return undefined;
    switch (quoted.protocol) {
      case 'icmp':
        return quoted.identifier === this.identifier ? quoted.sequence : undefined;
      case 'udp':
        if (quoted.sourcePort !== this.sourcePort || quoted.destinationPort !== this.destinationPort) return undefined;
        return (quoted.checksum - 1 + 0xfffe) % 0xfffe;
      case 'tcp':
        if (quoted.sourcePort !== this.sourcePort || quoted.destinationPort !== this.destinationPort) return undefined;
        return (quoted.sequence - this.sequenceBase) >>> 0;
    }
  }

  private onTcp(packet: Buffer, from: string): void {
    if (from !== this.target.address) return;
    const segment = decodeTcpSegment(this.target.family, packet);
    if (!segment || segment.sourcePort !== this.destinationPort || segment.destinationPort !== this.sourcePort) return;
    if (!segment.rst && !(segment.syn && segment.ack)) return;
    const key = (segment.acknowledgment - 1 - this.sequenceBase) >>> 0;
    this.onEvent({ kind: 'tcp', key, state: segment.rst ? 'closed' : 'open', from });
  }
}

/**
 * ICMP through a ping socket: the kernel writes the socket's own identifier into each echo request and hands it only
 * the replies and the errors about its own requests, so the sequence number alone is the key (the checksum stays
 * constant: see echoRequest). Errors come from the error queue, the request quoted from its ICMP header.
 */
class PingTraceTransport implements TraceTransport {
  readonly sockets = 'ping';
  readonly destinationPort = 0;
  private readonly socket: DatagramProbeSocket;

  constructor(
    private readonly target: TransportTarget,
    onEvent: (event: ProbeEvent) => void,
  ) {
    const reply = target.family === 4 ? 0 : 129;
    this.socket = new DatagramProbeSocket(target.family, 'icmp', (record, bytes) => {
      if (bytes.length < 8) return;
      if (record.kind === 'data') {
        if (bytes[0] === reply) onEvent({ kind: 'reply', key: bytes.readUInt16BE(6), from: record.address });
      } else if (record.kind === 'icmp' && record.address === target.address && record.offender) {
        onEvent({ kind: 'icmp', key: bytes.readUInt16BE(6), type: record.type, code: record.code, from: record.offender });
      }
    });
  }

  send(key: number, ttl: number): TraceSendResult {
    // The identifier is the kernel's (the socket's port); 0 here.
    return this.socket.send(echoRequest(this.target.family, 0, key), this.target.address, 0, ttl);
  }

  close(): void {
    this.socket.close();
  }
}

/** The payload's token, then the key and its balance (so the UDP checksum stays constant: one flow, as Paris traceroute). */
const UDP_TOKEN = Buffer.from('zensweep', 'latin1');

/**
 * UDP through one UDP socket bound to one source port, to port 33434: one flow for every probe. The kernel writes
 * the UDP header and its checksum, so the key travels in the payload, after a token, with a balancing word that
 * keeps the checksum constant; routers quote the payload (Linux quotes up to 576 bytes, RFC 1812 asks for as much as
 * fits), and the error queue hands it back from there. A router that quotes only the UDP header (RFC 792's minimum)
 * leaves nothing to match: its hop reads silent.
 */
class UdpTraceTransport implements TraceTransport {
  readonly sockets = 'udp';
  readonly destinationPort = TRACEROUTE_UDP_PORT;
  private readonly socket: DatagramProbeSocket;

  constructor(
    private readonly target: TransportTarget,
    onEvent: (event: ProbeEvent) => void,
  ) {
    this.socket = new DatagramProbeSocket(target.family, 'udp', (record, bytes) => {
      if (record.kind !== 'icmp' || record.address !== target.address || record.port !== this.destinationPort) return;
      if (bytes.length < UDP_TOKEN.length + 2 || !bytes.subarray(0, UDP_TOKEN.length).equals(UDP_TOKEN) || !record.offender) return;
      onEvent({ kind: 'icmp', key: bytes.readUInt16BE(UDP_TOKEN.length), type: record.type, code: record.code, from: record.offender });
    });
    try {
      this.socket.bind(0);
    } catch (error) {
      this.socket.close();
      throw error;
    }
  }

  send(key: number, ttl: number): TraceSendResult {
    const payload = Buffer.alloc(TRACE_PROBE_BYTES - UDP_HEADER_BYTES);
    UDP_TOKEN.copy(payload, 0);
    payload.writeUInt16BE(key, UDP_TOKEN.length);
    payload.writeUInt16BE(0xffff - key, UDP_TOKEN.length + 2);
    for (let i = UDP_TOKEN.length + 4; i < payload.length; i++) payload[i] = i & 0xff;
    return this.socket.send(payload, this.target.address, this.destinationPort, ttl);
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * TCP through the addon's connects, one per probe with the probe's TTL (ErrqueueTcpProber): a SYN that runs out of
 * hops brings the hop's time exceeded to the connect's own error queue; one that reaches the host is answered with a
 * SYN-ACK (connected, then reset) or an RST. Each connect has a source port of its own (the kernel's: two connects to
 * one host and port cannot share one), so unlike the raw path the probes are not one flow.
 */
class ConnectTraceTransport implements TraceTransport {
  readonly sockets = 'connect';
  readonly destinationPort: number;
  private readonly prober = new ErrqueueTcpProber();

  constructor(
    private readonly target: TransportTarget,
    private readonly onEvent: (event: ProbeEvent) => void,
  ) {
    this.destinationPort = target.port;
  }

  send(key: number, ttl: number): TraceSendResult {
    const { address } = this.target;
    this.prober.probe(
      address,
      this.destinationPort,
      this.target.timeoutMs,
      (outcome) => {
        if (outcome.kind === 'open' || outcome.kind === 'closed') {
          this.onEvent({ kind: 'tcp', key, state: outcome.kind, from: address });
        } else if (outcome.kind === 'error' && outcome.reporter.icmpType !== undefined) {
          const { icmpType, icmpCode = 0, address: from } = outcome.reporter;
          this.onEvent({ kind: 'icmp', key, type: icmpType, code: icmpCode, from });
        }
        // A timeout is silence; the sweeper's own errors (no route) are found before any probe (sourceAddressFor).
      },
      { ttl },
    );
    return 'sent';
  }

  close(): void {
    this.prober.close();
  }
}

