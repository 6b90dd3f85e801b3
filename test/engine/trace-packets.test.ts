import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { internetChecksum } from '../../src/engine/icmp/codec.js';
import {
  addressBytes,
  decodeTcpSegment,
  decodeTraceIcmp,
  echoRequest,
  tcpSyn,
  transportChecksumValid,
  udpChecksumFor,
  udpProbe,
} from '../../src/engine/trace/packets.js';

/** An IPv4 header (20 bytes) with a protocol, around `payload`. */
function ipv4(protocol: number, source: string, destination: string, payload: Buffer): Buffer {
  const header = Buffer.alloc(20);
  header[0] = 0x45;
  header.writeUInt16BE(20 + payload.length, 2);
  header[8] = 64;
  header[9] = protocol;
  addressBytes(source).copy(header, 12);
  addressBytes(destination).copy(header, 16);
  header.writeUInt16BE(internetChecksum(header), 10);
  return Buffer.concat([header, payload]);
}

/** An ICMPv4 error from `router` quoting the first 28 bytes of `probe` (an IPv4 packet), as RFC 792 asks at least. */
function icmpError(type: number, code: number, router: string, probe: Buffer, rest = 0): Buffer {
  const message = Buffer.concat([Buffer.alloc(8), probe.subarray(0, 28)]);
  message[0] = type;
  message[1] = code;
  message.writeUInt32BE(rest, 4);
  message.writeUInt16BE(internetChecksum(message), 2);
  return ipv4(1, router, '198.19.1.1', message);
}

const SOURCE = '198.19.1.1';
const TARGET = '198.19.20.20';

describe('trace packets', () => {
  it('keeps the ICMP echo checksum the same for every sequence number (the flow of Paris traceroute)', () => {
    const checksum = echoRequest(4, 0x1234, 0).readUInt16BE(2);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (sequence) => {
        const packet = echoRequest(4, 0x1234, sequence);
        assert.equal(packet.readUInt16BE(6), sequence);
        assert.equal(packet.readUInt16BE(2), checksum);
        assert.equal(internetChecksum(packet), 0, 'valid checksum');
      }),
    );
  });

  it('gives every UDP probe the checksum that names it, valid over the pseudo-header, ports unchanged', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xfffd }), fc.boolean(), (key, v6) => {
        const [source, destination] = v6 ? ['2001:db8:19:1::1', '2001:db8:19:20::20'] : [SOURCE, TARGET];
        const packet = udpProbe(source, destination, 40_000, 33_434, udpChecksumFor(key));
        assert.equal(packet.readUInt16BE(6), key + 1);
        assert.equal(packet.readUInt16BE(0), 40_000);
        assert.equal(packet.readUInt16BE(2), 33_434);
        assert.ok(transportChecksumValid(source, destination, 'udp', packet));
      }),
    );
  });

  it('writes a SYN with the MSS option and a valid checksum, the sequence number as given', () => {
    const syn = tcpSyn(SOURCE, TARGET, 40_001, 443, 0xfffffff0 + 0x20, 1460);
    assert.equal(syn.readUInt32BE(4), 0x10);
    assert.equal(syn[13], 0x02);
    assert.equal(syn.readUInt16BE(22), 1460);
    assert.ok(transportChecksumValid(SOURCE, TARGET, 'tcp', syn));
  });

  it('reads the probe a router quotes: echo by identifier and sequence, UDP by checksum, TCP by sequence', () => {
    const echo = decodeTraceIcmp(4, icmpError(11, 0, '198.19.1.254', ipv4(1, SOURCE, TARGET, echoRequest(4, 7, 99))));
    assert.deepEqual(echo, { kind: 'error', type: 11, code: 0, quoted: { protocol: 'icmp', destination: TARGET, identifier: 7, sequence: 99 } });
    const udp = decodeTraceIcmp(4, icmpError(3, 3, TARGET, ipv4(17, SOURCE, TARGET, udpProbe(SOURCE, TARGET, 40_000, 33_434, 5))));
    assert.deepEqual(udp, {
      kind: 'error',
      type: 3,
      code: 3,
      quoted: { protocol: 'udp', destination: TARGET, sourcePort: 40_000, destinationPort: 33_434, checksum: 5 },
    });
    const tcp = decodeTraceIcmp(4, icmpError(3, 4, '198.19.3.3', ipv4(6, SOURCE, TARGET, tcpSyn(SOURCE, TARGET, 40_001, 443, 77, 1460)), 1400));
    assert.deepEqual(tcp, {
      kind: 'error',
      type: 3,
      code: 4,
      mtu: 1400,
      quoted: { protocol: 'tcp', destination: TARGET, sourcePort: 40_001, destinationPort: 443, sequence: 77 },
    });
  });

  it('reads an ICMPv6 packet too big with its MTU, and an echo reply', () => {
    const quotedHeader = Buffer.alloc(40);
    quotedHeader[0] = 0x60;
    quotedHeader[6] = 58;
    addressBytes('2001:db8:19:10::10').copy(quotedHeader, 24);
    const message = Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0x05, 0x78]), quotedHeader, echoRequest(6, 9, 3)]);
    assert.deepEqual(decodeTraceIcmp(6, message), {
      kind: 'error',
      type: 2,
      code: 0,
      mtu: 1400,
      quoted: { protocol: 'icmp', destination: '2001:db8:19:10::10', identifier: 9, sequence: 3 },
    });
    const reply = echoRequest(6, 9, 3);
    reply[0] = 129;
    assert.deepEqual(decodeTraceIcmp(6, reply), { kind: 'echo-reply', identifier: 9, sequence: 3, bytes: 64 });
  });

  it('reads SYN-ACK and RST flags and the acknowledgment of a TCP answer, and ignores what is not ICMP or TCP', () => {
    const synAck = tcpSyn(TARGET, SOURCE, 443, 40_001, 1000, 1460);
    synAck[13] = 0x12;
    synAck.writeUInt32BE(78, 8);
    assert.deepEqual(decodeTcpSegment(4, ipv4(6, TARGET, SOURCE, synAck)), {
      sourcePort: 443,
      destinationPort: 40_001,
      acknowledgment: 78,
      syn: true,
      ack: true,
      rst: false,
    });
    assert.equal(decodeTcpSegment(4, ipv4(17, TARGET, SOURCE, Buffer.alloc(20))), undefined);
    assert.equal(decodeTraceIcmp(4, ipv4(6, TARGET, SOURCE, Buffer.alloc(20))), undefined);
  });
});
