/**
 * A sweep from several vantages (`from:all`) in every view: where the vantages disagree comes first (one line per
 * way of disagreeing, what each saw), then what they all agree on; JSON and CSV carry one result per vantage per
 * host; a vantage whose agent left is said to be missing its view, not to see hosts silent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostResult } from '../../src/core/report.js';
import { filesComment, reportBlocks } from '../../src/views/blocks.js';
import { sweepMap } from '../../src/views/map.js';
import { renderCsv } from '../../src/views/csv.js';
import { jsonChunks } from '../../src/views/json.js';
import { renderText } from '../../src/views/text.js';
import { phoneRowsPerLine } from '../support/phone-layout.js';
import { host, vantageReport, view } from '../support/vantage-fixtures.js';

const lan = ['198.18.0.10', '198.18.0.11', '198.18.0.12'];
const rack = Array.from({ length: 10 }, (_, i) => `198.18.0.${20 + i}`);

function seen(states: Record<string, HostResult['state']>, everyOther: HostResult['state'] = 'alive'): HostResult[] {
  return [...lan, ...rack, '198.18.1.10', '198.18.1.30'].map((ip) => host(ip, states[ip] ?? everyOther));
}

/** lab-b sees the rack silent (its own path), and the two hosts behind the router prohibited (its firewall). */
const report = vantageReport(
  ['198.18.0.0/24', '198.18.1.0/27'],
  [
    view('lab-a', seen({ '198.18.1.30': 'silent' })),
    view('lab-b', seen({ ...Object.fromEntries(rack.map((ip) => [ip, 'silent'])), '198.18.1.10': 'prohibited', '198.18.1.30': 'prohibited' })),
  ],
);
const header = { user: 'U0ONCALL', text: '198.18.0.0/24 198.18.1.0/27 from:all', groups: ['lab'], addresses: 15 };

describe('a from:all report in the views', () => {
  it('terminal: the disagreements first, folded by how the vantages disagree, then what all agree on', () => {
    const lines = renderText(report).split('\n');
    assert.equal(lines[0], '198.18.0.0/24 198.18.1.0/27 from:all — 12 seen differently · 3 alive · 1.23 s');
    assert.deepEqual(lines.slice(1, 7), [
      '',
      'lab-a and lab-b disagree on 12 hosts',
      '  198.18.0.20-29   alive from lab-a, silent from lab-b',
      '  198.18.1.10      alive from lab-a, prohibited (admin prohibited, said router 198.18.0.254) from lab-b',
      '  198.18.1.30      silent from lab-a, prohibited (admin prohibited, said router 198.18.0.254) from lab-b',
      'They agree on the other 3: 3 alive',
    ]);
    assert.deepEqual(lines.slice(7, 10), ['', 'Alive (3)', '  198.18.0.10   rtt 0.20 ms']);
    // Every vantage's packets count: two agents, twice the probes.
    assert.ok(lines.includes('  15 addresses from 2 agents in 1.23 s · echoes 43 sent, 17 received, 60.5% loss'), lines.join('\n'));
  });

  it('Slack: the summary and the disagreement on the first lines, every line within two phone rows', () => {
    const { blocks, text } = reportBlocks(report, header);
    const sections = blocks.map((b) => (b.type === 'section' ? (b.text?.text ?? '') : ''));
    assert.equal(sections[0], '*12 seen differently · 3 alive* · 1.23 s');
    assert.equal(
      sections[1],
      [
        '*lab-a and lab-b disagree on 12 hosts*',
        '198.18.0.20\u2013\u206029 alive from lab-a, silent from lab-b',
        '`198.18.1.10` alive from lab-a, prohibited from lab-b',
        '`198.18.1.30` silent from lab-a, prohibited from lab-b',
      ].join('\n'),
    );
    assert.match(sections[2] ?? '', /^\*Alive \(3\)\*\n`198\.18\.0\.10` rtt 0\.20 ms/);
    assert.equal(text, '198.18.0.0/24 198.18.1.0/27 from:all: 12 seen differently · 3 alive · 1.23 s');
    for (const section of sections) for (const rows of phoneRowsPerLine(section)) assert.ok(rows <= 2, section);
    // The files' comment: the map is the combined view, the table has every vantage's.
    const comment = filesComment(report, sweepMap(report));
    assert.equal(comment, "🟩 14 alive · 🟥 1 prohibited · ▫️ not swept · map: best view; CSV: each agent's");
    assert.ok(phoneRowsPerLine(comment).every((rows) => rows <= 2), comment);
  });

  it('names three or more vantages by their number, and who saw the same together', () => {
    const three = vantageReport(['198.18.0.10'], [view('prod-a', [host('198.18.0.10', 'alive')]), view('prod-b', [host('198.18.0.10', 'silent')]), view('prod-c', [host('198.18.0.10', 'alive')])]);
    const [first, second] = reportBlocks(three, header).blocks.map((b) => (b.type === 'section' ? (b.text?.text ?? '') : ''));
    assert.equal(first, '*1 seen differently* · 1.23 s');
    assert.equal(second, '*3 agents disagree on 1 host*\n`198.18.0.10` alive from prod-a and prod-c, silent from prod-b\n_from prod-a, prod-b, prod-c_');
  });

  it('says a vantage whose agent left is missing its view, and counts none of its hosts as silent', () => {
    const left = vantageReport(['198.18.0.10-12'], [view('lab-a', lan.map((ip) => host(ip, 'alive'))), view('lab-b', [], 'no view: agent lab-b of lab left before it ran this chunk')]);
    const text = renderText(left);
    assert.match(text, /^198\.18\.0\.10-12 from:all — 3 alive · 1\.23 s\n\nlab-a and lab-b agree on all 3 hosts\n {2}lab-b: no view: agent lab-b of lab left before it ran this chunk\n/);
    assert.doesNotMatch(text, /Silent/);
    const [, vantages, notes] = reportBlocks(left, header).blocks;
    assert.equal(vantages?.type === 'section' && vantages.text?.text, '*lab-a and lab-b agree on all 3 hosts*\n_lab-b: no view: agent lab-b of lab left before it ran this chunk_');
    // Said once, in the vantages' words, not again chunk by chunk.
    assert.doesNotMatch(JSON.stringify(notes), /Chunk 1 in lab failed/);
  });

  it('CSV: one row per vantage per host, the vantage after the address', () => {
    const rows = renderCsv(report).trim().split('\n');
    assert.equal(rows[0], 'ip,from,names,state,echo_sent,echo_received,loss_pct,rtt_min_ms,rtt_avg_ms,rtt_max_ms,rtt_mdev_ms,ports,reported_by,reason,link,mac,icmp,ptr');
    assert.equal(rows.length, 1 + 2 * 15);
    assert.deepEqual(rows.filter((r) => r.startsWith('198.18.1.10,')), [
      '198.18.1.10,lab-a,,alive,1,1,0,0.200,0.200,0.200,0.000,,,,,,sent,',
      '198.18.1.10,lab-b,,prohibited,2,0,100,,,,,,198.18.0.254,communication administratively prohibited,,,sent,',
    ]);
  });

  it('JSON: the bytes JSON.stringify writes, each vantage with its hosts, then the combined hosts', () => {
    const json = Buffer.concat([...jsonChunks(report)]).toString('latin1');
    assert.equal(json, `${JSON.stringify(report)}\n`);
    const many = { ...report, vantages: report.vantages?.map((v) => ({ ...v, hosts: Array.from({ length: 400 }, () => v.hosts).flat() })) };
    assert.ok([...jsonChunks(many)].length > 1, 'large enough to take several pieces');
    assert.deepEqual(JSON.parse(Buffer.concat([...jsonChunks(many)]).toString('latin1')), JSON.parse(JSON.stringify(many)));
  });
});
