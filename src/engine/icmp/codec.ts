/**
 * ICMP echo codec for IPv4 (RFC 792) and IPv6 (RFC 4443), plus the parts of ICMP errors a sweep needs: who sent
 * the error, its type/code, and the packet it quotes (our echo request, or a TCP SYN of ours).
 *
 * Raw IPv4 sockets deliver the IP header with the ICMP message; raw ICMPv6 sockets deliver the ICMPv6 message
 * alone (RFC 3542), so the decoders take the family.
 */

export const ICMP4_ECHO_REPLY = 0;
export const ICMP4_ECHO_REQUEST = 8;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;

const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_ICMPV6 = 58;

/** Bytes of payload after the 8-byte echo header; 56 as ping and fping send by default. */
export const ECHO_PAYLOAD_BYTES = 56;
/** Session token (8 bytes) + probe number (4 bytes) at the start of the payload. */
export const TOKEN_BYTES = 8;
const PROBE_NUMBER_OFFSET = TOKEN_BYTES;
export const MARK_BYTES = TOKEN_BYTES + 4;
/** Send time (monotonic ms, float64) after the mark, as ping carries its timestamp in the payload. */
export const SEND_TIME_OFFSET = MARK_BYTES;
const FILLER_START = 8 + SEND_TIME_OFFSET + 8;

/** The Internet checksum (RFC 1071) over `buffer[start, end)`. */
export function internetChecksum(buffer: Uint8Array, start = 0, end = buffer.length): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += ((buffer[i] as number) << 8) | (buffer[i + 1] as number);
  if (i < end) sum += (buffer[i] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Writes an echo request into `packet` (8 + ECHO_PAYLOAD_BYTES bytes), reusing the payload filler already there.
 * For IPv6 the checksum is left to the kernel, which must cover the pseudo-header it alone knows.
 */
export function writeEchoRequest(
  packet: Buffer,
  family: 4 | 6,
  identifier: number,
  sequence: number,
  token: Buffer,
  probeNumber: number,
  sendTimeMs: number,
): void {
  packet[0] = family === 4 ? ICMP4_ECHO_REQUEST : ICMP6_ECHO_REQUEST;
  packet[1] = 0;
  packet.writeUInt16BE(0, 2);
  packet.writeUInt16BE(identifier, 4);
  packet.writeUInt16BE(sequence, 6);
  token.copy(packet, 8, 0, TOKEN_BYTES);
  packet.writeUInt32BE(probeNumber >>> 0, 8 + PROBE_NUMBER_OFFSET);
  packet.writeDoubleBE(sendTimeMs, 8 + SEND_TIME_OFFSET);
  if (family === 4) packet.writeUInt16BE(internetChecksum(packet), 2);
}

/** A fresh echo packet buffer with ping's filler pattern after the mark. */
export function newEchoPacket(): Buffer {
  const packet = Buffer.alloc(8 + ECHO_PAYLOAD_BYTES);
  for (let i = FILLER_START; i < packet.length; i++) packet[i] = i & 0xff;
  return packet;
}

/** The mark we put in every payload, read back from a reply or a quoted request (when the quote is long enough). */
export interface EchoMark {
  token: Buffer;
  probeNumber: number;
}

export type IcmpMessage =
  | { kind: 'echo-reply'; identifier: number; sequence: number; mark?: EchoMark }
  | {
      kind: 'error';
      type: number;
      code: number;
      /** The packet the error quotes. */
      quoted: QuotedEcho | QuotedTcp;
    };

export interface QuotedEcho {
  protocol: 'icmp';
  destination: string;
  identifier: number;
  sequence: number;
  mark?: EchoMark;
}

/** The start of a TCP segment an ICMP error quotes: the flow it belonged to, and its sequence number. */
export interface QuotedTcp {
  protocol: 'tcp';
  /** The segment's source address: ours, or another host's when the error is not for us. */
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  /** Its sequence number (a SYN's is the connection's initial sequence number). */
  sequence: number;
}

const ERROR_TYPES_V4 = new Set([3, 11, 12]);
const ERROR_TYPES_V6 = new Set([1, 2, 3, 4]);

function readMark(buffer: Buffer, payloadStart: number, end: number): EchoMark | undefined {
  if (end - payloadStart < MARK_BYTES) return undefined;
  return {
    token: buffer.subarray(payloadStart, payloadStart + TOKEN_BYTES),
    probeNumber: buffer.readUInt32BE(payloadStart + PROBE_NUMBER_OFFSET),
  };
}

function ipv4Text(buffer: Buffer, offset: number): string {
  return `${buffer[offset]}.${buffer[offset + 1]}.${buffer[offset + 2]}.${buffer[offset + 3]}`;
}

/** RFC 5952 text for 16 bytes at `offset` (same form inet_ntop prints, so it compares with socket addresses). */
export function ipv6Text(buffer: Buffer, offset: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buffer.readUInt16BE(offset + i * 2));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestLength < 2) return groups.map((g) => g.toString(16)).join(':');
  const head = groups.slice(0, bestStart).map((g) => g.toString(16)).join(':');
  const tail = groups.slice(bestStart + bestLength).map((g) => g.toString(16)).join(':');
  return `${head}::${tail}`;
}

/** Decodes an IPv4 packet from a raw ICMP socket (IP header included). Returns undefined for anything else. */
export function decodeIcmp4(packet: Buffer): IcmpMessage | undefined {
  if (packet.length < 20 || packet[0] === undefined || packet[0] >> 4 !== 4) return undefined;
  const headerLength = (packet[0] & 0x0f) * 4;
  if (packet[9] !== IPPROTO_ICMP || packet.length < headerLength + 8) return undefined;
  if (internetChecksum(packet, headerLength) !== 0) return undefined;
  const type = packet[headerLength] as number;
  const code = packet[headerLength + 1] as number;
  if (type === ICMP4_ECHO_REPLY) {
    const message: IcmpMessage = {
      kind: 'echo-reply',
      identifier: packet.readUInt16BE(headerLength + 4),
      sequence: packet.readUInt16BE(headerLength + 6),
    };
    const mark = readMark(packet, headerLength + 8, packet.length);
    if (mark) message.mark = mark;
    return message;
  }
  if (!ERROR_TYPES_V4.has(type)) return undefined;
  // Quoted packet: original IP header + at least 8 bytes of what followed it.
  const inner = headerLength + 8;
  if (packet.length < inner + 20 || (packet[inner] as number) >> 4 !== 4) return undefined;
  const innerHeaderLength = ((packet[inner] as number) & 0x0f) * 4;
  const innerProtocol = packet[inner + 9];
  const destination = ipv4Text(packet, inner + 16);
  const body = inner + innerHeaderLength;
  if (packet.length < body + 8) return undefined;
  if (innerProtocol === IPPROTO_ICMP && packet[body] === ICMP4_ECHO_REQUEST) {
    const quoted: QuotedEcho = {
      protocol: 'icmp',
      destination,
      identifier: packet.readUInt16BE(body + 4),
      sequence: packet.readUInt16BE(body + 6),
    };
    const mark = readMark(packet, body + 8, packet.length);
    if (mark) quoted.mark = mark;
    return { kind: 'error', type, code, quoted };
  }
  if (innerProtocol === IPPROTO_TCP) {
    return {
      kind: 'error',
      type,
      code,
      quoted: {
        protocol: 'tcp',
        source: ipv4Text(packet, inner + 12),
        destination,
        sourcePort: packet.readUInt16BE(body),
        destinationPort: packet.readUInt16BE(body + 2),
        sequence: packet.readUInt32BE(body + 4),
      },
    };
  }
  return undefined;
}

/**
 * The echo request an ICMP error quotes, as a ping socket's error queue gives it: the request itself (ICMP header
 * and as much of the payload as the error's sender quoted), no IP header. Undefined when it is not one.
 */
export function decodeQuotedEchoRequest(
  family: 4 | 6,
  buffer: Buffer,
  start: number,
  end: number,
): { identifier: number; sequence: number; mark?: EchoMark } | undefined {
  if (end - start < 8 || buffer[start] !== (family === 4 ? ICMP4_ECHO_REQUEST : ICMP6_ECHO_REQUEST)) return undefined;
  const quoted: { identifier: number; sequence: number; mark?: EchoMark } = {
    identifier: buffer.readUInt16BE(start + 4),
    sequence: buffer.readUInt16BE(start + 6),
  };
  const mark = readMark(buffer, start + 8, end);
  if (mark) quoted.mark = mark;
  return quoted;
}

/** Whether an ICMP error of this type is one a sweep reads (unreachable, time exceeded, parameter problem; v6 also
 * packet too big), as the raw socket's type filter lets through. */
export function isSweepError(family: 4 | 6, type: number): boolean {
  return (family === 4 ? ERROR_TYPES_V4 : ERROR_TYPES_V6).has(type);
}

/** Decodes an ICMPv6 message from a raw ICMPv6 socket (no IPv6 header; the kernel checked the checksum). */
export function decodeIcmp6(message: Buffer): IcmpMessage | undefined {
  if (message.length < 8) return undefined;
  const type = message[0] as number;
  const code = message[1] as number;
  if (type === ICMP6_ECHO_REPLY) {
    const reply: IcmpMessage = {
      kind: 'echo-reply',
      identifier: message.readUInt16BE(4),
      sequence: message.readUInt16BE(6),
    };
    const mark = readMark(message, 8, message.length);
    if (mark) reply.mark = mark;
    return reply;
  }
  if (!ERROR_TYPES_V6.has(type)) return undefined;
  // Quoted: the original IPv6 header (40 bytes) and what followed; we only look past a header that is directly
  // ICMPv6 or TCP (extension headers are not used by our probes).
  const inner = 8;
  if (message.length < inner + 40 + 8 || (message[inner] as number) >> 4 !== 6) return undefined;
  const nextHeader = message[inner + 6];
  const destination = ipv6Text(message, inner + 24);
  const body = inner + 40;
  if (nextHeader === IPPROTO_ICMPV6 && message[body] === ICMP6_ECHO_REQUEST) {
    const quoted: QuotedEcho = {
      protocol: 'icmp',
      destination,
      identifier: message.readUInt16BE(body + 4),
      sequence: message.readUInt16BE(body + 6),
    };
    const mark = readMark(message, body + 8, message.length);
    if (mark) quoted.mark = mark;
    return { kind: 'error', type, code, quoted };
  }
  if (nextHeader === IPPROTO_TCP) {
    return {
      kind: 'error',
      type,
      code,
      quoted: {
        protocol: 'tcp',
        source: ipv6Text(message, inner + 8),
        destination,
        sourcePort: message.readUInt16BE(body),
        destinationPort: message.readUInt16BE(body + 2),
        sequence: message.readUInt32BE(body + 4),
      },
    };
  }
  return undefined;
}
