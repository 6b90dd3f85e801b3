import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseSweepText } from '../../src/core/grammar.js';
import { runSweep } from '../../src/engine/sweep.js';
import { SweepTooLargeError } from '../../src/core/errors.js';
import { assertRoot } from '../support/root.js';

describe('runSweep on loopback (real raw sockets)', () => {
  let server: net.Server;
  let openPort = 0;
  let closedPort = 0;

  before(async () => {
    assertRoot();
    server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    openPort = (server.address() as net.AddressInfo).port;
    // A port that was just free: nothing listens on it now.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
  });
  after(() => new Promise((resolve) => server.close(resolve)));

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
