import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DiagReport } from '../../src/core/diag.js';
import { cliCommand } from '../support/cli.js';
import { createPathLab } from '../support/path-lab.js';
import type { PathLab } from '../support/path-lab.js';
import { EVERY_GROUP, UNPRIVILEGED } from '../support/ping-netns.js';
import { assertRoot } from '../support/root.js';

/**
 * `zensweep diag` inside the path lab: each fact of the report checked against what the lab was built with. As root
 * (raw sockets), and again as nobody without any capability in a sweeper namespace whose net.ipv4.ping_group_range
 * covers it (pings and the ICMP trace through ping sockets, the TCP ones through the kernel's connects, the path MTU
 * through a ping socket): the same facts.
 */
for (const privilege of ['root', 'unprivileged'] as const) describe(`zensweep diag in the path lab (${privilege})`, () => {
  let lab: PathLab;
  const a = () => lab.addresses;
  const prefix: readonly string[] = privilege === 'root' ? [] : UNPRIVILEGED;

  async function diag(args: string[]): Promise<DiagReport> {
    const result = await lab.exec([...prefix, ...cliCommand(), 'diag', ...args, '--json'], { timeoutMs: 60_000 });
    assert.equal(result.code, 0, `diag ${args.join(' ')} failed: ${result.stderr}`);
    const report = JSON.parse(result.stdout) as DiagReport;
    for (const path of report.trace?.paths ?? []) assert.equal(path.sockets === 'raw', privilege === 'root', `the ${path.mode} trace went through ${String(path.sockets)}`);
    if (report.pathMtu) assert.equal(report.pathMtu.socket, privilege === 'root' ? 'raw' : 'ping');
    return report;
  }

  before(async () => {
    assertRoot();
    lab = await createPathLab();
    // Per namespace: the sweeper's only, never the host's.
    const set = await lab.exec(['sysctl', '-q', '-w', `net.ipv4.ping_group_range=${EVERY_GROUP}`]);
    assert.equal(set.code, 0, set.stderr);
  });
  after(async () => {
    await lab?.destroy();
  });

  it('reports source, interface, route, gateway, neighbour, resolvers, pings, ports, trace and MTU of a host that answers', async () => {
    const report = await diag([a().fragNeeded.v4, 'tcp:443,80']);
    assert.equal(report.address, a().fragNeeded.v4);
    assert.deepEqual(report.source && { ...report.source, mac: undefined }, {
      device: a().sweeper.device,
      cidr: `${a().sweeper.v4}/${a().sweeper.prefix4}`,
      mtu: a().sweeper.mtu,
      mac: undefined,
    });
    const sweeperMac = (await lab.exec(['cat', `/sys/class/net/${a().sweeper.device}/address`])).stdout.trim();
    assert.equal(report.source?.mac, sweeperMac);
    assert.deepEqual(report.route, { destination: '198.19.0.0/16', gateway: a().gateway.v4, device: 'eth0', metric: 0, reject: false });
    assert.equal(report.defaultGateway, undefined, 'the lab has no default route');
    const gatewayMac = (await lab.execIn('r1', ['cat', '/sys/class/net/eth0/address'])).stdout.trim();
    assert.deepEqual(report.neighbour, { address: a().gateway.v4, device: 'eth0', lladdr: gatewayMac, state: 'complete' });
    assert.deepEqual(report.resolution.servers, [a().nameserver]);
    const host = report.host;
    assert.equal(host?.state, 'alive');
    assert.equal(host?.icmp.sent, 10);
    assert.equal(host?.icmp.received, 10);
    assert.ok(host?.icmp.rtt, 'rtt min/avg/max/mdev');
    assert.deepEqual(host?.ports.map((p) => [p.port, p.state]), [[443, 'open'], [80, 'closed']], 'in the order given');
    assert.ok(host?.ports.every((p) => p.ms !== undefined && p.ms >= 0), 'a connect time for each port');
    assert.deepEqual(report.trace?.paths.map((p) => [p.mode, p.end]), [['icmp', 'reached']]);
    assert.equal(report.pathMtu?.pathMtu, a().netA.mtu);
    assert.equal(report.pathMtu?.fragNeeded?.from, a().hops.r3.v4);
    assert.ok(Date.parse(report.window.start) <= Date.parse(report.window.end));
    assert.match(report.window.start, /Z$/, 'UTC');
    assert.ok(report.commands.includes(`ip route get ${a().fragNeeded.v4}`));
    assert.ok(report.commands.includes(`ip neigh show ${a().gateway.v4}`));
  });

  it('traces with TCP when ICMP is filtered, names the black hole, and resolves a name from the hosts file', async () => {
    const filtered = await diag([a().names.icmpFiltered]);
    assert.equal(filtered.address, a().icmpFiltered.v4);
    assert.equal(filtered.resolution.name, a().names.icmpFiltered);
    assert.ok(filtered.resolution.system?.includes(a().icmpFiltered.v4), 'the system resolver reads /etc/hosts');
    assert.equal(filtered.resolution.dnsError, 'ECONNREFUSED', 'nothing answers DNS on the lab resolver');
    assert.equal(filtered.host?.state, 'alive_tcp_only');
    assert.equal(filtered.host?.icmp.received, 0);
    assert.deepEqual(filtered.trace?.paths.map((p) => [p.mode, p.end]), [['icmp', 'silent'], ['tcp', 'reached']]);
    assert.ok(filtered.summary.some((line) => line.includes('a firewall after hop 3 drops ICMP')), filtered.summary.join('\n'));

    const blackHole = await diag([a().blackHole.v4]);
    assert.equal(blackHole.pathMtu?.pathMtu, a().blackHole.pathMtu);
    assert.equal(blackHole.pathMtu?.blackHole, true);
    assert.ok(blackHole.summary.some((line) => line.includes('PMTU black hole')));
  });

  it('reports a name that does not resolve, with the server asked, and probes nothing', async () => {
    const report = await diag([a().names.unknown]);
    assert.equal(report.address, undefined);
    assert.equal(report.host, undefined);
    assert.deepEqual(report.resolution.servers, [a().nameserver]);
    assert.ok(report.resolution.systemError);
    assert.match(report.summary[0] ?? '', /does not resolve here: nothing was probed/);
  });

  it('prints the ticket text with the time window, the ping summary as ping prints it and the trace', async () => {
    const result = await lab.exec([...prefix, ...cliCommand(), 'diag', a().fragNeeded.v4]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^ZenSweep diag: 198\.19\.10\.10\nTime window \(UTC\): \S+Z – \S+Z\n/);
    assert.match(result.stdout, /10 packets transmitted, 10 received, 0% packet loss\n\s+rtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms/);
    assert.match(result.stdout, /198\.19\.10\.10 via 198\.19\.1\.254 dev eth0 src 198\.19\.1\.1/);
    assert.match(result.stdout, /Path MTU to 198\.19\.10\.10: path MTU 1400/);
  });
});
