import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseSweepText } from '../../src/core/grammar.js';
import { openProbeKit, runSweep } from '../../src/engine/sweep.js';
import { SweepTooLargeError } from '../../src/core/errors.js';
import { internetChecksum } from '../../src/engine/icmp/codec.js';
import { IcmpEchoSocket } from '../../src/engine/icmp/icmp-socket.js';
import { FakeSockets } from '../support/fake-socket.js';
import { loopbackPorts, type LoopbackPorts } from '../support/loopback-ports.js';
import type { FakeSocket } from '../support/fake-socket.js';
import { assertRoot } from '../support/root.js';

/**
 * What a router sends when ARP fails for the destination of a SYN: ICMP host unreachable (3/1) quoting the SYN's IP
 * header and first 8 bytes. Sent to 127.0.0.1, it comes from 127.0.0.1.
 */
function hostUnreachableFor(socket: FakeSocket): Buffer {
  const packet = Buffer.alloc(8 + 20 + 8);
  packet[0] = 3;
  packet[1] = 1;
  const ip = 8;
  packet[ip] = 0x45;
  packet.writeUInt16BE(40, ip + 2);
  packet[ip + 8] = 64;
  packet[ip + 9] = 6; // TCP
  Buffer.from([127, 0, 0, 1]).copy(packet, ip + 12);
  Buffer.from(socket.host.split('.').map(Number)).copy(packet, ip + 16);
  packet.writeUInt16BE(socket.localPort ?? 0, ip + 20);
  packet.writeUInt16BE(socket.port, ip + 22);
  packet.writeUInt16BE(internetChecksum(packet), 2);
  return packet;
}

describe('runSweep on loopback (real raw sockets)', () => {
  let ports: LoopbackPorts;
  let openPort = 0;
  let closedPort = 0;

  before(async () => {
    assertRoot();
    ports = await loopbackPorts();
    ({ openPort, closedPort } = ports);
  });
  after(() => ports?.close());

  it('finds every address of 127.0.0.0/24 alive, with RTT statistics', async () => {
    const report = await runSweep(parseSweepText('127.0.0.0/24'));
    assert.equal(report.planned, 254);
    assert.equal(report.summary.alive, 254);
    assert.equal(report.hosts[0]?.ip, '127.0.0.1');
    assert.equal(report.hosts.at(-1)?.ip, '127.0.0.254');
    const host = report.hosts[10];
    assert.deepEqual([host?.icmp.sent, host?.icmp.received, host?.icmp.lossPct], [1, 1, 0]);
    assert.ok((host?.icmp.rtt?.avg ?? -1) > 0);
    assert.equal(report.icmp.available, true);
  });

  it('sweeps IPv6 ::1', async () => {
    const report = await runSweep(parseSweepText('::1 count:3 interval:10'));
    assert.equal(report.hosts[0]?.state, 'alive');
    assert.deepEqual([report.hosts[0]?.icmp.sent, report.hosts[0]?.icmp.received], [3, 3]);
  });

  it('tells open from closed TCP ports and times the connect', async () => {
    const report = await runSweep(parseSweepText(`127.0.0.1 tcp:${openPort},${closedPort}`));
    const ports = report.hosts[0]?.ports ?? [];
    const byPort = new Map(ports.map((p) => [p.port, p]));
    assert.equal(byPort.get(openPort)?.state, 'open');
    assert.equal(byPort.get(closedPort)?.state, 'closed');
    assert.ok((byPort.get(openPort)?.ms ?? -1) >= 0);
  });

  it('resolves a host name to all its addresses and sweeps each, keeping the name', async () => {
    const report = await runSweep(parseSweepText('localhost'));
    const resolution = report.names.find((n) => n.name === 'localhost');
    assert.ok(resolution && resolution.addresses.includes('127.0.0.1'));
    const host = report.hosts.find((h) => h.ip === '127.0.0.1');
    assert.deepEqual(host?.names, ['localhost']);
    assert.equal(host?.state, 'alive');
  });

  it('reports a name that does not resolve instead of failing', async () => {
    const report = await runSweep(parseSweepText('127.0.0.1 no-such-host.invalid'), {
      resolve: async (name) => {
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      },
    });
    assert.deepEqual(report.names, [{ name: 'no-such-host.invalid', addresses: [], error: 'ENOTFOUND' }]);
    assert.equal(report.summary.alive, 1);
  });

  it('refuses a sweep whose names resolve to more addresses than the cap', async () => {
    await assert.rejects(
      runSweep(parseSweepText('127.0.0.1 big.example'), {
        maxAddresses: 2,
        resolve: async () => ['127.0.0.2', '127.0.0.3'],
      }),
      SweepTooLargeError,
    );
  });

  it('ends every connect when a burst of ICMP errors quoting their SYNs is read at once', { timeout: 60_000 }, async () => {
    // 254 hosts × 8 ports: 2,032 connects in flight (on sockets that send nothing), then as many ICMP errors queued
    // before one read. Each error's outcome used to read the ICMP socket again from inside that read, one level
    // deeper per error, until the stack ran out; the RangeError was taken for "nothing more to read", and the
    // sweep waited forever for outcomes that had been lost on the way.
    const sockets = new FakeSockets();
    const { kit } = openProbeKit(new Set([4]), { openSocket: sockets.open });
    const errors = new IcmpEchoSocket(4, undefined, () => undefined, () => undefined, false);
    try {
      const request = parseSweepText('127.42.0.0/24 tcp:9001-9008 timeout:30000 retries:0 rate:0');
      const expected = 254 * 8;
      const sweeping = runSweep(request, { kit });
      for (let turns = 0; sockets.opened.length < expected; turns++) {
        assert.ok(turns < 100_000, `only ${sockets.opened.length} of ${expected} connects were started`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      // All sent in one go: the sweep's loop gets no turn until every error is queued on its ICMP socket.
      for (const socket of sockets.opened) assert.equal(errors.send(hostUnreachableFor(socket), '127.0.0.1'), 'sent');
      const report = await sweeping;

      assert.equal(report.complete, true);
      assert.equal(report.summary.total, 254);
      const states = new Map<string, number>();
      for (const port of report.hosts.flatMap((h) => h.ports)) {
        const key = `${port.state} from ${port.reporter?.address ?? '-'} (${port.reporter?.icmpType}/${port.reporter?.icmpCode})`;
        states.set(key, (states.get(key) ?? 0) + 1);
      }
      assert.deepEqual(Object.fromEntries(states), { 'unreachable from 127.0.0.1 (3/1)': expected });
      assert.equal(sockets.opened.filter((s) => s.destroyedAt === 0).length, 0, 'sockets left open');
    } finally {
      errors.close();
      kit.echo?.close();
      kit.tcp.close();
    }
  });

  it('keeps two concurrent sweeps in one process apart (no reply counted by the other)', async () => {
    const [a, b] = await Promise.all([
      runSweep(parseSweepText('127.0.1.0/24 count:2 interval:5 retries:0')),
      runSweep(parseSweepText('127.0.1.0/24 count:2 interval:5 retries:0')),
    ]);
    for (const report of [a, b]) {
      assert.equal(report.summary.alive, 254);
      for (const host of report.hosts) assert.deepEqual([host.icmp.sent, host.icmp.received], [2, 2]);
    }
  });
});
