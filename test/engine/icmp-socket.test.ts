import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { parseSweepText } from '../../src/core/grammar.js';
import { internetChecksum } from '../../src/engine/icmp/codec.js';
import { IcmpEchoSocket } from '../../src/engine/icmp/icmp-socket.js';
import { runSweep } from '../../src/engine/sweep.js';
import { assertRoot } from '../support/root.js';
import { until } from '../support/wait.js';

const OURS = 0x5a11;
const THEIRS = 0x5a22;

function echoRequest(family: 4 | 6, identifier: number, sequence: number): Buffer {
  const packet = Buffer.alloc(16);
  packet[0] = family === 4 ? 8 : 128;
  packet.writeUInt16BE(identifier, 4);
  packet.writeUInt16BE(sequence, 6);
  if (family === 4) packet.writeUInt16BE(internetChecksum(packet), 2);
  return packet;
}

/** Destination unreachable quoting an echo request with `identifier`, or a TCP SYN when it is undefined. */
function unreachableQuoting(family: 4 | 6, identifier: number | undefined, sequence: number): Buffer {
  const headerBytes = family === 4 ? 20 : 40;
  const packet = Buffer.alloc(8 + headerBytes + 8);
  packet[0] = family === 4 ? 3 : 1;
  packet[1] = 1;
  const ip = 8;
  const protocol = identifier === undefined ? 6 : family === 4 ? 1 : 58;
  if (family === 4) {
    packet[ip] = 0x45;
    packet.writeUInt16BE(headerBytes + 8, ip + 2);
    packet[ip + 8] = 64;
    packet[ip + 9] = protocol;
    Buffer.from([127, 0, 0, 1]).copy(packet, ip + 12);
    Buffer.from([127, 0, 0, 9]).copy(packet, ip + 16);
  } else {
    packet[ip] = 0x60;
    packet.writeUInt16BE(8, ip + 4);
    packet[ip + 6] = protocol;
    packet[ip + 7] = 64;
    packet[ip + 23] = 1; // from ::1
    packet[ip + 39] = 9; // to ::9
  }
  const quoted = ip + headerBytes;
  if (identifier === undefined) {
    packet.writeUInt16BE(40_000 + sequence, quoted);
    packet.writeUInt16BE(5432, quoted + 2);
  } else {
    echoRequest(family, identifier, sequence).copy(packet, quoted, 0, 8);
  }
  if (family === 4) packet.writeUInt16BE(internetChecksum(packet), 2);
  return packet;
}

/** What a socket read: `reply <identifier>/<sequence>` or `error quoting <identifier or tcp>/<sequence>`. */
function describePacket(family: 4 | 6, buffer: Buffer, offset: number, length: number): string {
  const start = offset + (family === 4 ? ((buffer[offset] as number) & 0x0f) * 4 : 0);
  const type = buffer[start];
  if (type === (family === 4 ? 0 : 129)) return `reply ${buffer.readUInt16BE(start + 4)}/${buffer.readUInt16BE(start + 6)}`;
  const inner = start + 8;
  const innerHeader = family === 4 ? ((buffer[inner] as number) & 0x0f) * 4 : 40;
  const protocol = family === 4 ? buffer[inner + 9] : buffer[inner + 6];
  const body = inner + innerHeader;
  if (body + 8 > offset + length) return `short ${type}`;
  if (protocol === 6) return `error quoting tcp/${buffer.readUInt16BE(body) - 40_000}`;
  return `error quoting ${buffer.readUInt16BE(body + 4)}/${buffer.readUInt16BE(body + 6)}`;
}

describe('the echo prober\'s ICMP socket (native/icmp-socket, real raw sockets on loopback)', () => {
  before(assertRoot);

  for (const family of [4, 6] as const) {
    const target = family === 4 ? '127.0.0.1' : '::1';
    it(`IPv${family}: the kernel passes a socket only its own replies and the errors quoting its own requests`, async () => {
      const seen = { ours: [] as string[], theirs: [] as string[], unfiltered: [] as string[] };
      const open = (identifier: number | undefined, into: string[]): IcmpEchoSocket =>
        new IcmpEchoSocket(family, identifier, (buffer, offset, length) => into.push(describePacket(family, buffer, offset, length)), () => undefined);
      const ours = open(OURS, seen.ours);
      const theirs = open(THEIRS, seen.theirs);
      const unfiltered = open(undefined, seen.unfiltered);
      const sender = new IcmpEchoSocket(family, undefined, () => undefined, () => undefined, false);
      try {
        // A sequence of its own for this run, so that nothing another test sent is counted.
        const sequence = (process.pid + family) & 0x3fff;
        for (const packet of [
          echoRequest(family, OURS, sequence),
          echoRequest(family, THEIRS, sequence),
          unreachableQuoting(family, OURS, sequence),
          unreachableQuoting(family, THEIRS, sequence),
          unreachableQuoting(family, undefined, sequence),
        ]) {
          assert.equal(sender.send(packet, target), 'sent');
        }
        const expected = {
          ours: [`reply ${OURS}/${sequence}`, `error quoting ${OURS}/${sequence}`, `error quoting tcp/${sequence}`],
          theirs: [`reply ${THEIRS}/${sequence}`, `error quoting ${THEIRS}/${sequence}`, `error quoting tcp/${sequence}`],
        };
        const all = [...expected.ours, ...expected.theirs.slice(0, 2)];
        const show = { show: () => seen };
        await until('the unfiltered socket to read all five', () => all.every((p) => seen.unfiltered.includes(p)), show);
        await until('our three', () => expected.ours.every((p) => seen.ours.includes(p)), show);
        await until('their three', () => expected.theirs.every((p) => seen.theirs.includes(p)), show);
        // Another run of this test (or a sweep) may add packets of other identifiers; none of the other's may pass.
        assert.ok(!seen.ours.some((p) => p.includes(`${THEIRS}/`)), `ours read theirs: ${seen.ours.join(', ')}`);
        assert.ok(!seen.theirs.some((p) => p.includes(`${OURS}/`)), `theirs read ours: ${seen.theirs.join(', ')}`);
      } finally {
        for (const socket of [ours, theirs, unfiltered, sender]) socket.close();
      }
    });
  }

  for (const sendHelper of [true, false]) {
    it(`sweeps a /20 ${sendHelper ? 'through the sender thread' : 'from the event loop'}: every reply once, RTTs from the send time`, async () => {
      const report = await runSweep(parseSweepText('127.0.0.0/20 retries:0'), { sendHelper });
      assert.equal(report.summary.alive, 4094);
      for (const host of report.hosts) {
        assert.equal(host.icmp.sent, 1, host.ip);
        const rtt = host.icmp.rtt?.avg ?? -1;
        assert.ok(rtt >= 0 && rtt < 1000, `${host.ip}: rtt ${rtt}`);
      }
    });
  }

  it('stops at once when cancelled while the sender thread holds orders, and sweeps again after', async () => {
    const controller = new AbortController();
    const sweeping = runSweep(parseSweepText('127.1.0.0/16 retries:0 rate:0'), {
      sendHelper: true,
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.done >= 1000) controller.abort();
      },
    });
    const report = await sweeping;
    assert.equal(report.complete, false);
    assert.equal(report.stopped?.code, 'cancelled');
    const again = await runSweep(parseSweepText('127.1.0.0/28 retries:0'), { sendHelper: true });
    assert.equal(again.summary.alive, 14);
  });
});
