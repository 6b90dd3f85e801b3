import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { HostResult, SweepReport } from '../../src/core/report.js';
import { summarize } from '../../src/core/report.js';
import { jsonChunks } from '../../src/views/json.js';
import { loadReportFixture } from '../support/report-fixtures.js';
import { host, vantageReport, view } from '../support/vantage-fixtures.js';

function jsonOf(report: SweepReport): string {
  return Buffer.concat([...jsonChunks(report)]).toString('latin1');
}

function reportOf(hosts: HostResult[], extra: Partial<SweepReport> = {}): SweepReport {
  return {
    targets: ['127.0.0.0/24'],
    options: { ports: [22], count: 1, timeoutMs: 1000, retries: 0, rate: 0, intervalMs: 1000 },
    startedAt: new Date(0).toISOString(),
    durationMs: 12.5,
    complete: true,
    planned: hosts.length,
    icmp: { available: true },
    summary: summarize(hosts),
    names: [],
    ...extra,
    // Last, as the engine puts them and as jsonChunks writes them.
    hosts,
  };
}

/** A host as the engine makes it (scheduler.ts finishHost: the keys in that order). */
function aliveHost(ip: string, rtt: number[]): HostResult {
  const [min = 0, avg = 0, max = 0, mdev = 0] = rtt;
  return { ip, state: 'alive', icmp: { sent: 3, received: 2, lossPct: 33.3, rtt: { min, avg, max, mdev } }, ports: [] };
}

describe('jsonChunks (the --json view)', () => {
  it('writes the bytes JSON.stringify writes, for hosts of every kind as the engine makes them', () => {
    const hosts: HostResult[] = [
      aliveHost('127.0.0.1', [0.041, 0.05, 2.5, 0]),
      { ip: '127.0.0.2', state: 'silent', icmp: { sent: 1, received: 0, lossPct: 100 }, ports: [{ port: 22, state: 'filtered', attempts: 2, unanswered: true }], unfinished: true },
      {
        ip: '10.0.0.9',
        state: 'unreachable',
        icmp: { sent: 1, received: 0, lossPct: 100 },
        ports: [{ port: 22, state: 'open', ms: 0.1234567, attempts: 1 }],
        names: ['db.internal'],
        reporter: { verdict: 'unreachable', address: '10.0.0.254', icmpType: 3, icmpCode: 1, reason: 'host "unreachable"\n' },
      },
      { ip: '::1', state: 'alive', icmp: { sent: 1, received: 1, lossPct: 0, rtt: { min: 1e-7, avg: 1234567.125, max: 1e21, mdev: Number.NaN } }, ports: [] },
      // On-link hosts: what layer 2 said comes last (the engine decides it once the sweep's last read is in).
      { ip: '198.18.0.40', state: 'silent', icmp: { sent: 2, received: 0, lossPct: 100 }, ports: [], link: 'answered', mac: '02:42:ac:11:00:28' },
      { ip: '198.18.0.77', state: 'unreachable', icmp: { sent: 2, received: 0, lossPct: 100 }, ports: [], reporter: { verdict: 'unreachable', address: '198.18.0.1', icmpType: 3, icmpCode: 1, reason: 'host unreachable' }, link: 'no_answer' },
      { ip: '198.18.0.10', state: 'alive', icmp: { sent: 1, received: 1, lossPct: 0, rtt: { min: 0.2, avg: 0.2, max: 0.2, mdev: 0 } }, ports: [], link: 'answered' },
    ];
    const report = reportOf(hosts, { stopped: { code: 'over_time', reason: 'too long' } });
    assert.equal(jsonOf(report), `${JSON.stringify(report)}\n`);
  });

  it('writes a whole report fixture, over several chunks, as JSON.stringify does', () => {
    const { report } = loadReportFixture('three-networks');
    const many = { ...report, hosts: Array.from({ length: 8 }, () => report.hosts).flat() };
    assert.ok([...jsonChunks(many)].length > 1, 'the fixture should take more than one chunk');
    assert.deepEqual(JSON.parse(jsonOf(many)), JSON.parse(JSON.stringify(many)));
  });

  it('writes a report from several vantages (from:all) as JSON.stringify does: each vantage with its hosts', () => {
    const report = vantageReport(['127.0.0.1-2'], [
      view('lab-a', [host('127.0.0.1', 'alive'), host('127.0.0.2', 'prohibited')]),
      view('lab-b', [host('127.0.0.1', 'silent')], 'no view of 127.0.0.2: agent lab-b left'),
    ]);
    assert.equal(jsonOf(report), `${JSON.stringify(report)}\n`);
  });

    it('writes ASCII only: other characters become \\u escapes, the same strings once parsed', () => {
    const host: HostResult = { ...aliveHost('127.0.0.1', [1, 1, 1, 0]), names: ['café.example', '日本.example', '😀'] };
    const report = reportOf([host], { targets: ['café.example'], names: [{ name: 'café.example', addresses: ['127.0.0.1'] }] });
    const json = jsonOf(report);
    assert.match(json, /^[\x00-\x7f]*$/);
    assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify(report)));
  });

  it('prints every millisecond value to the microsecond as JavaScript does, and any other number too', () => {
    const thousandths = fc.integer({ min: 0, max: 2 ** 50 }).map((k) => k / 1000);
    const anyNumber = fc.oneof(thousandths, fc.double(), fc.integer(), fc.constantFrom(0, -0, 0.1, 1e-7, 999999999999.999, 1e12, 1e21));
    fc.assert(
      fc.property(fc.array(anyNumber, { minLength: 4, maxLength: 4 }), (rtt) => {
        const report = reportOf([aliveHost('127.0.0.1', rtt)]);
        assert.equal(jsonOf(report), `${JSON.stringify(report)}\n`);
      }),
      { numRuns: 2000 },
    );
  });
});
