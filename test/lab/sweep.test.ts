import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HostResult, SweepReport } from '../../src/core/report.js';
import { renderText } from '../../src/views/text.js';
import { cliCommand } from '../support/cli.js';
import { createLab, runOk } from '../support/lab.js';
import type { Lab } from '../support/lab.js';
import { EVERY_GROUP, UNPRIVILEGED } from '../support/ping-netns.js';
import { assertRoot } from '../support/root.js';

/**
 * The sweeper runs inside the lab's sweeper namespace (no default route): nothing it sends can leave the machine.
 * Every host state is produced by a real kernel: nft rules, a router namespace, empty addresses.
 *
 * As root (raw sockets), and again as nobody without any capability in a sweeper namespace whose
 * net.ipv4.ping_group_range covers it (ping sockets, the addon's connects with IP_RECVERR): the same answers.
 */
for (const privilege of ['root', 'unprivileged'] as const) describe(`zensweep sweep in the network lab (${privilege})`, () => {
  let lab: Lab;
  const a = () => lab.addresses;
  const prefix: readonly string[] = privilege === 'root' ? [] : UNPRIVILEGED;

  async function sweep(args: string[]): Promise<SweepReport> {
    const result = await lab.exec([...prefix, ...cliCommand(), 'sweep', ...args, '--json'], { timeoutMs: 60_000 });
    assert.equal(result.code, 0, `sweep ${args.join(' ')} failed: ${result.stderr}`);
    const report = JSON.parse(result.stdout) as SweepReport;
    assert.equal(report.icmp.mode, privilege === 'root' ? 'raw' : 'ping', result.stderr);
    return report;
  }

  /** The link-layer address of `device` in `namespace`, as `ip link` shows it. */
  async function macOf(namespace: string, device: string): Promise<string> {
    const [link] = JSON.parse((await runOk(['ip', '-n', namespace, '-j', 'link', 'show', device])).stdout) as { address: string }[];
    assert.ok(link?.address, `no address for ${device} in ${namespace}`);
    return link.address;
  }

  function host(report: SweepReport, ip: string): HostResult {
    const found = report.hosts.find((h) => h.ip === ip);
    assert.ok(found, `${ip} missing from the report`);
    return found;
  }

  before(async () => {
    assertRoot();
    lab = await createLab();
    // Per namespace: the sweeper's only, never the host's.
    const set = await lab.exec(['sysctl', '-q', '-w', `net.ipv4.ping_group_range=${EVERY_GROUP}`]);
    assert.equal(set.code, 0, set.stderr);
  });
  after(async () => {
    await lab?.destroy();
  });

  it('sweeps the IPv4 LAN /24 with TCP 5432: every state on-link, with who said so', async () => {
    const report = await sweep([a().lan.v4Cidr, a().behind.v4Cidr, `tcp:${a().lan.rds.openPort}`, 'timeout:500']);
    const lan = a().lan;
    for (const ip of lan.alive.v4) assert.equal(host(report, ip).state, 'alive', ip);

    const rds = host(report, lan.rds.v4);
    assert.equal(rds.state, 'alive_tcp_only');
    assert.equal(rds.ports[0]?.state, 'open');
    assert.equal(rds.icmp.received, 0);

    const prohibited = host(report, lan.prohibited.v4);
    assert.equal(prohibited.state, 'prohibited');
    assert.equal(prohibited.reporter?.address, lan.prohibited.v4, 'the host itself rejects');
    assert.equal(prohibited.reporter?.icmpCode, 13);

    const rejecting = host(report, lan.portUnreachable.v4);
    assert.equal(rejecting.state, 'prohibited', 'REJECT with port-unreachable is a firewall, not a closed port');
    assert.equal(rejecting.ports[0]?.state, 'prohibited');

    assert.equal(host(report, lan.silent.v4).state, 'silent');
    assert.equal(host(report, lan.silent.v4).ports[0]?.state, 'filtered');
    assert.equal(host(report, lan.empty.v4).state, 'silent');

    const behind = a().behind;
    assert.equal(host(report, behind.alive.v4).state, 'alive');
    const routed = host(report, behind.prohibitedByRouter.v4);
    assert.equal(routed.state, 'prohibited');
    assert.equal(routed.reporter?.address, a().router.lan.v4, 'the report names the router, not the host');
    assert.equal(host(report, behind.droppedByRouter.v4).state, 'silent');

    assert.equal(report.summary.total, 508);
    // Also alive: the sweeper's own address and both of the router's.
    const alive = report.hosts.filter((h) => h.state === 'alive').map((h) => h.ip);
    assert.deepEqual(alive, [a().sweeper.v4, ...lan.alive.v4, a().router.lan.v4, a().router.behind.v4, behind.alive.v4]);
  });

  it('tells a host that answers ARP and drops every probe from an empty address (IPv4): link and MAC in JSON, CSV and words', async () => {
    const lan = a().lan;
    const report = await sweep([lan.v4Cidr, a().behind.v4Cidr, `tcp:${lan.rds.openPort}`, 'timeout:500']);
    // Every LAN host is an address of the LAN namespace's bridge: they all answer ARP with its MAC.
    const bridge = await macOf(lab.namespaces.lan, 'br0');
    const router = await macOf(lab.namespaces.router, 'eth0');
    const linkOf = (ip: string): [string, string | undefined, string | undefined] => {
      const found = host(report, ip);
      return [found.state, found.link, found.mac];
    };
    assert.deepEqual(linkOf(lan.silent.v4), ['silent', 'answered', bridge], 'on the link, drops everything');
    const empty = host(report, lan.empty.v4);
    assert.deepEqual([empty.link, empty.mac], ['no_answer', undefined], 'nothing answered ARP');
    for (const ip of lan.alive.v4) assert.deepEqual(linkOf(ip), ['alive', 'answered', bridge], ip);
    assert.deepEqual(linkOf(lan.rds.v4), ['alive_tcp_only', 'answered', bridge]);
    assert.deepEqual(linkOf(lan.prohibited.v4), ['prohibited', 'answered', bridge]);
    assert.deepEqual(linkOf(a().router.lan.v4), ['alive', 'answered', router]);
    // The sweeper's own address goes over lo; nothing behind the router has a link field at all.
    assert.equal(host(report, a().sweeper.v4).link, undefined);
    const routed = report.hosts.filter((h) => h.ip.startsWith('198.18.1.'));
    assert.equal(routed.length, 254);
    assert.deepEqual(routed.filter((h) => 'link' in h || 'mac' in h), []);
    // The LAN: 8 addresses answer ARP (7 hosts on the bridge, the router), the sweeper's own has none, 245 are empty.
    const onLink = report.hosts.filter((h) => h.ip.startsWith('198.18.0.'));
    assert.deepEqual(
      [onLink.filter((h) => h.link === 'answered').length, onLink.filter((h) => h.link === 'no_answer').length, onLink.filter((h) => !h.link).length],
      [8, 245, 1],
    );

    // Words: the firewalled host with its MAC, the empty addresses as one fact, whatever their probes ran into.
    const text = renderText(report);
    assert.match(text, new RegExp(`\\n {2}${lan.silent.v4.replace(/\./g, '\\.')} +on the link \\(MAC ${bridge}\\): drops ICMP and TCP\\n`));
    assert.match(text, /\n {2}nothing at these addresses \(245\):\n/);
    assert.doesNotMatch(text, /said 198\.18\.0\.1 on its link/);

    const csv = await lab.exec([...prefix, ...cliCommand(), 'sweep', lan.v4Cidr, a().behind.alive.v4, 'timeout:500', '--csv'], { timeoutMs: 60_000 });
    assert.equal(csv.code, 0, csv.stderr);
    const rows = csv.stdout.trim().split('\n');
    assert.match(rows[0] ?? '', /,reason,link,mac,icmp,ptr$/);
    const row = (ip: string): string => rows.find((r) => r.startsWith(`${ip},`)) ?? '';
    assert.match(row(lan.silent.v4), new RegExp(`,answered,${bridge},sent,$`));
    assert.match(row(lan.empty.v4), /,no_answer,,sent,$/);
    assert.match(row(a().behind.alive.v4), /,alive,/);
    assert.deepEqual(row(a().behind.alive.v4).split(',').slice(-4), ['', '', 'sent', ''], 'a routed host: link and mac empty');
  });

  it('tells a host that answers neighbour discovery and drops every probe from an empty address (IPv6)', async () => {
    const lan = a().lan;
    const report = await sweep([lan.v6Cidr, a().behind.v6Cidr, `tcp:${lan.rds.openPort}`, 'timeout:500']);
    const bridge = await macOf(lab.namespaces.lan, 'br0');
    const silent = host(report, lan.silent.v6);
    assert.deepEqual([silent.state, silent.link, silent.mac], ['silent', 'answered', bridge]);
    const empty = host(report, lan.empty.v6);
    assert.deepEqual([empty.link, empty.mac], ['no_answer', undefined]);
    for (const ip of lan.alive.v6) assert.deepEqual([host(report, ip).link, host(report, ip).mac], ['answered', bridge], ip);
    assert.equal(host(report, a().router.lan.v6).link, 'answered');
    assert.equal(host(report, a().sweeper.v6).link, undefined);
    assert.deepEqual(report.hosts.filter((h) => h.ip.startsWith('2001:db8:0:2:') && ('link' in h || 'mac' in h)), []);
  });

  it('sweeps half of the mostly empty routed /16: the router\'s own addresses alive, every other address silent', async () => {
    const { v4Half, live } = a().routed;
    const report = await sweep([v4Half, 'timeout:500']);
    assert.equal(report.complete, true);
    assert.equal(report.summary.total, 32_766);
    assert.deepEqual(report.hosts.filter((h) => h.state !== 'silent').map((h) => [h.ip, h.state]), live.map((ip) => [ip, 'alive']));
    const empty = host(report, a().routed.empty);
    assert.deepEqual([empty.icmp.sent, empty.icmp.received, empty.reporter], [2, 0, undefined]);
  });

  it('reads the sweeper\'s routes from the kernel: the LAN on-link, the routed ranges not (the in-flight budget)', async () => {
    const script = `
      const { RouteTable } = await import(${JSON.stringify(new URL('../../dist/engine/routes.js', import.meta.url).href)});
      const { AddressSet, parseNetwork } = await import(${JSON.stringify(new URL('../../dist/core/targets.js', import.meta.url).href)});
      const set = (cidr) => { const n = parseNetwork(cidr); return new AddressSet().add(n.family, n.start, n.end); };
      const table = RouteTable.read();
      const lan = table.onLinkTest(set('${a().lan.v4Cidr}'));
      const lan6 = table.onLinkTest(set('${a().lan.v6Cidr}'));
      console.log(JSON.stringify({
        lan: [lan?.('${a().lan.empty.v4}'), lan?.('${a().lan.alive.v4[0]}')],
        lan6: lan6?.('${a().lan.empty.v6}'),
        routed: [table.onLinkTest(set('${a().routed.v4Half}')) === undefined, table.onLinkTest(set('${a().behind.v4Cidr}')) === undefined],
      }));`;
    const result = await lab.exec([...prefix, process.execPath, '--input-type=module', '-e', script]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { lan: [true, true], lan6: true, routed: [true, true] });
  });

  it('names the router for an unreachable route and the sweeper itself when it has no route', async () => {
    const report = await sweep([a().unreachable.v4, a().noRoute.v4, a().noRoute.v6]);
    const unreachable = host(report, a().unreachable.v4);
    assert.equal(unreachable.state, 'unreachable');
    assert.equal(unreachable.reporter?.address, a().router.lan.v4);
    assert.equal(unreachable.reporter?.icmpType, 3);
    for (const ip of [a().noRoute.v4, a().noRoute.v6]) {
      const local = host(report, ip);
      assert.equal(local.state, 'unreachable', ip);
      assert.equal(local.reporter?.address, 'local');
      assert.equal(local.reporter?.errno, 'ENETUNREACH');
    }
  });

  it('sweeps the IPv6 LAN and the routed IPv6 subnet', async () => {
    const report = await sweep([a().lan.v6Cidr, a().behind.v6Cidr, `tcp:${a().lan.rds.openPort}`, 'timeout:500']);
    for (const ip of a().lan.alive.v6) assert.equal(host(report, ip).state, 'alive', ip);
    assert.equal(host(report, a().lan.rds.v6).state, 'alive_tcp_only');
    const prohibited = host(report, a().lan.prohibited.v6);
    assert.equal(prohibited.state, 'prohibited');
    assert.equal(prohibited.reporter?.icmpType, 1);
    assert.equal(prohibited.reporter?.icmpCode, 1);
    // The kernel drops the first ICMPv6 error for a SYN and fails connect() only a second later; the raw socket
    // saw the error, so the port is prohibited (and its sender named) well within the 500 ms timeout.
    assert.equal(prohibited.ports[0]?.state, 'prohibited');
    assert.equal(prohibited.ports[0]?.reporter?.address, a().lan.prohibited.v6);
    assert.equal(host(report, a().lan.silent.v6).state, 'silent');
    assert.equal(host(report, a().behind.alive.v6).state, 'alive');
    const routed = host(report, a().behind.prohibitedByRouter.v6);
    assert.equal(routed.state, 'prohibited');
    assert.equal(routed.reporter?.address, a().router.lan.v6);
    assert.equal(routed.ports[0]?.state, 'prohibited');
    assert.equal(routed.ports[0]?.reporter?.address, a().router.lan.v6);
    assert.equal(report.summary.total, 512);
  });

  it('resolves names where the probes run and reports one that does not resolve', async () => {
    const names = a().names;
    const report = await sweep([names.rds.name, names.unknown, `tcp:${a().lan.rds.openPort}`]);
    const rds = report.names.find((n) => n.name === names.rds.name);
    assert.deepEqual([...(rds?.addresses ?? [])].sort(), [names.rds.v4, names.rds.v6].sort());
    assert.deepEqual(host(report, names.rds.v4).names, [names.rds.name]);
    assert.equal(host(report, names.rds.v4).state, 'alive_tcp_only');
    assert.equal(host(report, names.rds.v6).state, 'alive_tcp_only');
    const unknown = report.names.find((n) => n.name === names.unknown);
    assert.ok(unknown?.error, 'an unknown name carries its resolver error');
    assert.deepEqual(unknown?.addresses, []);
  });

  it('keeps a silent host silent while another sweep in the same process gets replies', async () => {
    // Two engines in one process share no replies: the silent host must not pick up the other's echo replies.
    const script = `
      const { runSweep } = await import(${JSON.stringify(new URL('../../dist/engine/sweep.js', import.meta.url).href)});
      const { parseSweepText } = await import(${JSON.stringify(new URL('../../dist/core/grammar.js', import.meta.url).href)});
      const [busy, quiet] = await Promise.all([
        runSweep(parseSweepText('${a().lan.alive.v4.join(' ')} count:5 interval:20')),
        runSweep(parseSweepText('${a().lan.silent.v4} count:5 interval:20 timeout:300')),
      ]);
      console.log(JSON.stringify({ busy: busy.summary, quiet: quiet.hosts[0] }));`;
    const result = await lab.exec([...prefix, process.execPath, '--input-type=module', '-e', script]);
    assert.equal(result.code, 0, result.stderr);
    const { busy, quiet } = JSON.parse(result.stdout) as { busy: SweepReport['summary']; quiet: HostResult };
    assert.equal(busy.alive, a().lan.alive.v4.length);
    assert.equal(quiet.state, 'silent');
    assert.deepEqual([quiet.icmp.sent, quiet.icmp.received], [5, 0]);
  });
});
