import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSweepText } from '../../src/core/grammar.js';
import type { HostResult, SweepReport } from '../../src/core/report.js';
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
    assert.match(text, /\nStopped: the sweep ran past its time bound of 2 s\. 3 of 254 addresses were probed\.\n/);
    assert.match(text, /\nSilent \(3\)\n {2}198\.18\.0\.1-2\n {2}198\.18\.0\.3 +unfinished: the sweep stopped first\n/);
  });
});
