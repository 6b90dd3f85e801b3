import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SweepReport } from '../../src/core/report.js';
import { CLI, cliCommand, run, zensweep } from '../support/cli.js';
import { assertRoot } from '../support/root.js';

describe('zensweep sweep (the built CLI, real sockets on loopback)', () => {
  before(() => {
    assertRoot();
    assert.ok(existsSync(CLI), `${CLI} is missing: npm test builds it first (npm run build)`);
  });

  it('prints the report model as JSON for a /24, every host alive', async () => {
    const result = await zensweep(['sweep', '127.0.0.0/24', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as SweepReport;
    assert.equal(report.summary.alive, 254);
    assert.equal(report.summary.total, 254);
    assert.equal(report.hosts.length, 254);
    assert.ok(report.hosts.every((h) => h.state === 'alive' && typeof h.ip === 'string'));
    assert.equal(typeof report.durationMs, 'number');
  });

  it('sweeps a /16 on loopback and finds all 65,534 hosts alive', async () => {
    const result = await zensweep(['sweep', '127.0.0.0/16', 'retries:2', 'rate:0', '--json'], { timeoutMs: 120_000 });
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as SweepReport;
    assert.equal(report.summary.total, 65_534);
    assert.equal(report.summary.alive, 65_534);
    assert.equal(report.hosts[0]?.ip, '127.0.0.1');
    assert.equal(report.hosts.at(-1)?.ip, '127.0.255.254');
  });

  it('starts the text report with the summary line, then groups hosts by state', async () => {
    const result = await zensweep(['sweep', '127.0.0.0/29', 'tcp:1']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n');
    assert.match(lines[0] ?? '', /^127\.0\.0\.0\/29 — 6 alive · \d+ ms$/);
    assert.equal(lines[2], 'Alive (6)');
    // One echo: its round trip; the closed port is no news about a host that answers echo.
    assert.match(result.stdout, /\n {2}127\.0\.0\.1 +rtt \d+(\.\d+)? ms\n/);
    assert.match(result.stdout, /Statistics\n {2}6 addresses in/);
  });

  it('writes CSV with a header and one row per host', async () => {
    const result = await zensweep(['sweep', '127.0.0.1-3', 'count=2', 'interval=10', '--csv']);
    assert.equal(result.code, 0, result.stderr);
    const rows = result.stdout.trim().split('\n');
    assert.equal(rows[0], 'ip,names,state,echo_sent,echo_received,loss_pct,rtt_min_ms,rtt_avg_ms,rtt_max_ms,rtt_mdev_ms,ports,reported_by,reason,link,mac,icmp,ptr');
    assert.equal(rows.length, 4);
    // Loopback is no link: its link and mac cells are empty.
    assert.match(rows[1] ?? '', /^127\.0\.0\.1,,alive,2,2,0,\d.*,,,,,sent,$/);
  });

  for (const [args, fragment] of [
    [['10.0.1.0/33'], '10.0.1.0/33'],
    [['10.0.0.0/8'], 'at most 65,536'],
    [['127.0.0.1', 'count:0'], 'count:0'],
    [['127.0.0.1', 'bogus:1'], 'bogus'],
    [['127.0.0.1', '--frobnicate'], 'frobnicate'],
    [['127.0.0.1', 'from:all'], 'zensweep submit'],
    // What only submit can honour is refused, not ignored.
    [['127.0.0.1', 'save:before'], 'save:before keeps baselines in Redis, which a sweep from here does not use: zensweep submit 127.0.0.1 save:before does'],
    [['127.0.0.1', 'compare:before'], 'compare:before keeps baselines in Redis'],
    [['127.0.0.1', 'vpc:prod'], 'vpc:prod picks the agents that sweep: this sweep runs here; to run it on them: zensweep submit 127.0.0.1 vpc:prod'],
    // The flag's own name, never the code's (maxAddresses).
    [['127.0.0.1', '--max-addresses', '0'], '--max-addresses 0 is out of range: it takes 1 to 16777216'],
    [['127.0.0.1', '--max-addresses', '99999999999'], '--max-addresses 99999999999 is out of range'],
    // A name that resolves to nothing (.invalid never does: RFC 6761) leaves nothing to sweep.
    [['nothing-here.invalid'], 'nothing to sweep: nothing-here.invalid ('],
    [[], 'target'],
  ] as const) {
    it(`refuses bad input with exit 2 and one line naming it: ${args.join(' ') || '(nothing)'}`, async () => {
      const result = await zensweep(['sweep', ...args]);
      assert.equal(result.code, 2, result.stdout + result.stderr);
      assert.equal(result.stdout, '');
      const lines = result.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.ok(lines[0]?.includes(fragment), `${lines[0]} should mention ${fragment}`);
    });
  }

  it('honours ZENSWEEP_MAX_ADDRESSES and refuses a bad value of it in one line', async () => {
    const small = await zensweep(['sweep', '127.0.0.0/24'], { env: { ...process.env, ZENSWEEP_MAX_ADDRESSES: '100' } });
    assert.equal(small.code, 2);
    assert.match(small.stderr, /at most 100/);
    const bad = await zensweep(['sweep', '127.0.0.1'], { env: { ...process.env, ZENSWEEP_MAX_ADDRESSES: 'lots' } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /ZENSWEEP_MAX_ADDRESSES=lots is invalid/);
  });

  it('without root or CAP_NET_RAW: warns once, still runs the TCP probes, exits 0', async () => {
    // ZENSWEEP_ICMP=raw: a raw socket or none, whatever this machine's net.ipv4.ping_group_range lets a ping socket do
    // (test/engine/ping-socket.test.ts tests those, in namespaces of its own).
    const result = await run(
      ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', ...cliCommand(), 'sweep', '127.0.0.1', 'tcp:1', '--json'],
      { env: { ...process.env, ZENSWEEP_ICMP: 'raw' } },
    );
    assert.equal(result.code, 0, result.stderr);
    const warnings = result.stderr.split('\n').filter((l) => l.includes('CAP_NET_RAW'));
    assert.equal(warnings.length, 1, result.stderr);
    assert.match(warnings[0] ?? '', /\(EPERM: needs root or CAP_NET_RAW\).*\(set net\.ipv4\.ping_group_range, or add NET_RAW\)$/);
    const report = JSON.parse(result.stdout) as SweepReport;
    assert.equal(report.icmp.available, false);
    assert.equal(report.hosts[0]?.state, 'alive_tcp_only');
    assert.equal(report.hosts[0]?.icmp.sent, 0);
    assert.equal(report.hosts[0]?.ports[0]?.state, 'closed');
  });
});

describe('zensweep sweep on a terminal', () => {
  it('draws a progress bar on stderr when it is a TTY, and clears it before the report', async () => {
    // `script` gives the command a pseudo-terminal, as a person's shell would.
    const result = await run(['script', '-qec', `${cliCommand().join(' ')} sweep 127.0.0.0/22 count:2 interval:200`, '/dev/null']);
    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /█+░*\s+\d[\d,]*\/1,022 · [\d,]+ alive/);
    assert.match(result.stdout, /\r\x1b\[K127\.0\.0\.0\/22 — 1,022 alive/);
  });
});

describe('zensweep sweep --json', () => {
  it('writes one valid JSON document equal to the report model, hosts last', async () => {
    const result = await zensweep(['sweep', '127.0.0.0/21', 'retries:2', '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.stdout.endsWith(']}\n'));
    const report = JSON.parse(result.stdout) as SweepReport;
    assert.deepEqual(Object.keys(report).at(-1), 'hosts');
    assert.equal(report.hosts.length, 2046);
    assert.equal(new Set(report.hosts.map((h) => h.ip)).size, 2046);
    assert.equal(report.summary.alive, 2046);
  });
});

describe('zensweep sweep for scripts: --alive, --unreachable, -f (the built CLI, in a namespace of its own)', () => {
  // Its own network namespace, loopback only (no route anywhere): ICMP to 127.0.0.9 is dropped there, so one address
  // answers and one does not.
  const ns = `zs-script-${process.pid}`;
  const inNs = (args: string[], options: { input?: string } = {}) =>
    run(['ip', 'netns', 'exec', ns, ...(options.input === undefined ? [] : ['sh', '-c', `printf '%s' "$0" | "$@"`, options.input]), ...cliCommand(), ...args]);
  before(async () => {
    assertRoot();
    const steps = [
      ['ip', 'netns', 'add', ns],
      ['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'],
      ['ip', 'netns', 'exec', ns, 'nft', 'add table inet zs; add chain inet zs in { type filter hook input priority 0; }; add rule inet zs in ip daddr 127.0.0.9 icmp type echo-request drop'],
    ];
    for (const step of steps) {
      const done = await run(step);
      assert.equal(done.code, 0, `${step.join(' ')}: ${done.stderr}`);
    }
  });
  after(async () => {
    await run(['ip', 'netns', 'delete', ns]);
  });

  it('prints only the addresses that answered (--alive) or did not (--unreachable), one a line, exit 1 when one did not', async () => {
    const alive = await inNs(['sweep', '127.0.0.8-9', 'timeout:300', 'retries:0', '--alive']);
    assert.deepEqual([alive.code, alive.stdout, alive.stderr], [1, '127.0.0.8\n', '']);
    const unreachable = await inNs(['sweep', '127.0.0.8-9', 'timeout:300', 'retries:0', '--unreachable']);
    assert.deepEqual([unreachable.code, unreachable.stdout, unreachable.stderr], [1, '127.0.0.9\n', '']);
    // Every address answered: exit 0, and nothing is unreachable.
    const all = await inNs(['sweep', '127.0.0.1-3', '--unreachable']);
    assert.deepEqual([all.code, all.stdout], [0, '']);
    // Without them the exit code is the report's as before: it ran to its end.
    assert.equal((await inNs(['sweep', '127.0.0.8-9', 'timeout:300', 'retries:0'])).code, 0);
    const both = await inNs(['sweep', '127.0.0.8', '--alive', '--csv']);
    assert.deepEqual([both.code, both.stderr], [2, 'zensweep: --csv and --alive cannot be used together; pick one\n']);
  });

  it('reads targets from a file or standard input with -f, one or more a line, # comments', async () => {
    const file = join(tmpdir(), `zs-targets-${process.pid}.txt`);
    await writeFile(file, '# the lab\n127.0.0.8   # answers\n\n127.0.0.9 127.0.0.10\n');
    try {
      const fromFile = await inNs(['sweep', '-f', file, 'timeout:300', 'retries:0', '--alive']);
      assert.deepEqual([fromFile.code, fromFile.stdout], [1, '127.0.0.8\n127.0.0.10\n']);
    } finally {
      await rm(file, { force: true });
    }
    const fromStdin = await inNs(['sweep', '-f', '-', '--alive'], { input: '127.0.0.4\n127.0.0.5\n' });
    assert.deepEqual([fromStdin.code, fromStdin.stdout, fromStdin.stderr], [0, '127.0.0.4\n127.0.0.5\n', '']);
    const missing = await inNs(['sweep', '-f', '/nonexistent/targets.txt']);
    assert.deepEqual([missing.code, missing.stderr], [2, 'zensweep: -f /nonexistent/targets.txt: cannot read it (ENOENT)\n']);
  });
});
