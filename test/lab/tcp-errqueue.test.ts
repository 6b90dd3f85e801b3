import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { PortResult, SweepReport } from '../../src/core/report.js';
import type { TcpOutcome } from '../../src/engine/probers.js';
import { CLI, cliCommand } from '../support/cli.js';
import { createLab, runOk } from '../support/lab.js';
import type { Lab } from '../support/lab.js';
import { assertRoot } from '../support/root.js';

/** The sweeper with no privilege at all: nobody, no capability (not even inheritable or in the bounding set). */
const UNPRIVILEGED = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];
const PROBE = fileURLToPath(new URL('../support/errqueue-probe.ts', import.meta.url));
const SHORT_CHILD = fileURLToPath(new URL('../support/tcp-errqueue-child.ts', import.meta.url));
/** Longer than the router's ARP/ND for an empty address takes to fail (about 3 s), so its answer comes in time. */
const TIMEOUT_MS = 6000;

/** What a port came to, as one comparable line: state, and who said what. */
function said(result: PortResult | undefined): string {
  if (!result) return 'missing';
  const reporter = result.reporter;
  return reporter ? `${result.state}: ${reporter.verdict}, ${reporter.icmpType}/${reporter.icmpCode} from ${reporter.address}` : result.state;
}

function portOf(report: SweepReport, ip: string): PortResult | undefined {
  return report.hosts.find((h) => h.ip === ip)?.ports[0];
}

/**
 * TCP probes of a sweeper that has no raw ICMP socket (no root, no CAP_NET_RAW: the lab's namespace gives no ping
 * socket to nobody either, so the sweep is TCP only): the addon's connects read the ICMP errors about their SYNs from
 * their own error queues (ErrqueueTcpProber), and say who sent them exactly as the raw socket does for a root sweeper.
 */
describe('TCP probes without privilege in the network lab (the errors about SYNs from each socket\'s error queue)', () => {
  let lab: Lab;

  before(async () => {
    assertRoot();
    assert.ok(existsSync(CLI), `${CLI} is missing: run npm run build first`);
    lab = await createLab();
  });
  after(() => lab?.destroy());

  async function sweep(targets: readonly string[], unprivileged: boolean, json = true): Promise<{ report?: SweepReport; text: string }> {
    const argv = [...(unprivileged ? UNPRIVILEGED : []), ...cliCommand(), 'sweep', ...targets, 'tcp:5432', `timeout:${TIMEOUT_MS}`, 'retries:0'];
    const result = await lab.exec(json ? [...argv, '--json'] : argv, { timeoutMs: 60_000 });
    assert.equal(result.code, 0, `${argv.join(' ')}: ${result.stderr}`);
    return json ? { report: JSON.parse(result.stdout) as SweepReport, text: result.stderr } : { text: result.stdout };
  }

  it('names the router that rejects or cannot reach, the firewall that rejects, exactly as the raw socket does', { timeout: 120_000 }, async () => {
    const a = lab.addresses;
    // Each run has an empty address of its own: a router's neighbour entry that failed a moment ago may not be
    // tried again at once, and the second run would then meet silence where the first met an answer.
    const roles = (empty: { v4: string; v6: string }): Record<string, { ip: string; expected: string }> => ({
      'rejected behind the router (v4)': { ip: a.behind.prohibitedByRouter.v4, expected: `prohibited: prohibited, 3/13 from ${a.router.lan.v4}` },
      'rejected behind the router (v6)': { ip: a.behind.prohibitedByRouter.v6, expected: `prohibited: prohibited, 1/1 from ${a.router.lan.v6}` },
      'empty behind the router (v4)': { ip: empty.v4, expected: `unreachable: unreachable, 3/1 from ${a.router.lan.v4}` },
      'empty behind the router (v6)': { ip: empty.v6, expected: `unreachable: unreachable, 1/3 from ${a.router.lan.v6}` },
      'a host that rejects (v4)': { ip: a.lan.prohibited.v4, expected: `prohibited: prohibited, 3/13 from ${a.lan.prohibited.v4}` },
      'a host that rejects (v6)': { ip: a.lan.prohibited.v6, expected: `prohibited: prohibited, 1/1 from ${a.lan.prohibited.v6}` },
      'a REJECT with port unreachable': { ip: a.lan.portUnreachable.v4, expected: `prohibited: prohibited, 3/3 from ${a.lan.portUnreachable.v4}` },
      'an open port': { ip: a.lan.rds.v4, expected: 'open' },
      'a refused port (RST)': { ip: a.lan.alive.v6[0] as string, expected: 'closed' },
    });
    const emptyFor = (last: number): { v4: string; v6: string } => ({ v4: `198.18.1.${last}`, v6: `2001:db8:0:2::${last.toString(16)}` });
    const unprivilegedRoles = roles(emptyFor(0x77));
    const rawRoles = roles(emptyFor(0x78));

    const { report: unprivileged, text: warning } = await sweep(Object.values(unprivilegedRoles).map((r) => r.ip), true);
    assert.ok(unprivileged);
    assert.equal(unprivileged.icmp.available, false, 'the unprivileged sweeper had ICMP');
    assert.match(warning, /CAP_NET_RAW/);
    const { report: raw } = await sweep(Object.values(rawRoles).map((r) => r.ip), false);
    assert.ok(raw);
    assert.equal(raw.icmp.available, true, 'the root sweeper had no raw socket');

    for (const [role, { ip, expected }] of Object.entries(unprivilegedRoles)) {
      const rawIp = rawRoles[role]?.ip as string;
      assert.equal(said(portOf(raw, rawIp)), expected.replaceAll(ip, rawIp), `${role} (${rawIp}), raw socket`);
      assert.equal(said(portOf(unprivileged, ip)), expected, `${role} (${ip}), without privilege`);
    }
  });

  it('reads, in the text a person sees, "prohibited, said router" and "unreachable, said router", with no privilege', { timeout: 120_000 }, async () => {
    const a = lab.addresses;
    const { text } = await sweep([a.behind.prohibitedByRouter.v4, '198.18.1.79'], true, false);
    // A host's line: its address, then what was said (the summary line, which lists the targets, has a dash).
    const line = (ip: string): string =>
      text.split('\n').find((l) => l.trim().startsWith(`${ip} `) && !l.includes('—')) ?? `(no line for ${ip} in:\n${text})`;
    assert.match(line(a.behind.prohibitedByRouter.v4), new RegExp(`prohibited, said router ${a.router.lan.v4.replaceAll('.', '\\.')}$`));
    assert.match(line('198.18.1.79'), new RegExp(`unreachable, said router ${a.router.lan.v4.replaceAll('.', '\\.')}$`));
    assert.match(text, /Prohibited by a firewall \(1\)/);
    assert.match(text, /Unreachable \(1\)/);
  });

  it('gets the first hop\'s "time exceeded" for a SYN sent with TTL 1, unprivileged (a TCP trace\'s first step)', { timeout: 60_000 }, async () => {
    const a = lab.addresses;
    const probe = async (address: string, ttl: number): Promise<{ uid: number; outcome: TcpOutcome }> => {
      const result = await lab.exec([...UNPRIVILEGED, process.execPath, '--import', 'tsx', PROBE, address, '5432', '3000', String(ttl)]);
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout) as { uid: number; outcome: TcpOutcome };
    };
    for (const [address, router, type] of [
      [a.behind.alive.v4, a.router.lan.v4, 11],
      [a.behind.alive.v6, a.router.lan.v6, 3],
    ] as const) {
      const first = await probe(address, 1);
      assert.equal(first.uid, 65534);
      assert.equal(first.outcome.kind, 'error', `${address} TTL 1: ${JSON.stringify(first.outcome)}`);
      assert.ok(first.outcome.kind === 'error');
      assert.equal(first.outcome.reporter.address, router, `${address} TTL 1`);
      assert.equal(first.outcome.reporter.icmpType, type, `${address} TTL 1`);
      assert.equal(first.outcome.reporter.icmpCode, 0, `${address} TTL 1`);
      // One more hop reaches the host, which refuses: the TTL was the only reason.
      const second = await probe(address, 2);
      assert.equal(second.outcome.kind, 'closed', `${address} TTL 2: ${JSON.stringify(second.outcome)}`);
    }
  });

  it('says resource (EADDRNOTAVAIL), not a host fact, when the local ports run out; connects work again once they are back', { timeout: 60_000 }, async () => {
    // 16 local ports in the sweeper's namespace for a moment, and a host that drops every SYN: each connect holds
    // its port until its timer.
    const range = (await runOk(['ip', 'netns', 'exec', lab.sweeperNs, 'sysctl', '-n', 'net.ipv4.ip_local_port_range'])).stdout.trim();
    await runOk(['ip', 'netns', 'exec', lab.sweeperNs, 'sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=40000 40015']);
    try {
      const result = await lab.exec([...UNPRIVILEGED, process.execPath, '--import', 'tsx', SHORT_CHILD, lab.addresses.lan.silent.v4, '5432', '40']);
      assert.equal(result.code, 0, result.stderr);
      const counts = JSON.parse(result.stdout) as { first: Record<string, number>; again: Record<string, number> };
      assert.equal(counts.first.timeout, 16, `one per local port: ${result.stdout}`);
      assert.equal(counts.first['resource:EADDRNOTAVAIL'], 24, `the rest: ${result.stdout}`);
      assert.deepEqual(counts.again, { closed: 5 }, `once the ports are back: ${result.stdout}`);
    } finally {
      await runOk(['ip', 'netns', 'exec', lab.sweeperNs, 'sysctl', '-q', '-w', `net.ipv4.ip_local_port_range=${range.replace(/\s+/, ' ')}`]);
    }
  });
});
