import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeIcmp4,
  decodeIcmp6,
  internetChecksum,
  ipv6Text,
  newEchoPacket,
  writeEchoRequest,
} from '../../src/engine/icmp/codec.js';

// Packets as the Linux kernel delivered them to a raw socket (captured in a private namespace on loopback, with
// nft reject rules for the errors). Our echo requests carried identifier 0x1234, payload token 0123456789abcdef
// and probe number 0xdeadbeef.
const V4_REPLY =
  '450000548f1500004001ed917f0000017f00000100002862123400070123456789abcdefdeadbeef1415161718191a1b1c1d1e1f' +
  '202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f';
const V4_OWN_REQUEST =
  '4500005438fc4000400103ab7f0000017f00000108002062123400070123456789abcdefdeadbeef1415161718191a1b1c1d1e1f' +
  '202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f';
const V6_REPLY =
  '8100a6e3123400090123456789abcdefdeadbeef1415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334' +
  '35363738393a3b3c3d3e3f';
const V4_ADMIN_PROHIBITED =
  '45c00070fd15000040017eb47f0000027f000001030dfcf20000000045000054906f40004001ac367f0000017f00000208002061' +
  '123400080123456789abcdefdeadbeef1415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738' +
  '393a3b3c3d3e3f';
const V4_TCP_HOST_PROHIBITED =
  '45c00058366a0000400145777f0000037f000001030a12d3000000004500003cd97940004006633e7f0000017f0000039c7e15384a' +
  '7567a700000000a002ffd7fe3200000204ffd70402080a5f7e76ce000000000103030a';
const V6_ECHO_REQUEST =
  '8000a7e3123400090123456789abcdefdeadbeef1415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334' +
  '35363738393a3b3c3d3e3f';
const V6_ADMIN_PROHIBITED =
  '01018872000000006008dbcf00403a400000000000000000000000000000000200000000000000000000000000000002' +
  '8000a7e01234000a0123456789abcdefdeadbeef1415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031' +
  '32333435363738393a3b3c3d3e3f';

const hex = (text: string): Buffer => Buffer.from(text, 'hex');

describe('icmp codec', () => {
  it('decodes a kernel echo reply with identifier, sequence and our payload mark', () => {
    const message = decodeIcmp4(hex(V4_REPLY));
    assert.ok(message && message.kind === 'echo-reply');
    assert.equal(message.identifier, 0x1234);
    assert.equal(message.sequence, 7);
    assert.equal(message.mark?.token.toString('hex'), '0123456789abcdef');
    assert.equal(message.mark?.probeNumber, 0xdeadbeef);
  });

  it('decodes a kernel ICMPv6 echo reply', () => {
    const message = decodeIcmp6(hex(V6_REPLY));
    assert.ok(message && message.kind === 'echo-reply');
    assert.equal(message.identifier, 0x1234);
    assert.equal(message.sequence, 9);
    assert.equal(message.mark?.probeNumber, 0xdeadbeef);
  });

  it('rejects a reply whose ICMP checksum is wrong', () => {
    const packet = hex(V4_REPLY);
    packet[40] = (packet[40] as number) ^ 0xff;
    assert.equal(decodeIcmp4(packet), undefined);
  });

  it('reads an admin-prohibited error: type, code and the quoted echo (destination, id, seq, mark)', () => {
    const message = decodeIcmp4(hex(V4_ADMIN_PROHIBITED));
    assert.ok(message && message.kind === 'error');
    assert.equal(message.type, 3);
    assert.equal(message.code, 13);
    assert.ok(message.quoted.protocol === 'icmp');
    assert.equal(message.quoted.destination, '127.0.0.2');
    assert.equal(message.quoted.identifier, 0x1234);
    assert.equal(message.quoted.sequence, 8);
    assert.equal(message.quoted.mark?.probeNumber, 0xdeadbeef);
  });

  it('reads an error that quotes a TCP SYN: its flow (both addresses and ports) and its sequence number', () => {
    const message = decodeIcmp4(hex(V4_TCP_HOST_PROHIBITED));
    assert.ok(message && message.kind === 'error');
    assert.equal(message.code, 10);
    assert.deepEqual(message.quoted, {
      protocol: 'tcp',
      source: '127.0.0.1',
      destination: '127.0.0.3',
      sourcePort: 40062,
      destinationPort: 5432,
      sequence: 0x4a7567a7,
    });
  });

  it('reads an ICMPv6 error that quotes a TCP SYN: its flow and its sequence number', () => {
    const packet = Buffer.alloc(8 + 40 + 8);
    packet[0] = 1; // destination unreachable
    packet[1] = 1; // administratively prohibited
    packet[8] = 0x60;
    packet[8 + 6] = 6; // next header: TCP
    Buffer.from('20010db8000000010000000000000001', 'hex').copy(packet, 8 + 8);
    Buffer.from('20010db8000000010000000000000030', 'hex').copy(packet, 8 + 24);
    packet.writeUInt16BE(51_000, 48);
    packet.writeUInt16BE(443, 50);
    packet.writeUInt32BE(0xfedcba98, 52);
    const message = decodeIcmp6(packet);
    assert.ok(message && message.kind === 'error');
    assert.deepEqual(message.quoted, {
      protocol: 'tcp',
      source: '2001:db8:0:1::1',
      destination: '2001:db8:0:1::30',
      sourcePort: 51_000,
      destinationPort: 443,
      sequence: 0xfedcba98,
    });
  });

  it('decodes an IPv6 admin-prohibited error quoting our echo request', () => {
    const message = decodeIcmp6(hex(V6_ADMIN_PROHIBITED));
    assert.ok(message && message.kind === 'error');
    assert.equal(message.type, 1);
    assert.equal(message.code, 1);
    assert.ok(message.quoted.protocol === 'icmp');
    assert.equal(message.quoted.destination, '::2');
    assert.equal(message.quoted.sequence, 10);
    assert.equal(message.quoted.mark?.token.toString('hex'), '0123456789abcdef');
  });

  it('ignores echo requests (ours looping back on lo) and truncated packets', () => {
    assert.equal(decodeIcmp6(hex(V6_ECHO_REQUEST)), undefined);
    assert.equal(decodeIcmp4(hex(V4_OWN_REQUEST)), undefined);
    assert.equal(decodeIcmp4(hex(V4_REPLY).subarray(0, 24)), undefined);
    assert.equal(decodeIcmp6(hex(V6_ADMIN_PROHIBITED).subarray(0, 30)), undefined);
  });

  it('writes an IPv4 echo request whose checksum verifies and whose mark reads back', () => {
    const packet = newEchoPacket();
    const token = hex('0123456789abcdef');
    writeEchoRequest(packet, 4, 0xbeef, 0x0102, token, 42, 123456.789);
    assert.equal(packet[0], 8);
    assert.equal(internetChecksum(packet), 0);
    assert.equal(packet.readUInt16BE(4), 0xbeef);
    assert.equal(packet.readUInt16BE(6), 0x0102);
    assert.equal(packet.readUInt32BE(16), 42);
    assert.equal(packet.readDoubleBE(20), 123456.789);
    // Same header and mark as the request the kernel answered in the capture (the capture had no send time).
    const captured = hex(V4_OWN_REQUEST).subarray(20);
    const ours = newEchoPacket();
    writeEchoRequest(ours, 4, 0x1234, 7, token, 0xdeadbeef, 1);
    assert.deepEqual(ours.subarray(4, 20), captured.subarray(4, 20));
    assert.deepEqual(ours.subarray(28), captured.subarray(28));
  });

  it('prints IPv6 addresses as inet_ntop does', () => {
    const cases: [string, string][] = [
      ['00000000000000000000000000000001', '::1'],
      ['20010db8000000000000000000000010', '2001:db8::10'],
      ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
      ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
      ['20010db8000100000001000100010001', '2001:db8:1:0:1:1:1:1'],
    ];
    for (const [bytes, text] of cases) assert.equal(ipv6Text(hex(bytes), 0), text);
  });
});
