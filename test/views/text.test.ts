import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSweepText } from '../../src/core/grammar.js';
import type { DistributedReport, HostResult, SweepReport } from '../../src/core/report.js';
import { summarize } from '../../src/core/report.js';
import { renderText } from '../../src/views/text.js';
import { loadReportFixture } from '../support/report-fixtures.js';

describe('renderText (the terminal view)', () => {
  it('puts what changed under the summary, the problems first, one line per fact with the sender named', () => {
    const text = renderText(loadReportFixture('three-networks').report);
    const lines = text.split('\n');
    assert.match(lines[0] ?? '', /^198\.18\.0\.0\/24 198\.18\.1\.0\/27 198\.18\.2\.0-255 — 8 alive · 3 prohibited · 256 unreachable · 273 silent · /);
    assert.match(lines[1] ?? '', /^Since \d\d:\d\d UTC: 1 appeared · 2 went silent$/);
    assert.equal(lines[2], '  (tcp:5432 then, no TCP port now)');
    assert.match(text, /\n {2}not compared: 198\.18\.0\.20 \(answered on tcp:5432 then, not probed now\)\n/);
    const titles = lines.filter((l) => /^\S.* \(\d+\)$/.test(l));
    assert.deepEqual(titles, ['Prohibited by a firewall (3)', 'Unreachable (256)', 'Alive (8)', 'Silent (273)']);
    assert.match(text, /\nUnreachable \(256\)\n {2}198\.18\.2\.0-255 +host unreachable, said router 198\.18\.0\.254\n\n/);
    assert.match(text, /\n {2}198\.18\.0\.30 +admin prohibited, said the host itself\n/);
    assert.match(text, /\n {2}198\.18\.1\.20 +admin prohibited, said router 198\.18\.0\.254\n/);
    assert.match(text, /\n {2}198\.18\.0\.1 +0% loss · [\d.]+\/[\d.]+\/[\d.]+ ms\n/);
    assert.match(text, /\nSilent \(273\)\n {2}198\.18\.0\.2-9, \.13-29, \.32-49, \.51-253, 198\.18\.1\.2-9, \.11-19, \.21-30\n/);
  });

  it('says why a sweep stopped past its time bound and keeps hosts it did not finish apart from the silent ones', () => {
    const silent = (ip: string, unfinished = false): HostResult => ({
      ip,
      state: 'silent',
      icmp: { sent: 1, received: 0, lossPct: 100 },
      ports: [],
      ...(unfinished ? { unfinished: true as const } : {}),
    });
    const hosts = [silent('198.18.0.1'), silent('198.18.0.2'), silent('198.18.0.3', true)];
    const report: SweepReport = {
      targets: ['198.18.0.0/24'],
      options: parseSweepText('198.18.0.0/24').options,
      startedAt: '2026-11-30T14:14:00.000Z',
      durationMs: 2000,
      complete: false,
      stopped: { code: 'over_time', reason: 'the sweep ran past its time bound of 2 s' },
      planned: 254,
      icmp: { available: true },
      summary: summarize(hosts),
      names: [],
      hosts,
    };
    const text = renderText(report);
    assert.match(text, /\nPartial: 3 of 254 addresses probed before it was stopped: the sweep ran past its time bound of 2 s\.\n/);
    assert.match(text, /\nSilent \(3\)\n {2}198\.18\.0\.1-2\n {2}198\.18\.0\.3 +unfinished: the sweep stopped first\n/);
  });

  it('heads a vpc:all sweep with the networks it swept, and marks a cancelled one partial with what it probed', () => {
    const hosts: HostResult[] = [
      { ip: '127.0.0.1', state: 'alive', icmp: { sent: 1, received: 1, lossPct: 0, rtt: { min: 0.1, avg: 0.1, max: 0.1, mdev: 0 } }, ports: [] },
      { ip: '127.0.0.2', state: 'silent', icmp: { sent: 1, received: 0, lossPct: 100 }, ports: [], unfinished: true },
    ];
    const report: DistributedReport = {
      targets: ['vpc:all', '127.0.0.0/16', '10.0.0.0/16'],
      options: parseSweepText('vpc:all').options,
      startedAt: '2026-11-30T14:14:00.000Z',
      durationMs: 3000,
      complete: false,
      planned: 131_068,
      icmp: { available: true },
      summary: summarize(hosts),
      names: [],
      hosts,
      sweepId: 'abc',
      groups: ['a', 'b'],
      requestedBy: 'U1',
      chunks: [],
      failures: [],
      cancelled: true,
      notSaved: { name: 'base', reason: 'the sweep is partial: 2 of 131,068 addresses probed before it was cancelled, and only a complete sweep can be a baseline' },
    };
    const lines = renderText(report).split('\n');
    assert.match(lines[0] ?? '', /^vpc:all \(127\.0\.0\.0\/16, 10\.0\.0\.0\/16\) — 1 alive · 1 silent · /);
    assert.equal(lines[1], 'Partial: 2 of 131,068 addresses probed before it was cancelled.');
    assert.equal(lines[2], 'Not saved as baseline base: the sweep is partial: 2 of 131,068 addresses probed before it was cancelled, and only a complete sweep can be a baseline');
  });

  it('says what layer 2 said of on-link hosts: the MAC of one that drops everything, and nothing at the empty addresses', () => {
    const silent = (ip: string, extra: Partial<HostResult> = {}): HostResult => ({ ip, state: 'silent', icmp: { sent: 2, received: 0, lossPct: 100 }, ports: [{ port: 5432, state: 'filtered', attempts: 2 }], ...extra });
    const ownStack = { verdict: 'unreachable', address: '198.18.0.1', icmpType: 3, icmpCode: 1, reason: 'host unreachable' } as const;
    const hosts: HostResult[] = [
      { ip: '198.18.0.10', state: 'alive', icmp: { sent: 1, received: 1, lossPct: 0, rtt: { min: 0.2, avg: 0.2, max: 0.2, mdev: 0 } }, ports: [], link: 'answered', mac: '02:42:ac:11:00:0a' },
      silent('198.18.0.40', { link: 'answered', mac: '02:42:ac:11:00:28' }),
      silent('198.18.0.41', { link: 'answered', mac: '02:42:ac:11:00:29' }),
      silent('198.18.0.77', { link: 'no_answer' }),
      silent('198.18.0.78', { link: 'no_answer' }),
      // The sweeper's own stack said "host unreachable" once ARP failed: the same fact as the silent ones beside it.
      { ...silent('198.18.0.79', { link: 'no_answer' }), state: 'unreachable', reporter: ownStack },
      silent('198.18.1.9'),
    ];
    const report: SweepReport = {
      targets: ['198.18.0.0/24', '198.18.1.9'],
      options: { ...parseSweepText('198.18.0.0/24 tcp:5432').options },
      startedAt: '2026-11-30T14:14:00.000Z',
      durationMs: 1500,
      complete: true,
      planned: hosts.length,
      icmp: { available: true },
      summary: summarize(hosts),
      names: [],
      hosts,
    };
    const text = renderText(report);
    const lines = text.split('\n');
    assert.match(lines[0] ?? '', / — 1 alive · 6 silent · /, 'the empty address the own stack called unreachable is counted as what it is');
    assert.doesNotMatch(text, /Unreachable|said 198\.18\.0\.1/);
    assert.match(
      text,
      /\nSilent \(6\)\n {2}198\.18\.0\.40 +on the link \(MAC 02:42:ac:11:00:28\): drops ICMP and TCP\n {2}198\.18\.0\.41 +on the link \(MAC 02:42:ac:11:00:29\): drops ICMP and TCP\n {2}198\.18\.1\.9\n {2}198\.18\.0\.77-79 +nothing at these addresses\n/,
    );
    // An alive host's line is about what answered; its MAC is in --json and --csv.
    assert.match(text, /\n {2}198\.18\.0\.10 +rtt 0\.20 ms\n/);
    const one = [silent('198.18.0.77', { link: 'no_answer' })];
    assert.match(renderText({ ...report, hosts: one, summary: summarize(one) }), /\nSilent \(1\)\n {2}198\.18\.0\.77 +nothing at this address\n/);
  });

});
