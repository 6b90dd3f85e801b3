/**
 * Honest TCP-only words everywhere a host is said, not only in the report (issue 18): watches, diag, the map's
 * legend, CSV, what changed since the last sweep, and a report whose agents probed differently (one without ICMP).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSweepText } from '../../src/core/grammar.js';
import type { ChunkAccount, DistributedReport, HostResult, IcmpMode, IcmpOffReason, IcmpStatus } from '../../src/core/report.js';
import { ICMP_OFF_SETTING_WARNING, agentsWithoutIcmp, agentsWithoutIcmpByReason, summarize } from '../../src/core/report.js';
import { compactHosts, diffSweeps, noEchoTo } from '../../src/core/diff.js';
import { hostFact, readFact, sameFacts } from '../../src/core/facts.js';
import { firstState, isQuiet, observeRun, runSignatures } from '../../src/core/watch.js';
import { sameFact } from '../../src/core/vantage.js';
import { noEchoWords, summarizeDiag } from '../../src/core/diag.js';
import type { DiagReport } from '../../src/core/diag.js';
import { DEFAULT_TRACE_OPTIONS } from '../../src/core/trace.js';
import type { TraceReport } from '../../src/core/trace.js';
import { reportBlocks, filesComment } from '../../src/views/blocks.js';
import { renderCsv } from '../../src/views/csv.js';
import { renderDiagText } from '../../src/views/diag/text.js';
import { diagBlocks } from '../../src/views/trace/slack.js';
import { sweepMap } from '../../src/views/map.js';
import { renderText } from '../../src/views/text.js';
import { changePhrase } from '../../src/slack/watches/render.js';
import { compactRecord, recordHosts } from '../../src/queue/history.js';
import { renderHistoryText } from '../../src/views/history.js';

const OFF: IcmpStatus = { available: false, mode: 'off', reason: 'setting', warning: ICMP_OFF_SETTING_WARNING };
const UNAVAILABLE: IcmpStatus = {
  available: false,
  mode: 'off',
  reason: 'unavailable',
  warning:
    'ICMP not sent: no raw socket (EPERM: needs root or CAP_NET_RAW), and no ping socket (EACCES: net.ipv4.ping_group_range does not cover group 65534); running the TCP probes only (set net.ipv4.ping_group_range, or add NET_RAW)',
};
const STATUS: Record<IcmpMode, IcmpStatus> = { raw: { available: true, mode: 'raw' }, ping: { available: true, mode: 'ping' }, off: OFF };

const echo = (sent: number, received: number) =>
  received > 0
    ? { sent, received, lossPct: 0, rtt: { min: 0.2, avg: 0.2, max: 0.2, mdev: 0 } }
    : { sent, received, lossPct: sent > 0 ? 100 : 0 };

/** A host as an agent with ICMP (`sent` echoes) or without (none) finds it. */
function host(ip: string, state: HostResult['state'], withIcmp: boolean, open: boolean): HostResult {
  const answered = state === 'alive';
  return {
    ip,
    state,
    icmp: withIcmp ? echo(1, answered ? 1 : 0) : echo(0, 0),
    ports: [open ? { port: 5432, state: 'open', ms: 0.3, attempts: 1 } : { port: 5432, state: 'filtered', attempts: 2 }],
  };
}

function report(hosts: HostResult[], icmp: IcmpStatus, chunks: ChunkAccount[]): DistributedReport {
  return {
    targets: ['198.18.0.0/28'],
    options: parseSweepText('198.18.0.0/28 tcp:5432').options,
    startedAt: '2026-12-04T22:00:00.000Z',
    durationMs: 1000,
    complete: true,
    planned: hosts.length,
    icmp,
    summary: summarize(hosts),
    names: [],
    hosts,
    sweepId: 'mixed1',
    groups: ['prod'],
    requestedBy: 'U1',
    chunks,
    failures: [],
    cancelled: false,
  };
}

const alive = (ip: string, open: boolean): HostResult => host(ip, 'alive', true, open);
const chunk = (index: number, agentId: string, icmpMode: IcmpMode, icmpReason?: IcmpOffReason): ChunkAccount => ({
  index,
  group: 'prod',
  agentId,
  attempt: 1,
  stalled: 0,
  durationMs: 900,
  icmpMode,
  ...(icmpReason ? { icmpReason } : {}),
});
const header = { user: 'U1', text: '198.18.0.0/28 tcp:5432', groups: ['prod'], addresses: 4 };

const MIXED_HOSTS = [
  host('198.18.0.1', 'alive_tcp_only', true, true),
  host('198.18.0.2', 'silent', true, false),
  host('198.18.0.9', 'alive_tcp_only', false, true),
  host('198.18.0.10', 'silent', false, false),
];

/**
 * One host of each kind from prod-a (raw ICMP) and prod-b (no ICMP, ZENSWEEP_ICMP=off): what the report worker puts
 * together — ICMP sent by the sweep, prod-b's warning kept, its chunk saying why it sent none.
 */
function mixedReport(): DistributedReport {
  return report(MIXED_HOSTS, { available: true, mode: 'raw', warning: ICMP_OFF_SETTING_WARNING }, [chunk(0, 'prod-a', 'raw'), chunk(1, 'prod-b', 'off', 'setting')]);
}

describe('a report whose agents probed differently (one without ICMP)', () => {
  it('words each host by its own agent, and says which agent ran without ICMP, in text and in Slack', () => {
    const mixed = mixedReport();
    assert.deepEqual(agentsWithoutIcmp(mixed), ['prod-b']);
    const text = renderText(mixed);
    assert.match(text, / — 1 TCP only · 1 TCP answered · 1 silent · 1 not probed by ICMP · 1\.00 s\n/);
    assert.match(text, /\nICMP not sent by agent prod-b \(ZENSWEEP_ICMP=off\): its hosts .*prod-a sent ICMP\.\n/);
    assert.match(text, /\nWarning from prod-b: ICMP not sent: ZENSWEEP_ICMP=off/);
    assert.match(text, /\nTCP only: ICMP filtered, or not sent \(2\)\n {2}198\.18\.0\.1 +5432 open 0\.30 ms · ICMP filtered\n {2}198\.18\.0\.9 +5432 open 0\.30 ms · ICMP not sent\n/);
    assert.match(text, /\nSilent, or not probed by ICMP \(2\)\n {2}198\.18\.0\.2 +silent\n {2}198\.18\.0\.10 +not probed by ICMP, no TCP answer\n/);
    assert.match(text, /ICMP: off on prod-b \(ZENSWEEP_ICMP=off\), sent by the other agents/);
    assert.doesNotMatch(text, /NET_RAW|ping_group_range/);
    const slack = JSON.stringify(reportBlocks(mixed, header).blocks);
    assert.match(slack, /1 TCP only · 1 TCP answered · 1 silent · 1 not probed by ICMP/);
    assert.match(slack, /ICMP filtered/);
    assert.match(slack, /ICMP not sent by agent prod-b/);
    assert.match(slack, /ICMP: off on prod-b/);
  });

  it('says why each agent sent none, by the reason its chunks carry: the setting, the want of a socket, or both', () => {
    const unavailable = report(MIXED_HOSTS, { available: true, mode: 'raw', warning: UNAVAILABLE.warning }, [chunk(0, 'prod-a', 'raw'), chunk(1, 'prod-b', 'off', 'unavailable')]);
    const text = renderText(unavailable);
    assert.match(text, /\nICMP not sent by agent prod-b \(TCP probes only\): its hosts .*prod-a sent ICMP\.\n/);
    assert.match(text, /\nWarning from prod-b: ICMP not sent: no raw socket .*\(set net\.ipv4\.ping_group_range, or add NET_RAW\)\n/);
    assert.match(text, /ICMP: off on prod-b \(TCP probes only\), sent by the other agents/);
    assert.doesNotMatch(text, /ZENSWEEP_ICMP=off/);

    // Three agents: prod-b off by its setting, prod-c and prod-d wanting a socket; prod-b's chunk came first.
    const both = report(
      [...MIXED_HOSTS, host('198.18.0.11', 'alive_tcp_only', false, true), host('198.18.0.12', 'alive_tcp_only', false, true)],
      { available: true, mode: 'raw', warning: ICMP_OFF_SETTING_WARNING },
      [chunk(0, 'prod-a', 'raw'), chunk(1, 'prod-b', 'off', 'setting'), chunk(2, 'prod-c', 'off', 'unavailable'), chunk(3, 'prod-d', 'off', 'unavailable')],
    );
    assert.deepEqual(agentsWithoutIcmpByReason(both), [
      { reason: 'setting', agents: ['prod-b'] },
      { reason: 'unavailable', agents: ['prod-c', 'prod-d'] },
    ]);
    const bothText = renderText(both);
    assert.match(bothText, /\nICMP not sent by agents prod-b \(ZENSWEEP_ICMP=off\) and prod-c, prod-d \(TCP probes only\): their hosts .*prod-a sent ICMP\.\n/);
    // The warning kept is prod-b's (the first chunk without ICMP): it is not said to be prod-c's or prod-d's.
    assert.match(bothText, /\nWarning from prod-b: ICMP not sent: ZENSWEEP_ICMP=off; running the TCP probes only\n/);
    assert.match(bothText, /ICMP: off on prod-b \(ZENSWEEP_ICMP=off\) and prod-c, prod-d \(TCP probes only\), sent by the other agents/);
    const slack = JSON.stringify(reportBlocks(both, header).blocks);
    assert.match(slack, /ICMP: off on prod-b \(ZENSWEEP_ICMP=off\) and prod-c, prod-d \(TCP probes only\)/);
  });

  it('reads a report stored by an older worker (its ICMP the off agent\'s, chunks without a reason) in the words it had', () => {
    const older = report(MIXED_HOSTS, { available: false, mode: 'off', warning: UNAVAILABLE.warning }, [chunk(0, 'prod-a', 'raw'), chunk(1, 'prod-b', 'off')]);
    const text = renderText(older);
    assert.match(text, / — 1 TCP only · 1 TCP answered · 1 silent · 1 not probed by ICMP · 1\.00 s\n/);
    assert.match(text, /\nICMP not sent by agent prod-b \(TCP probes only\): its hosts .*prod-a sent ICMP\.\n/);
    assert.match(text, /\nWarning from prod-b: ICMP not sent: no raw socket/);
    assert.match(text, /ICMP: off on prod-b \(TCP probes only\), sent by the other agents/);
  });

  it('titles a section by its hosts when all of them came from one kind of agent', () => {
    const mixed = mixedReport();
    // prod-b's hosts only TCP-only, prod-a's only silent.
    const some = { ...mixed, hosts: [mixed.hosts[1], mixed.hosts[2]].filter((h): h is HostResult => h !== undefined) };
    some.summary = summarize(some.hosts);
    const text = renderText(some);
    assert.match(text, /\nTCP answered; ICMP not sent \(1\)\n/);
    assert.match(text, /\nSilent \(1\)\n/);
    assert.doesNotMatch(text, /ICMP filtered/);
  });

  it('a report whose agents all probed alike keeps the words of its mode', () => {
    const hosts = [host('198.18.0.1', 'alive_tcp_only', true, true), host('198.18.0.2', 'silent', true, false)];
    for (const mode of ['raw', 'ping'] as const) {
      const text = renderText(report(hosts, STATUS[mode], [chunk(0, 'prod-a', mode), chunk(1, 'prod-b', mode)]));
      assert.match(text, /1 TCP only · 1 silent/);
      assert.doesNotMatch(text, /not sent|not probed/);
    }
    const unsent = [host('198.18.0.1', 'alive_tcp_only', false, true), host('198.18.0.2', 'silent', false, false)];
    const off = renderText(report(unsent, OFF, [chunk(0, 'prod-a', 'off'), chunk(1, 'prod-b', 'off')]));
    assert.match(off, /1 TCP answered · 1 not probed by ICMP/);
    assert.doesNotMatch(off, /ICMP filtered|Silent|silent ·|off on/);
  });
});

describe('the map legend and the CSV, by ICMP mode', () => {
  it('the legend says TCP answered and not probed by ICMP without ICMP, the usual words with it, both when mixed', () => {
    const unsent = [host('198.18.0.1', 'alive_tcp_only', false, true), host('198.18.0.2', 'silent', false, false)];
    const sent = [host('198.18.0.1', 'alive_tcp_only', true, true), host('198.18.0.2', 'silent', true, false)];
    const legend = (r: DistributedReport): string => {
      assert.ok(sweepMap(r), 'a /28 has a map');
      return filesComment(r, sweepMap(r));
    };
    const off = legend(report(unsent, OFF, [chunk(0, 'a', 'off')]));
    assert.match(off, /🟦 1 TCP answered/);
    assert.match(off, /⬛ 1 not probed by ICMP/);
    assert.doesNotMatch(off, /TCP only|silent/);
    for (const mode of ['raw', 'ping'] as const) {
      const on = legend(report(sent, STATUS[mode], [chunk(0, 'a', mode)]));
      assert.match(on, /🟦 1 TCP only/);
      assert.match(on, /⬛ 1 silent/);
    }
    const mixed = legend(mixedReport());
    assert.match(mixed, /TCP only\/answered/);
    assert.match(mixed, /silent\/not probed by ICMP/);
  });

  it('the CSV keeps the engine state and says in its icmp column whether an echo went', () => {
    const rows = renderCsv(mixedReport()).trim().split('\n');
    assert.match(rows[0] ?? '', /,icmp,ptr$/);
    assert.match(rows.find((r) => r.startsWith('198.18.0.1,')) ?? '', /^198\.18\.0\.1,,alive_tcp_only,1,0,100,.*,sent,$/);
    assert.match(rows.find((r) => r.startsWith('198.18.0.9,')) ?? '', /^198\.18\.0\.9,,alive_tcp_only,0,0,0,.*,not_sent,$/);
    assert.match(rows.find((r) => r.startsWith('198.18.0.10,')) ?? '', /^198\.18\.0\.10,,silent,0,0,0,.*,not_sent,$/);
  });
});

describe('diag without ICMP', () => {
  const diag = (h: HostResult, more: Partial<DiagReport> = {}): DiagReport => {
    const base: Omit<DiagReport, 'summary'> = {
      target: h.ip,
      address: h.ip,
      family: 4,
      window: { start: '2026-12-04T22:00:00Z', end: '2026-12-04T22:00:02Z' },
      resolution: { servers: [] },
      host: h,
      commands: [],
      durationMs: 2000,
      ...more,
    };
    return { ...base, summary: summarizeDiag(base) };
  };

  it('off by ZENSWEEP_ICMP=off: the ping part names the setting, the path MTU says why it was not measured, no privilege fix', () => {
    const off = diag(host('198.18.0.9', 'alive_tcp_only', false, true), {
      icmp: OFF,
      pathMtuNotMeasured: 'the path MTU search sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here',
    });
    assert.equal(noEchoWords(off), 'ICMP not sent: ZENSWEEP_ICMP=off');
    const text = renderDiagText(off);
    assert.match(text, /\nPing \(no echo\)\n {2}ICMP not sent: ZENSWEEP_ICMP=off\n/);
    assert.match(text, /\nPath MTU to 198\.18\.0\.9: not measured: the path MTU search sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here\n/);
    assert.doesNotMatch(text, /NET_RAW|ping_group_range|the agent runs without ICMP/);
    const slack = JSON.stringify(diagBlocks(off));
    assert.match(slack, /\*Ping\* ICMP not sent: ZENSWEEP_ICMP=off/);
    assert.match(slack, /\*Path MTU\* not measured: the path MTU search sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here/);
    assert.doesNotMatch(slack, /NET_RAW|ping_group_range/);
  });

  it('off for want of a socket: the ping part gives the fix, as it did', () => {
    const unavailable = diag(host('198.18.0.9', 'alive_tcp_only', false, true), { icmp: UNAVAILABLE });
    assert.match(renderDiagText(unavailable), /Ping \(no echo\)\n {2}ICMP not sent: the agent runs without ICMP \(set net\.ipv4\.ping_group_range, or add NET_RAW\)\n/);
    assert.match(JSON.stringify(diagBlocks(unavailable)), /\*Ping\* ICMP not sent: the agent runs without ICMP \(set net\.ipv4\.ping_group_range, or add NET_RAW\)/);
    assert.doesNotMatch(renderDiagText(unavailable), /ZENSWEEP_ICMP=off|Path MTU/);
  });

  it('says under its trace why it traced TCP alone', () => {
    const trace: TraceReport = {
      target: '198.18.0.9',
      address: '198.18.0.9',
      family: 4,
      options: DEFAULT_TRACE_OPTIONS,
      startedAt: '2026-12-04T22:00:00Z',
      durationMs: 20,
      paths: [{ mode: 'tcp', port: 443, sockets: 'connect', end: 'reached', tcpState: 'closed', hops: [], probes: 3, durationMs: 10 }],
      conclusion: 'TCP 443 reaches 198.18.0.9 in 1 hop: port closed',
      warning: 'ICMP not traced: an ICMP trace sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here',
    };
    const text = renderDiagText(diag(host('198.18.0.9', 'alive_tcp_only', false, true), { icmp: OFF, trace }));
    assert.match(text, /\nTrace: TCP 443 reaches 198\.18\.0\.9 in 1 hop: port closed\n {2}ICMP not traced: an ICMP trace sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here\n/);
  });

  it('a diag stored before its ICMP status was kept says why no echo went in the words it had', () => {
    const off = diag(host('198.18.0.9', 'alive_tcp_only', false, true));
    assert.equal(off.summary[0], '198.18.0.9 answers TCP; ICMP not sent (5432/tcp open 0.30 ms)');
    const text = renderDiagText(off);
    assert.match(text, /Ping \(no echo\)\n {2}ICMP not sent: the agent runs without ICMP \(set net\.ipv4\.ping_group_range, or add NET_RAW\)/);
    assert.doesNotMatch(text, /ICMP filtered|needs root/);
    const slack = JSON.stringify(diagBlocks(off));
    assert.match(slack, /\*State\* TCP answered; ICMP not sent/);
    assert.match(slack, /\*Ping\* ICMP not sent: the agent runs without ICMP/);
    assert.doesNotMatch(slack, /ICMP filtered/);
    assert.equal(diag(host('198.18.0.10', 'silent', false, false)).summary[0], '198.18.0.10 answers no TCP port; ICMP not sent (5432/tcp filtered)');
  });

  it('with ICMP, a host that answers TCP only has ICMP filtered', () => {
    const raw = diag(host('198.18.0.1', 'alive_tcp_only', true, true));
    assert.equal(raw.summary[0], '198.18.0.1 answers TCP only, ICMP filtered (5432/tcp open 0.30 ms)');
    assert.match(JSON.stringify(diagBlocks(raw)), /\*State\* TCP only, ICMP filtered/);
  });
});

describe('what changed, when one of two sweeps sent no ICMP', () => {
  // As history's comparisonWith makes it: the ports each host answered on then, with the hosts no echo went to now.
  const context = (then: HostResult[], now: HostResult[]) => ({
    answeredOn: new Map(then.flatMap((h) => (h.ports.some((p) => p.state === 'open') ? [[h.ip, [5432]] as [string, number[]]] : []))),
    portsNow: [5432],
    noEchoNow: noEchoTo(now),
  });

  it('a fact says no echo went (icmp/unsent), read back as such; old readers see the same state and ports', () => {
    const fact = hostFact(host('198.18.0.9', 'alive_tcp_only', false, true));
    assert.equal(fact, 'alive_tcp_only 5432/open icmp/unsent');
    assert.equal(readFact(fact).echo, false);
    assert.deepEqual([...readFact(fact).ports], [[5432, 'open']]);
    assert.equal(hostFact(host('198.18.0.10', 'silent', false, false)), 'silent', 'a silent host stays quiet for the watches');
    assert.equal(hostFact(host('198.18.0.1', 'alive_tcp_only', true, true)), 'alive_tcp_only 5432/open');
  });

  it('raw then ICMP off: no invented change; "ICMP not sent now" where only ICMP could tell; a real TCP change is still one', () => {
    const thenHosts = [alive('198.18.0.1', true), alive('198.18.0.2', false), host('198.18.0.3', 'alive_tcp_only', true, true), alive('198.18.0.4', true)];
    const before = compactHosts(thenHosts);
    const now = [
      host('198.18.0.1', 'alive_tcp_only', false, true),
      host('198.18.0.2', 'silent', false, false),
      host('198.18.0.3', 'alive_tcp_only', false, true),
      host('198.18.0.4', 'silent', false, false),
    ];
    const diff = diffSweeps(before, compactHosts(now), context(thenHosts, now));
    assert.deepEqual(diff.echoNotCompared, [
      { ip: '198.18.0.1', then: 'alive', now: 'alive_tcp_only', unsent: 'now' },
      { ip: '198.18.0.2', then: 'alive', now: 'silent', unsent: 'now' },
    ]);
    assert.equal(diff.unchanged, 1, '198.18.0.3: TCP only then, TCP answered now: the same fact');
    assert.deepEqual(diff.changed, []);
    // 198.18.0.4 answered on 5432 then and not now: that TCP saw, ICMP or not.
    assert.deepEqual(diff.wentSilent, [['198.18.0.4', 'silent']]);
    assert.deepEqual(diff.appeared, []);
  });

  it('ICMP off then raw: "ICMP not sent then", not alive → TCP only nor appeared', () => {
    const then = [host('198.18.0.1', 'alive_tcp_only', false, true), host('198.18.0.2', 'alive_tcp_only', false, true)];
    const now = [alive('198.18.0.1', true), host('198.18.0.2', 'silent', true, false)];
    const diff = diffSweeps(compactHosts(then), compactHosts(now), context(then, now));
    assert.deepEqual(diff.echoNotCompared, [{ ip: '198.18.0.1', then: 'alive_tcp_only', now: 'alive', unsent: 'then' }]);
    assert.deepEqual(diff.changed, []);
    assert.equal(diff.unchanged, 0);
    // 198.18.0.2 answered TCP then and answers nothing now, echo included: that is a change.
    assert.deepEqual(diff.wentSilent, [['198.18.0.2', 'silent']]);
  });

  it('the report says it in words: ICMP not sent now (alive then), among what was not compared', () => {
    const thenHosts = [alive('198.18.0.1', true), alive('198.18.0.2', false)];
    const before = compactHosts(thenHosts);
    const nowHosts = [host('198.18.0.1', 'alive_tcp_only', false, true), host('198.18.0.2', 'silent', false, false)];
    const r = report(nowHosts, OFF, [chunk(0, 'prod-b', 'off')]);
    r.changes = { since: '2026-12-04T21:00:00.000Z', sinceId: 'x', diff: diffSweeps(before, compactHosts(nowHosts), context(thenHosts, nowHosts)) };
    const text = renderText(r);
    assert.match(text, /Since 21:00 UTC \(1 h ago\): 2 not compared\n {2}not compared: 198\.18\.0\.1-2 \(ICMP not sent now, alive then\)\n/);
    assert.doesNotMatch(text, /alive → TCP only|went silent|1 changed/);
  });

  it('sameFacts, the watches and the vantages take a missing echo for no change', () => {
    assert.equal(sameFacts('alive 5432/open', 'alive_tcp_only 5432/open icmp/unsent'), true);
    assert.equal(sameFacts('alive 5432/open', 'alive_tcp_only 5432/closed icmp/unsent'), false);
    assert.equal(sameFacts('alive_tcp_only 5432/open', 'alive 5432/open'), false, 'both sent ICMP: a change');
    assert.equal(sameFacts('prohibited', 'silent'), false);
    let state = firstState(new Map([['198.18.0.1', 'alive 5432/open']]));
    const verdict = observeRun(state, new Map([['198.18.0.1', 'alive_tcp_only 5432/open icmp/unsent']]), 1, new Date('2026-12-04T22:00:00Z'));
    assert.deepEqual(verdict.changes, []);
    state = verdict.state;
    const closed = observeRun(state, new Map([['198.18.0.1', 'alive_tcp_only 5432/closed icmp/unsent']]), 1, new Date('2026-12-04T22:01:00Z'));
    assert.equal(closed.changes.length, 1);
    assert.equal(sameFact(alive('198.18.0.1', true), host('198.18.0.1', 'alive_tcp_only', false, true)), true);
    assert.equal(sameFact(alive('198.18.0.1', true), host('198.18.0.1', 'alive_tcp_only', true, true)), false);
  });
});

describe('a watch whose agent runs without ICMP', () => {
  const at = (minute: number): Date => new Date(Date.UTC(2026, 11, 4, 22, minute));
  const run = (hosts: HostResult[]) => runSignatures(compactHosts(hosts), noEchoTo(hosts));

  it('keeps no silent address in its state, asked by ICMP or not', () => {
    const first = run([host('198.18.0.1', 'alive_tcp_only', false, true), host('198.18.0.2', 'silent', false, false)]);
    assert.deepEqual([...first], [
      ['198.18.0.1', 'alive_tcp_only 5432/open icmp/unsent'],
      ['198.18.0.2', 'silent icmp/unsent'],
    ]);
    assert.equal(isQuiet('silent icmp/unsent'), true);
    assert.deepEqual(firstState(first).baseline, { '198.18.0.1': 'alive_tcp_only 5432/open icmp/unsent' });
  });

  it('a host that answered echo only does not "go silent" when the agent loses ICMP; one that stops answering TCP is said so', () => {
    let state = firstState(run([alive('198.18.0.1', false), alive('198.18.0.2', true)]));
    const lost = observeRun(state, run([host('198.18.0.1', 'silent', false, false), host('198.18.0.2', 'alive_tcp_only', false, true)]), 1, at(1));
    assert.deepEqual(lost.changes, [], 'ICMP not asked: no change');
    state = lost.state;
    const closed = observeRun(state, run([host('198.18.0.1', 'silent', false, false), host('198.18.0.2', 'silent', false, false)]), 1, at(2));
    assert.deepEqual(closed.changes.map((c) => [c.ip, changePhrase(c.from, c.to)]), [['198.18.0.2', 'stopped answering TCP (ICMP not sent)']]);
    assert.deepEqual(Object.keys(closed.state.baseline), ['198.18.0.1'], 'the silent one left the state');
  });
});

describe('watch messages without ICMP', () => {
  it('a host that starts answering TCP where no echo is sent appeared "TCP answered; ICMP not sent"', () => {
    assert.equal(changePhrase('silent', 'alive_tcp_only 5432/open icmp/unsent'), 'appeared (TCP answered; ICMP not sent)');
    assert.equal(changePhrase('silent', 'alive_tcp_only 5432/open'), 'appeared (TCP only, ICMP filtered)');
    assert.equal(changePhrase('silent', 'alive 5432/open'), 'appeared');
  });

  it('a host never pinged that stops answering TCP did not "go silent": it stopped answering TCP', () => {
    assert.equal(changePhrase('alive_tcp_only 5432/open icmp/unsent', 'silent'), 'stopped answering TCP (ICMP not sent)');
    assert.equal(changePhrase('alive_tcp_only 5432/open', 'silent'), 'went silent');
    assert.equal(changePhrase('alive_tcp_only 5432/open icmp/unsent', 'prohibited'), 'became prohibited');
  });

  it('a port change of a host without echo names it as TCP answered', () => {
    assert.equal(changePhrase('alive_tcp_only 5432/open icmp/unsent', 'alive_tcp_only 5432/closed icmp/unsent'), '5432/tcp open → closed');
    assert.doesNotMatch(changePhrase('alive 5432/open', 'alive_tcp_only 5432/closed icmp/unsent'), /ICMP filtered/);
  });
});

describe('history without ICMP', () => {
  it('a record keeps which silences no echo asked, compares them by TCP alone, and lists its counts in honest words', () => {
    const hosts = [host('198.18.0.1', 'alive_tcp_only', false, true), host('198.18.0.2', 'silent', false, false), host('198.18.0.3', 'silent', true, false)];
    const kept = recordHosts(hosts);
    assert.deepEqual(kept.silentNoEcho, ['198.18.0.2']);
    assert.deepEqual(kept.unsent, { alive_tcp_only: 1, silent: 1 });
    assert.deepEqual(compactRecord(kept), [
      ['198.18.0.1', 'alive_tcp_only 5432/open icmp/unsent'],
      ['198.18.0.2', 'silent icmp/unsent'],
      ['198.18.0.3', 'silent'],
    ]);
    // Then without ICMP, now with: .2 answers echo only (not asked then); .3 answers echo (it did not, asked, then).
    const now = [host('198.18.0.1', 'alive', true, true), host('198.18.0.2', 'alive', true, false), host('198.18.0.3', 'alive', true, false)];
    const diff = diffSweeps(compactRecord(kept), compactHosts(now), { answeredOn: new Map([['198.18.0.1', [5432]]]), portsNow: [5432], noEchoNow: noEchoTo(now) });
    assert.deepEqual(
      (diff.echoNotCompared ?? []).map((e) => [e.ip, e.unsent]),
      [
        ['198.18.0.1', 'then'],
        ['198.18.0.2', 'then'],
      ],
    );
    assert.deepEqual(diff.appeared, [['198.18.0.3', 'alive']]);
    const listed = { id: 'a', at: '2026-12-04T22:00:00Z', requestedBy: 'U1', targets: ['198.18.0.0/30'], groups: ['prod'], summary: summarize(hosts), complete: true };
    assert.match(renderHistoryText([{ ...listed, unsent: kept.unsent }]), / 0 alive · 1 TCP answered · 0 prohibited · 0 unreachable · 1 silent · 1 not probed by ICMP /);
    assert.match(renderHistoryText([listed]), / 0 alive · 1 TCP only · 0 prohibited · 0 unreachable · 2 silent /);
  });
});
