/**
 * ZENSWEEP_ICMP=off, as the operator's choice, through the built CLI on loopback: this process sends no ICMP echo,
 * and every command says so by the setting's name — never "needs a raw socket … or ping_group_range", which would
 * send an on-call engineer after a privilege the process has (these tests run as root: a raw socket is there).
 * A sweep and a diag run their TCP parts; a UDP or TCP trace runs without privilege; an ICMP trace and the path MTU
 * search (echoes) are refused in one line, exit 2, as any TraceUnavailableError is.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { DiagReport } from '../../src/core/diag.js';
import type { SweepReport } from '../../src/core/report.js';
import type { TraceReport } from '../../src/core/trace.js';
import { CLI, zensweep } from '../support/cli.js';
import { loopbackPorts, type LoopbackPorts } from '../support/loopback-ports.js';
import { assertRoot } from '../support/root.js';

const OFF = { env: { ...process.env, ZENSWEEP_ICMP: 'off' }, timeoutMs: 60_000 };
/** What would send the reader after a privilege: never said when ICMP is off by the setting. */
const PRIVILEGE_WORDS = /ping_group_range|NET_RAW|raw socket|EPERM|EACCES/;
const REFUSED_TRACE = 'zensweep: an ICMP trace sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here\n';
const REFUSED_MTU = 'zensweep: the path MTU search sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here\n';

describe('ZENSWEEP_ICMP=off (the built CLI, as root, on loopback)', () => {
  let ports: LoopbackPorts;

  before(async () => {
    // As root a raw socket opens: what these tests see is the setting, not a missing privilege.
    assertRoot();
    assert.ok(existsSync(CLI), `${CLI} is missing: npm test builds it first (npm run build)`);
    ports = await loopbackPorts();
  });
  after(() => ports?.close());

  it('sweep: TCP probes only, the setting named on stderr and in the footer, no privilege fix, exit 0', async () => {
    const result = await zensweep(['sweep', '127.0.0.1', `tcp:${ports.openPort}`], OFF);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, 'zensweep: warning: ICMP not sent: ZENSWEEP_ICMP=off; running the TCP probes only\n');
    assert.match(result.stdout, /^127\.0\.0\.1 — 1 TCP answered · /);
    assert.match(result.stdout, /\nWarning: ICMP not sent: ZENSWEEP_ICMP=off; running the TCP probes only\n/);
    assert.match(result.stdout, /\nTCP answered; ICMP not sent \(1\)\n {2}127\.0\.0\.1 +\d+ open/);
    assert.match(result.stdout, /echoes 0 sent, 0 received/);
    assert.match(result.stdout, /\n {2}ICMP: off \(ZENSWEEP_ICMP=off\), TCP probes only\n/);
    assert.doesNotMatch(result.stdout, PRIVILEGE_WORDS);

    const json = await zensweep(['sweep', '127.0.0.1', `tcp:${ports.openPort}`, '--json'], OFF);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as SweepReport;
    assert.deepEqual(
      [report.icmp.available, report.icmp.mode, report.icmp.reason, report.hosts[0]?.icmp.sent, report.hosts[0]?.state],
      [false, 'off', 'setting', 0, 'alive_tcp_only'],
    );
  });

  it('trace … icmp: refused in one line naming the setting, exit 2, nothing on stdout', async () => {
    const result = await zensweep(['trace', '127.0.0.1', 'icmp'], OFF);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, REFUSED_TRACE);
  });

  it('trace (auto): TCP traced alone, and the report says ICMP was not traced because of the setting', async () => {
    // Auto is the trace without a mode: ICMP, then TCP 443 (closed on loopback: an answer all the same).
    const auto = await zensweep(['trace', '127.0.0.1'], OFF);
    assert.equal(auto.code, 0, auto.stderr);
    assert.equal(auto.stderr, '');
    assert.match(auto.stdout, /\nICMP not traced: an ICMP trace sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here\n/);
    assert.match(auto.stdout, /\nTCP 443 +Loss%/);
    assert.match(auto.stdout, /\n {2}TCP 443 through TCP connects \(no privilege\)\n/);
    assert.doesNotMatch(auto.stdout, /\nICMP +Loss%/);
    assert.doesNotMatch(auto.stdout, PRIVILEGE_WORDS);
    const json = await zensweep(['trace', '127.0.0.1', '--json'], OFF);
    const report = JSON.parse(json.stdout) as TraceReport;
    assert.deepEqual(report.paths.map((p) => [p.mode, p.sockets, p.end]), [['tcp', 'connect', 'reached']]);
  });

  it('trace udp and trace tcp:PORT: run without privilege and reach the host', async () => {
    const udp = await zensweep(['trace', '127.0.0.1', 'udp', '--json'], OFF);
    assert.equal(udp.code, 0, udp.stderr);
    const udpReport = JSON.parse(udp.stdout) as TraceReport;
    assert.deepEqual(udpReport.paths.map((p) => [p.mode, p.sockets, p.end]), [['udp', 'udp', 'reached']]);
    assert.equal(udpReport.warning, undefined);
    const tcp = await zensweep(['trace', '127.0.0.1', `tcp:${ports.openPort}`], OFF);
    assert.equal(tcp.code, 0, tcp.stderr);
    assert.match(tcp.stdout, new RegExp(`reaches 127\\.0\\.0\\.1 in 1 hop: port open\\n`));
    assert.match(tcp.stdout, new RegExp(`\\n {2}TCP ${ports.openPort} through TCP connects \\(no privilege\\)\\n`));
    assert.doesNotMatch(tcp.stdout, /ICMP not traced/);
  });

  it('mtu: refused in one line naming the setting, exit 2, nothing on stdout', async () => {
    const result = await zensweep(['mtu', '127.0.0.1'], OFF);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, REFUSED_MTU);
  });

  it('diag: no echo sent, the TCP connects and a TCP trace still there, the path MTU not measured, each saying why', async () => {
    const result = await zensweep(['diag', '127.0.0.1', `tcp:${ports.openPort}`], OFF);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.match(result.stdout, /\nSummary\n {2}127\.0\.0\.1 answers TCP; ICMP not sent \(\d+\/tcp open/);
    assert.match(result.stdout, /\nPing \(no echo\)\n {2}ICMP not sent: ZENSWEEP_ICMP=off\n/);
    assert.match(result.stdout, new RegExp(`\\nTCP connects\\n {2}${ports.openPort}/tcp open`));
    assert.match(result.stdout, /\nTrace: TCP \d+ reaches 127\.0\.0\.1 in 1 hop: port open\n {2}ICMP not traced: an ICMP trace sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here\n/);
    assert.match(result.stdout, /\nPath MTU to 127\.0\.0\.1: not measured: the path MTU search sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here\n/);
    assert.doesNotMatch(result.stdout, PRIVILEGE_WORDS);

    const json = await zensweep(['diag', '127.0.0.1', `tcp:${ports.openPort}`, '--json'], OFF);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as DiagReport;
    assert.deepEqual([report.host?.icmp.sent, report.icmp?.mode, report.icmp?.reason], [0, 'off', 'setting']);
    assert.equal(report.pathMtu, undefined);
    assert.equal(report.pathMtuNotMeasured, 'the path MTU search sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here');
    assert.deepEqual(report.trace?.paths.map((p) => [p.mode, p.sockets]), [['tcp', 'connect']]);
  });

  it('the same commands with ICMP on (auto, as root) send echoes: what the setting turned off was there to send', async () => {
    const auto = { env: { ...process.env, ZENSWEEP_ICMP: 'auto' }, timeoutMs: 60_000 };
    const sweep = JSON.parse((await zensweep(['sweep', '127.0.0.1', '--json'], auto)).stdout) as SweepReport;
    assert.deepEqual([sweep.icmp.mode, sweep.hosts[0]?.state], ['raw', 'alive']);
    const trace = await zensweep(['trace', '127.0.0.1', 'icmp'], auto);
    assert.equal(trace.code, 0, trace.stderr);
    assert.match(trace.stdout, /\n {2}ICMP through a raw socket\n/);
  });
});
