import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PathMtuReport } from '../../src/core/path-mtu.js';
import { cliCommand } from '../support/cli.js';
import { createPathLab } from '../support/path-lab.js';
import type { PathLab } from '../support/path-lab.js';
import { EVERY_GROUP, NO_GROUP, UNPRIVILEGED } from '../support/ping-netns.js';
import { assertRoot } from '../support/root.js';

/**
 * `zensweep mtu` inside the path lab: every interface is 9001 bytes; net A sits behind a 1400-byte link whose
 * router sends fragmentation needed / packet too big; r3 silently drops packets over 1500 bytes to the black-hole
 * host, as a VPN at 1500 behind 9001 interfaces does. Once as root (a raw socket), once as nobody without any
 * capability in a sweeper namespace whose net.ipv4.ping_group_range covers it (a ping socket): the same answers.
 */
for (const privilege of ['root', 'unprivileged'] as const) describe(`zensweep mtu in the path lab (${privilege})`, () => {
  let lab: PathLab;
  const a = () => lab.addresses;
  const prefix: readonly string[] = privilege === 'root' ? [] : UNPRIVILEGED;

  async function mtu(host: string): Promise<PathMtuReport> {
    const result = await lab.exec([...prefix, ...cliCommand(), 'mtu', host, '--json'], { timeoutMs: 60_000 });
    assert.equal(result.code, 0, `mtu ${host} failed: ${result.stderr}`);
    const report = JSON.parse(result.stdout) as PathMtuReport;
    assert.equal(report.socket, privilege === 'root' ? 'raw' : 'ping', host);
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

  it('finds 1400 behind the smaller link and names the router that says fragmentation needed (IPv4 and IPv6)', async () => {
    for (const [host, router] of [
      [a().fragNeeded.v4, a().hops.r3.v4],
      [a().fragNeeded.v6, a().hops.r3.v6],
    ] as const) {
      const report = await mtu(host);
      assert.equal(report.pathMtu, a().netA.mtu, host);
      assert.equal(report.interfaceMtu, a().sweeper.mtu);
      assert.equal(report.device, a().sweeper.device);
      assert.deepEqual(report.fragNeeded, { from: router, mtu: a().netA.mtu });
      assert.equal(report.blackHole, false);
      assert.ok(report.probes.some((p) => p.size === 1500 && p.outcome === 'too-big'), 'the 1500 probe was answered too big');
      assert.match(report.conclusion, new RegExp(`path MTU 1400 \\(interface eth0 9001\\): ${router.replace(/\./g, '\\.')} says`));
    }
  });

  it('finds 1500 where larger packets vanish without a word, and names the black hole with the MSS to clamp to', async () => {
    for (const [host, mss] of [
      [a().blackHole.v4, 1460],
      [a().blackHole.v6, 1440],
    ] as const) {
      const report = await mtu(host);
      assert.equal(report.pathMtu, a().blackHole.pathMtu, host);
      assert.equal(report.blackHole, true);
      assert.equal(report.failedAt?.size, a().blackHole.pathMtu + 1);
      assert.equal(report.failedAt?.outcome, 'silent');
      assert.equal(report.fragNeeded, undefined);
      assert.equal(report.incomplete, false);
      assert.match(report.conclusion, /PMTU black hole/);
      assert.match(report.conclusion, new RegExp(`clamp the TCP MSS to ${mss}`));
      assert.ok(report.durationMs < 10_000, `the search keeps to its 10 s budget (${report.durationMs} ms)`);
    }
  });

  it('says the path MTU cannot be measured when the host answers no echo at all', async () => {
    const report = await mtu(a().icmpFiltered.v4);
    assert.equal(report.pathMtu, undefined);
    assert.match(report.conclusion, /cannot be measured with ICMP/);
  });

  it('prints the conclusion, the sizes tried and the socket', async () => {
    const result = await lab.exec([...prefix, ...cliCommand(), 'mtu', a().fragNeeded.v4]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Path MTU to 198\.19\.10\.10: path MTU 1400/);
    assert.match(result.stdout, /1500 fragmentation needed \(MTU 1400\) from 198\.19\.3\.3/);
    assert.match(result.stdout, privilege === 'root' ? /\n {2}ICMP: raw socket\n$/ : /\n {2}ICMP: ping socket \(no privilege\)\n$/);
  });

  if (privilege === 'unprivileged') {
    it('with ping_group_range "1 0": says in one line that it needs a raw socket or a ping socket, and the fix', async () => {
      const set = await lab.exec(['sysctl', '-q', '-w', `net.ipv4.ping_group_range=${NO_GROUP}`]);
      assert.equal(set.code, 0, set.stderr);
      try {
        const result = await lab.exec([...prefix, ...cliCommand(), 'mtu', a().fragNeeded.v4], { timeoutMs: 60_000 });
        assert.notEqual(result.code, 0, result.stdout);
        assert.match(
          result.stderr,
          /the path MTU search needs a raw socket \(root or CAP_NET_RAW; EPERM\) or a ping socket \(EACCES: set net\.ipv4\.ping_group_range to cover this process's group\)/,
        );
      } finally {
        await lab.exec(['sysctl', '-q', '-w', `net.ipv4.ping_group_range=${EVERY_GROUP}`]);
      }
    });
  }
});
