import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TraceHop, TraceMode, TracePath, TraceReport, TraceSockets } from '../../src/core/trace.js';
import { cliCommand } from '../support/cli.js';
import { createPathLab } from '../support/path-lab.js';
import type { PathLab } from '../support/path-lab.js';
import { EVERY_GROUP, NO_GROUP, UNPRIVILEGED } from '../support/ping-netns.js';
import { assertRoot } from '../support/root.js';

type Privilege = 'root' | 'unprivileged';

/** What each mode's probes go through: raw sockets as root; without privilege, as mtr does (transports.ts). */
const SOCKETS: Record<Privilege, Record<TraceMode, TraceSockets>> = {
  root: { icmp: 'raw', udp: 'raw', tcp: 'raw' },
  unprivileged: { icmp: 'ping', udp: 'udp', tcp: 'connect' },
};

/**
 * `zensweep trace` inside the path lab's sweeper namespace (no default route): r1 answers, r2 forwards but sends no
 * time-exceeded, r3 is a firewall that drops ICMP echo to one host and everything to another. Once as root (raw
 * sockets), once as nobody without any capability in a sweeper namespace whose net.ipv4.ping_group_range covers it
 * (ping socket, UDP socket, the addon's TTL connects): the same hops, host, loss and conclusions.
 */
for (const privilege of ['root', 'unprivileged'] as const) describe(`zensweep trace in the path lab (${privilege})`, () => {
  let lab: PathLab;
  const a = () => lab.addresses;
  const prefix: readonly string[] = privilege === 'root' ? [] : UNPRIVILEGED;

  async function trace(args: string[]): Promise<TraceReport> {
    const result = await lab.exec([...prefix, ...cliCommand(), 'trace', ...args, '--json'], { timeoutMs: 60_000 });
    assert.equal(result.code, 0, `trace ${args.join(' ')} failed: ${result.stderr}`);
    const report = JSON.parse(result.stdout) as TraceReport;
    for (const path of report.paths) {
      if (path.end !== 'local') assert.equal(path.sockets, SOCKETS[privilege][path.mode], `${path.mode} ${args.join(' ')}`);
    }
    return report;
  }

  /** The hop list as addresses, `*` for a silent hop. */
  function hops(path: TracePath | undefined): string[] {
    assert.ok(path, 'a path');
    return path.hops.map((hop) => hop.responders.map((r) => r.address).join('/') || '*');
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

  it('lists every hop in ICMP, UDP and TCP to a host that answers all three, the silent router as *', async () => {
    const { r1, r3 } = a().hops;
    const host = a().fragNeeded.v4;
    for (const mode of ['icmp', 'udp', 'tcp:443']) {
      const report = await trace([host, mode]);
      assert.equal(report.paths.length, 1, mode);
      const [path] = report.paths;
      assert.deepEqual(hops(path), [r1.v4, '*', r3.v4, host], mode);
      assert.equal(path?.end, 'reached', mode);
      assert.equal(path?.hops[3]?.target, true, mode);
      assert.equal(path?.hops[1]?.lossPct, 100, `${mode}: r2 never answers`);
      for (const index of [0, 2, 3]) {
        const hop: TraceHop | undefined = path?.hops[index];
        assert.equal(hop?.sent, 3, mode);
        assert.equal(hop?.lossPct, 0, `${mode}: hop ${index + 1}`);
        assert.ok(hop?.avg !== undefined && hop.best !== undefined && hop.worst !== undefined && hop.best <= hop.avg && hop.avg <= hop.worst);
      }
      assert.match(report.conclusion, new RegExp(`reaches ${host.replace(/\./g, '\\.')} in 4 hops`), mode);
    }
  });

  it('reaches with TCP 443 the host whose ICMP a firewall drops, and says the port is open or closed', async () => {
    const { icmpFiltered } = a();
    const open = await trace([icmpFiltered.v4, `tcp:${icmpFiltered.openPort}`]);
    assert.equal(open.paths[0]?.end, 'reached');
    assert.equal(open.paths[0]?.tcpState, 'open');
    assert.deepEqual(hops(open.paths[0]), [a().hops.r1.v4, '*', a().hops.r3.v4, icmpFiltered.v4]);
    const closed = await trace([icmpFiltered.v4, `tcp:${icmpFiltered.closedPort}`]);
    assert.equal(closed.paths[0]?.tcpState, 'closed');
    assert.match(closed.conclusion, /port closed/);

    const icmp = await trace([icmpFiltered.v4, 'icmp']);
    assert.equal(icmp.paths[0]?.end, 'silent', 'ICMP alone cannot reach it');
    assert.deepEqual(icmp.paths[0]?.lastAnswer, { ttl: 3, address: a().hops.r3.v4 });
    assert.equal(icmp.conclusion, `no answer past hop 3 in ICMP: the path ends at ${a().hops.r3.v4}`);
  });

  it('falls back to TCP 443 by default and concludes that a firewall after hop 3 drops ICMP', async () => {
    const report = await trace([a().icmpFiltered.v4]);
    assert.deepEqual(report.paths.map((p) => [p.mode, p.end]), [['icmp', 'silent'], ['tcp', 'reached']]);
    assert.equal(
      report.conclusion,
      `ICMP stops after hop 3 (${a().hops.r3.v4}) but TCP 443 reaches the host (port open): a firewall after hop 3 drops ICMP`,
    );
  });

  it('names the last hop that answers when nothing passes the firewall, in both modes', async () => {
    const report = await trace([a().dropped.v4]);
    assert.deepEqual(report.paths.map((p) => p.end), ['silent', 'silent']);
    for (const path of report.paths) assert.deepEqual(hops(path), [a().hops.r1.v4, '*', a().hops.r3.v4, '*']);
    assert.match(report.conclusion, new RegExp(`no answer past hop 3 in ICMP: the path ends at ${a().hops.r3.v4.replace(/\./g, '\\.')}`));
  });

  it('traces IPv6 the same way in every mode, and a name to its address', async () => {
    const v6 = await trace([a().icmpFiltered.v6]);
    assert.deepEqual(hops(v6.paths[1]), [a().hops.r1.v6, '*', a().hops.r3.v6, a().icmpFiltered.v6]);
    assert.equal(v6.paths[0]?.lastAnswer?.address, a().hops.r3.v6);
    for (const mode of ['icmp', 'udp', 'tcp:443']) {
      const report = await trace([a().fragNeeded.v6, mode]);
      assert.deepEqual(hops(report.paths[0]), [a().hops.r1.v6, '*', a().hops.r3.v6, a().fragNeeded.v6], `IPv6 ${mode}`);
      assert.equal(report.paths[0]?.end, 'reached', `IPv6 ${mode}`);
    }
    const named = await trace([a().names.icmpFiltered, 'udp']);
    assert.equal(named.address, a().icmpFiltered.v4, 'IPv4 first when a name has both');
    assert.equal(named.source, a().sweeper.v4);
    assert.equal(named.paths[0]?.end, 'reached');
  });

  it('keeps one flow for all the probes of a UDP trace, and of a raw TCP trace (constant ports, as Paris traceroute)', async () => {
    await lab.takeFlows();
    await trace([a().fragNeeded.v4, 'tcp:443', 'count:5']);
    const tcp = await lab.takeFlows();
    if (privilege === 'root') {
      assert.equal(tcp.length, 1, `one TCP flow: ${tcp.join(', ')}`);
    } else {
      // Each connect has a source port of its own (two connects to one host and port cannot share one): not one flow.
      assert.ok(tcp.length > 1, `a flow per connect: ${tcp.join(', ')}`);
    }
    for (const flow of tcp) assert.match(flow, / tcp \d+ 443$/);
    await trace([a().fragNeeded.v4, 'udp', 'count:5']);
    const udp = await lab.takeFlows();
    assert.equal(udp.length, 1, `one UDP flow: ${udp.join(', ')}`);
    assert.match(udp[0] ?? '', / udp \d+ 33434$/);
  });

  it('says at once that there is no route, and refuses bad input with exit 2', async () => {
    const report = await trace(['198.18.200.1', 'icmp']);
    assert.equal(report.paths[0]?.end, 'local');
    assert.match(report.conclusion, /cannot leave the sweeper.*ENETUNREACH/);
    const bad = await lab.exec([...cliCommand(), 'trace', '198.19.20.0/24']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /one host/);
  });

  it('prints the mtr-like table with the conclusion first, and what each path went through', async () => {
    const result = await lab.exec([...prefix, ...cliCommand(), 'trace', a().icmpFiltered.v4]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n');
    assert.match(lines[1] ?? '', /^ICMP stops after hop 3/);
    assert.ok(lines.some((l) => /^\s+2\.\|-- \?\?\?\s+100\.0%\s+3/.test(l)), result.stdout);
    assert.ok(lines.some((l) => l.includes(a().icmpFiltered.v4) && l.endsWith('the host: port open')), result.stdout);
    const through =
      privilege === 'root'
        ? ['  ICMP through a raw socket', '  TCP 443 through a raw socket']
        : ['  ICMP through a ping socket (no privilege)', '  TCP 443 through TCP connects (no privilege)'];
    assert.deepEqual(lines.filter((l) => / through /.test(l)), through, result.stdout);
  });

  if (privilege === 'unprivileged') {
    it('with ping_group_range "1 0": no ICMP trace, and says why; UDP and TCP need no privilege and still reach the host', async () => {
      const set = await lab.exec(['sysctl', '-q', '-w', `net.ipv4.ping_group_range=${NO_GROUP}`]);
      assert.equal(set.code, 0, set.stderr);
      try {
        const icmp = await lab.exec([...prefix, ...cliCommand(), 'trace', a().fragNeeded.v4, 'icmp', '--json'], { timeoutMs: 60_000 });
        assert.notEqual(icmp.code, 0, icmp.stdout);
        assert.match(icmp.stderr, /an ICMP trace needs a raw socket \(root or CAP_NET_RAW; EPERM\) or a ping socket \(EACCES: set net\.ipv4\.ping_group_range to cover this process's group\)/);
        const auto = await trace([a().fragNeeded.v4]);
        assert.deepEqual(auto.paths.map((p) => [p.mode, p.end]), [['tcp', 'reached']]);
        assert.match(auto.warning ?? '', /^ICMP not traced: .*EACCES/);
        for (const mode of ['udp', 'tcp:443']) {
          const report = await trace([a().fragNeeded.v4, mode]);
          assert.deepEqual(hops(report.paths[0]), [a().hops.r1.v4, '*', a().hops.r3.v4, a().fragNeeded.v4], mode);
        }
      } finally {
        await lab.exec(['sysctl', '-q', '-w', `net.ipv4.ping_group_range=${EVERY_GROUP}`]);
      }
    });
  }
});
