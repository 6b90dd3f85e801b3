import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSweepText } from '../../src/core/grammar.js';
import type { DistributedReport, HostResult, IcmpStatus } from '../../src/core/report.js';
import { summarize } from '../../src/core/report.js';
import { ICMP_OFF_SETTING_WARNING } from '../../src/core/report.js';
import type { IcmpOffReason } from '../../src/core/report.js';
import { renderAgentsMrkdwn, renderAgentsText } from '../../src/views/agents.js';
import { icmpFooter } from '../../src/views/words.js';
import { reportBlocks } from '../../src/views/blocks.js';
import { jsonChunks } from '../../src/views/json.js';
import { renderText } from '../../src/views/text.js';

/** No ICMP socket could be opened (what the engine says then). */
const OFF: IcmpStatus = {
  available: false,
  mode: 'off',
  reason: 'unavailable',
  warning:
    'ICMP not sent: no raw socket (EPERM: needs root or CAP_NET_RAW), and no ping socket (EACCES: net.ipv4.ping_group_range does not cover group 65534); running the TCP probes only (set net.ipv4.ping_group_range, or add NET_RAW)',
};

const HOSTS: HostResult[] = [
  { ip: '198.18.0.20', state: 'alive_tcp_only', icmp: { sent: 0, received: 0, lossPct: 0 }, ports: [{ port: 5432, state: 'open', ms: 0.4, attempts: 1 }] },
  { ip: '198.18.0.40', state: 'silent', icmp: { sent: 0, received: 0, lossPct: 0 }, ports: [{ port: 5432, state: 'filtered', attempts: 2 }] },
];

function report(icmp: IcmpStatus, hosts: HostResult[] = HOSTS): DistributedReport {
  return {
    targets: ['198.18.0.20', '198.18.0.40'],
    options: parseSweepText('198.18.0.20 tcp:5432').options,
    startedAt: '2026-12-04T22:00:00.000Z',
    durationMs: 1000,
    complete: true,
    planned: hosts.length,
    icmp,
    summary: summarize(hosts),
    names: [],
    hosts,
    sweepId: 'abc',
    groups: ['prod'],
    requestedBy: 'U1',
    chunks: [{ index: 0, group: 'prod', agentId: 'prod-1', attempt: 1, stalled: 0, durationMs: 900 }],
    failures: [],
    cancelled: false,
  };
}

/** The operator set ZENSWEEP_ICMP=off (what the engine says then). */
const OFF_BY_SETTING: IcmpStatus = { available: false, mode: 'off', reason: 'setting', warning: ICMP_OFF_SETTING_WARNING };

const header = { user: 'U1', text: '198.18.0.20 198.18.0.40 tcp:5432', groups: ['prod'], addresses: 2 };
const slackText = (r: DistributedReport): string => JSON.stringify(reportBlocks(r, header).blocks);

describe('how a report says how ICMP was sent', () => {
  it('without ICMP: "TCP answered; ICMP not sent" and "not probed by ICMP", why and the fix, in text and in Slack', () => {
    const off = report(OFF);
    const text = renderText(off);
    assert.match(text, /^198\.18\.0\.20 198\.18\.0\.40 — 1 TCP answered · 1 not probed by ICMP · 1\.00 s\n/);
    assert.match(text, /\nWarning: ICMP not sent: .*\(EPERM: .*\(EACCES: .*\(set net\.ipv4\.ping_group_range, or add NET_RAW\)\n/);
    assert.match(text, /\nTCP answered; ICMP not sent \(1\)\n {2}198\.18\.0\.20 +5432 open/);
    assert.match(text, /\nNot probed by ICMP \(1\)\n/);
    assert.match(text, /\n {2}ICMP: off, TCP probes only\n/);
    assert.doesNotMatch(text, /ICMP filtered|silent|Silent|EUNKNOWN/);
    const slack = slackText(off);
    assert.match(slack, /1 TCP answered · 1 not probed by ICMP/);
    assert.match(slack, /TCP answered; ICMP not sent \(1\)/);
    assert.match(slack, /ICMP: off, TCP probes only/);
    assert.match(slack, /set net\.ipv4\.ping_group_range, or add NET_RAW/);
    assert.doesNotMatch(slack, /ICMP filtered|silent|Silent/);
  });

  it('off by ZENSWEEP_ICMP=off: the same host words, the setting named, and no privilege fix, in text, Slack and JSON', () => {
    const off = report(OFF_BY_SETTING);
    const text = renderText(off);
    assert.match(text, /^198\.18\.0\.20 198\.18\.0\.40 — 1 TCP answered · 1 not probed by ICMP · 1\.00 s\n/);
    assert.match(text, /\nWarning: ICMP not sent: ZENSWEEP_ICMP=off; running the TCP probes only\n/);
    assert.match(text, /\nTCP answered; ICMP not sent \(1\)\n/);
    assert.match(text, /\n {2}ICMP: off \(ZENSWEEP_ICMP=off\), TCP probes only\n/);
    assert.doesNotMatch(text, /NET_RAW|ping_group_range|EPERM|EACCES|ICMP filtered|Silent/);
    const slack = slackText(off);
    assert.match(slack, /ICMP: off \(ZENSWEEP_ICMP=off\), TCP probes only/);
    assert.match(slack, /ZENSWEEP_ICMP=off; running the TCP probes only/);
    assert.doesNotMatch(slack, /NET_RAW|ping_group_range|ICMP filtered/);
    const json = JSON.parse(Buffer.concat([...jsonChunks(off)]).toString()) as DistributedReport;
    assert.deepEqual(json.icmp, OFF_BY_SETTING);
  });

  it('off for want of a socket: the footer as it always was, the fix in the warning', () => {
    const text = renderText(report(OFF));
    assert.match(text, /\n {2}ICMP: off, TCP probes only\n/);
    assert.doesNotMatch(text, /ZENSWEEP_ICMP=off/);
    assert.equal(icmpFooter(OFF), 'ICMP: off, TCP probes only');
    assert.equal(icmpFooter(OFF_BY_SETTING), 'ICMP: off (ZENSWEEP_ICMP=off), TCP probes only');
  });

  it('with ICMP: the usual words, and the footer names the socket (ping or raw); JSON carries icmp.mode', () => {
    for (const mode of ['ping', 'raw'] as const) {
      const sent = report({ available: true, mode });
      const words = mode === 'ping' ? 'ICMP: ping socket \\(no privilege\\)' : 'ICMP: raw socket';
      const text = renderText(sent);
      assert.match(text, /1 TCP only · 1 silent/);
      assert.match(text, /\nTCP only, ICMP filtered \(1\)\n/);
      assert.match(text, new RegExp(`\\n {2}${words}\\n`));
      assert.match(slackText(sent), new RegExp(words));
      assert.deepEqual((JSON.parse(Buffer.concat([...jsonChunks(sent)]).toString()) as DistributedReport).icmp, { available: true, mode });
    }
  });

  it('a report stored before the mode was recorded reads as raw with ICMP, off without', () => {
    assert.match(renderText(report({ available: true })), /\n {2}ICMP: raw socket\n/);
    assert.match(renderText(report({ available: false })), /\nNot probed by ICMP \(1\)\n/);
  });

  it('a report stored before the reason was recorded keeps the words it had: the footer, and its own warning', () => {
    const text = renderText(report({ available: false, mode: 'off', warning: OFF.warning }));
    assert.match(text, /\n {2}ICMP: off, TCP probes only\n/);
    assert.match(text, /\(set net\.ipv4\.ping_group_range, or add NET_RAW\)\n/);
    assert.equal(icmpFooter({ available: false, mode: 'off' }), 'ICMP: off, TCP probes only');
  });

  const agent = (id: string, icmp: boolean, icmpMode?: 'raw' | 'ping' | 'off', icmpReason?: IcmpOffReason) => ({
    group: 'prod',
    id,
    cidrs: ['10.0.0.0/16'],
    version: '0.1.0',
    icmp,
    ...(icmpMode ? { icmpMode } : {}),
    ...(icmpReason ? { icmpReason } : {}),
    load: { active: 0, concurrency: 2 },
    startedAt: '2026-12-04T22:00:00.000Z',
    lastSeen: '2026-12-04T22:00:00.000Z',
  });
  const now = Date.parse('2026-12-04T22:00:01.000Z');

  it('lists an agent with how it sends ICMP', () => {
    const text = renderAgentsText([agent('a', true, 'raw'), agent('b', true, 'ping'), agent('c', false, 'off', 'unavailable'), agent('d', true)], now);
    assert.match(text, /a .*ICMP\+TCP/);
    assert.match(text, /b .*ICMP \(ping socket\)\+TCP/);
    assert.match(text, /c .*TCP only \(ICMP off: no NET_RAW, no ping_group_range\)/);
    assert.match(text, /d .*ICMP\+TCP/);
  });

  it('lists an agent off by ZENSWEEP_ICMP=off by its setting, with no privilege it would lack, in text and Slack', () => {
    const listed = [agent('e', false, 'off', 'setting'), agent('f', false, 'off', 'unavailable')];
    const text = renderAgentsText(listed, now);
    assert.match(text, /\n {2}e .*TCP only \(ICMP off: ZENSWEEP_ICMP=off\)   /);
    assert.doesNotMatch(text.split('\n').find((line) => line.startsWith('  e ')) ?? '', /NET_RAW|ping_group_range/);
    assert.match(text, /\n {2}f .*TCP only \(ICMP off: no NET_RAW, no ping_group_range\)/);
    const mrkdwn = renderAgentsMrkdwn(listed, now);
    assert.match(mrkdwn, /`e` [^\n]*TCP only \(ICMP off: ZENSWEEP_ICMP=off\)/);
    assert.doesNotMatch(mrkdwn.split('\n').find((line) => line.includes('`e`')) ?? '', /NET_RAW|ping_group_range/);
    assert.match(mrkdwn, /`f` [^\n]*TCP only \(ICMP off: no NET_RAW, no ping_group_range\)/);
  });

  it('lists an agent older than the reason, off, in the words it had (the want of a socket)', () => {
    assert.match(renderAgentsText([agent('g', false, 'off'), agent('h', false)], now), /g .*TCP only \(ICMP off: no NET_RAW, no ping_group_range\)[^\n]*\n[^\n]*\n {2}h .*TCP only \(ICMP off: no NET_RAW, no ping_group_range\)/);
  });
});
