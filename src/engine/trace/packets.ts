/**
 * The probes of a trace and of a path MTU search, and what comes back for them.
 *
 * Every probe of one trace keeps the same flow identity, Paris traceroute's lesson: a router that balances load
 * hashes the addresses, the protocol and (for TCP and UDP) the ports, some also the ICMP checksum, so probes that
 * differ there may take different paths and show up as loss or as hops that zig-zag. So:
 * - ICMP echo: constant identifier and checksum; the sequence number tells probes apart, and two payload bytes
 *   move opposite to it so the checksum stays the same.
 * - UDP: constant ports (destination 33434, the first of Linux traceroute's default ports); the checksum tells
 *   probes apart (routers quote the UDP header in their errors), made so by two payload bytes.
 * - TCP: constant ports; the sequence number tells probes apart (quoted in errors, acknowledged by the target).
 */
import { addressToBigInt } from '../../core/targets.js';
import { internetChecksum, ipv6Text } from '../icmp/codec.js';

export const ICMP_HEADER_BYTES = 8;
export const UDP_HEADER_BYTES = 8;
/** A SYN with one option, MSS, as a connect() sends at least: some firewalls drop a SYN without options. */
export const TCP_SYN_BYTES = 24;
/** Probe size of a trace (ICMP message or UDP datagram), as ping and traceroute send: 64 bytes. */
export const TRACE_PROBE_BYTES = 64;
/** Linux traceroute's first default UDP port. */
export const TRACEROUTE_UDP_PORT = 33434;

const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_ICMPV6 = 58;
const TOKEN = Buffer.from('zensweep', 'latin1');
/** Where the two balancing bytes sit in the payload (after the token): an even offset, a whole 16-bit word. */
const BALANCE_OFFSET = TOKEN.length;

/** One's complement addition of two 16-bit words. */
function onesAdd(a: number, b: number): number {
  const sum = a + b;
  return (sum & 0xffff) + (sum >>> 16);
}

/** One's complement sum (not yet inverted) of 16-bit words over buffer[start, end), starting from `initial`. */
function onesSum(buffer: Buffer, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += buffer.readUInt16BE(i);
  if (i < end) sum += (buffer[i] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Bytes of an address in text form (4 or 16, network order). */
export function addressBytes(address: string): Buffer {
  const { family, value } = addressToBigInt(address);
  const bytes = Buffer.alloc(family === 4 ? 4 : 16);
  for (let i = bytes.length - 1, rest = value; i >= 0; i--, rest >>= 8n) bytes[i] = Number(rest & 0xffn);
  return bytes;
}

/** The pseudo-header sum that TCP and UDP checksums start from (RFC 793, RFC 8200 §8.1). */
function pseudoHeaderSum(source: string, destination: string, protocol: number, length: number): number {
  const addresses = Buffer.concat([addressBytes(source), addressBytes(destination)]);
  let sum = onesSum(addresses, 0, addresses.length);
  sum = onesAdd(sum, protocol);
  sum = onesAdd(sum, length & 0xffff);
  return onesAdd(sum, length >>> 16);
}

function fillPayload(packet: Buffer, start: number): void {
  TOKEN.copy(packet, start);
  for (let i = start + TOKEN.length + 2; i < packet.length; i++) packet[i] = i & 0xff;
}

/**
 * An ICMP echo request of `bytes` (header included) whose checksum is the same for every sequence number.
 * IPv6: the kernel writes the checksum (it alone knows the pseudo-header), and it stays constant as well, since
 * the message's own sum does.
 */
export function echoRequest(family: 4 | 6, identifier: number, sequence: number, bytes = TRACE_PROBE_BYTES): Buffer {
  const packet = Buffer.alloc(Math.max(bytes, ICMP_HEADER_BYTES + BALANCE_OFFSET + 2));
  packet[0] = family === 4 ? 8 : 128;
  packet.writeUInt16BE(identifier, 4);
  packet.writeUInt16BE(sequence, 6);
  fillPayload(packet, ICMP_HEADER_BYTES);
  // sequence + balance = 0xffff whatever the sequence: the sum, and so the checksum, does not move.
  packet.writeUInt16BE(0xffff - sequence, ICMP_HEADER_BYTES + BALANCE_OFFSET);
  if (family === 4) packet.writeUInt16BE(internetChecksum(packet), 2);
  return packet;
}

/** The UDP checksum that identifies probe `key` (never 0, which means "no checksum", nor 0xffff). */
export function udpChecksumFor(key: number): number {
  return (key % 0xfffe) + 1;
}

/**
 * A UDP datagram of `bytes` (header included) from sourcePort to destinationPort whose checksum is exactly
 * `checksum`: two payload bytes are set so that the datagram's sum comes out right.
 */
export function udpProbe(
  source: string,
  destination: string,
  sourcePort: number,
  destinationPort: number,
  checksum: number,
  bytes = TRACE_PROBE_BYTES,
): Buffer {
  const packet = Buffer.alloc(Math.max(bytes, UDP_HEADER_BYTES + BALANCE_OFFSET + 2));
  packet.writeUInt16BE(sourcePort, 0);
  packet.writeUInt16BE(destinationPort, 2);
  packet.writeUInt16BE(packet.length, 4);
  fillPayload(packet, UDP_HEADER_BYTES);
  const base = onesSum(packet, 0, packet.length, pseudoHeaderSum(source, destination, IPPROTO_UDP, packet.length));
  // With the checksum field holding C, a valid datagram sums to 0xffff: the balance is 0xffff − base − C.
  const balance = onesAdd(0xffff - base, 0xffff - checksum);
  packet.writeUInt16BE(balance === 0xffff ? 0 : balance, UDP_HEADER_BYTES + BALANCE_OFFSET);
  packet.writeUInt16BE(checksum, 6);
  return packet;
}

/** A TCP SYN with the MSS option and a checksum over the pseudo-header. */
export function tcpSyn(
  source: string,
  destination: string,
  sourcePort: number,
  destinationPort: number,
  sequence: number,
  mss: number,
): Buffer {
  const packet = Buffer.alloc(TCP_SYN_BYTES);
  packet.writeUInt16BE(sourcePort, 0);
  packet.writeUInt16BE(destinationPort, 2);
  packet.writeUInt32BE(sequence >>> 0, 4);
  packet[12] = (TCP_SYN_BYTES / 4) << 4;
  packet[13] = 0x02; // SYN
  packet.writeUInt16BE(64_240, 14);
  packet[20] = 2; // MSS
  packet[21] = 4;
  packet.writeUInt16BE(mss, 22);
  const sum = onesSum(packet, 0, packet.length, pseudoHeaderSum(source, destination, IPPROTO_TCP, packet.length));
  packet.writeUInt16BE(~sum & 0xffff, 16);
  return packet;
}

/** Checks a TCP or UDP checksum over the pseudo-header: true when valid. */
export function transportChecksumValid(source: string, destination: string, protocol: 'tcp' | 'udp', segment: Buffer): boolean {
  const number = protocol === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
  return onesSum(segment, 0, segment.length, pseudoHeaderSum(source, destination, number, segment.length)) === 0xffff;
}

/** The probe an ICMP error quotes, by what identifies it. */
export type QuotedProbe =
  | { protocol: 'icmp'; destination: string; identifier: number; sequence: number }
  | { protocol: 'udp'; destination: string; sourcePort: number; destinationPort: number; checksum: number }
  | { protocol: 'tcp'; destination: string; sourcePort: number; destinationPort: number; sequence: number };

export type TraceIcmp =
  | { kind: 'echo-reply'; identifier: number; sequence: number; bytes: number }
  | {
      kind: 'error';
      type: number;
      code: number;
      /** Next-hop MTU of a v4 "fragmentation needed" (0 when the router did not say) or a v6 "packet too big". */
      mtu?: number;
      quoted: QuotedProbe;
    };

function quote(buffer: Buffer, protocol: number | undefined, destination: string, body: number): QuotedProbe | undefined {
  if (buffer.length < body + 8) return undefined;
  if ((protocol === IPPROTO_ICMP && buffer[body] === 8) || (protocol === IPPROTO_ICMPV6 && buffer[body] === 128)) {
    return { protocol: 'icmp', destination, identifier: buffer.readUInt16BE(body + 4), sequence: buffer.readUInt16BE(body + 6) };
  }
  if (protocol === IPPROTO_UDP) {
    return {
      protocol: 'udp',
      destination,
      sourcePort: buffer.readUInt16BE(body),
      destinationPort: buffer.readUInt16BE(body + 2),
      checksum: buffer.readUInt16BE(body + 6),
    };
  }
  if (protocol === IPPROTO_TCP) {
    return {
      protocol: 'tcp',
      destination,
      sourcePort: buffer.readUInt16BE(body),
      destinationPort: buffer.readUInt16BE(body + 2),
      sequence: buffer.readUInt32BE(body + 4),
    };
  }
  return undefined;
}

/**
 * Decodes what a raw ICMP socket read: IPv4 with its IP header, IPv6 without (RFC 3542). Returns undefined for
 * anything that is not an echo reply or an error quoting an ICMP, UDP or TCP packet.
 */
export function decodeTraceIcmp(family: 4 | 6, packet: Buffer): TraceIcmp | undefined {
  let start = 0;
  if (family === 4) {
    if (packet.length < 20 || (packet[0] as number) >> 4 !== 4 || packet[9] !== IPPROTO_ICMP) return undefined;
    start = ((packet[0] as number) & 0x0f) * 4;
    if (packet.length < start + 8 || internetChecksum(packet, start) !== 0) return undefined;
  } else if (packet.length < 8) {
    return undefined;
  }
  const type = packet[start] as number;
  const code = packet[start + 1] as number;
  if ((family === 4 && type === 0) || (family === 6 && type === 129)) {
    return {
      kind: 'echo-reply',
      identifier: packet.readUInt16BE(start + 4),
      sequence: packet.readUInt16BE(start + 6),
      bytes: packet.length - start,
    };
  }
  const inner = start + 8;
  let quoted: QuotedProbe | undefined;
  let mtu: number | undefined;
  if (family === 4) {
    if (![3, 11, 12].includes(type) || packet.length < inner + 20 || (packet[inner] as number) >> 4 !== 4) return undefined;
    quoted = quote(packet, packet[inner + 9], `${packet[inner + 16]}.${packet[inner + 17]}.${packet[inner + 18]}.${packet[inner + 19]}`, inner + ((packet[inner] as number) & 0x0f) * 4);
    if (type === 3 && code === 4) mtu = packet.readUInt16BE(start + 6);
  } else {
    if (![1, 2, 3, 4].includes(type) || packet.length < inner + 40 || (packet[inner] as number) >> 4 !== 6) return undefined;
    quoted = quote(packet, packet[inner + 6], ipv6Text(packet, inner + 24), inner + 40);
    if (type === 2) mtu = packet.readUInt32BE(start + 4);
  }
  if (!quoted) return undefined;
  return mtu === undefined ? { kind: 'error', type, code, quoted } : { kind: 'error', type, code, mtu, quoted };
}

/** A TCP segment as a raw TCP socket reads it (IPv4 with its IP header), reduced to what ends a TCP trace. */
export interface TcpSegment {
  sourcePort: number;
  destinationPort: number;
  acknowledgment: number;
  syn: boolean;
  ack: boolean;
  rst: boolean;
}

export function decodeTcpSegment(family: 4 | 6, packet: Buffer): TcpSegment | undefined {
  let start = 0;
  if (family === 4) {
    if (packet.length < 20 || (packet[0] as number) >> 4 !== 4 || packet[9] !== IPPROTO_TCP) return undefined;
    start = ((packet[0] as number) & 0x0f) * 4;
  }
  if (packet.length < start + 20) return undefined;
  const flags = packet[start + 13] as number;
  return {
    sourcePort: packet.readUInt16BE(start),
    destinationPort: packet.readUInt16BE(start + 2),
    acknowledgment: packet.readUInt32BE(start + 8),
    syn: (flags & 0x02) !== 0,
    ack: (flags & 0x10) !== 0,
    rst: (flags & 0x04) !== 0,
  };
}
