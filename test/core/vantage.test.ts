import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agreedObservation, combineVantages, compareVantages, newDissent, sameFact } from '../../src/core/vantage.js';
import { host, vantageReport, view } from '../support/vantage-fixtures.js';

describe('the view from several vantages (core/vantage.ts)', () => {
  const a = view('lab-a', [host('10.0.1.1', 'alive'), host('10.0.1.2', 'silent'), host('10.0.1.3', 'alive')]);
  const b = view('lab-b', [host('10.0.1.1', 'alive'), host('10.0.1.2', 'prohibited'), host('10.0.1.3', 'silent')]);

  it('combines the views: each host once, as the vantage that reached it best saw it', () => {
    const { hosts } = combineVantages([a, b]);
    assert.deepEqual(hosts.map((h) => [h.ip, h.state]), [
      ['10.0.1.1', 'alive'],
      ['10.0.1.2', 'prohibited'],
      ['10.0.1.3', 'alive'],
    ]);
  });

  it('finds the hosts whose facts differ, and leaves a host a vantage did not probe to those that did', () => {
    const missing = view('lab-c', [host('10.0.1.1', 'silent')], 'no view of .2 and .3');
    const report = vantageReport(['10.0.1.1-3'], [a, b, missing]);
    const { disagreements, agreed } = compareVantages(report);
    assert.deepEqual(disagreements.map((d) => [d.ip, d.views.map((v) => `${v.vantage}:${v.host.state}`)]), [
      ['10.0.1.1', ['lab-a:alive', 'lab-b:alive', 'lab-c:silent']],
      ['10.0.1.2', ['lab-a:silent', 'lab-b:prohibited']],
      ['10.0.1.3', ['lab-a:alive', 'lab-b:silent']],
    ]);
    assert.deepEqual(agreed, []);
    const two = compareVantages(vantageReport(['10.0.1.1-3'], [a, view('lab-c', [host('10.0.1.1', 'alive')])]));
    assert.deepEqual(two.agreed.map((h) => h.ip), ['10.0.1.1', '10.0.1.2', '10.0.1.3'], 'probed by one vantage only: nothing to disagree with');
  });

  it('compares ports too: the same state with a port open from one and filtered from the other differs', () => {
    const open = { ...host('10.0.1.1', 'alive'), ports: [{ port: 5432, state: 'open' as const, attempts: 1 }] };
    const filtered = { ...host('10.0.1.1', 'alive'), ports: [{ port: 5432, state: 'filtered' as const, attempts: 2 }] };
    assert.equal(sameFact(open, filtered), false);
    assert.equal(sameFact(open, { ...open, icmp: { sent: 1, received: 1, lossPct: 0, rtt: { min: 9, avg: 9, max: 9, mdev: 0 } } }), true);
  });

  it('observes for confirm:agents what all agree on, the accepted state where they do not, and who saw otherwise', () => {
    const report = vantageReport(['10.0.1.1-3'], [a, b]);
    const accepted: Record<string, string> = { '10.0.1.1': 'alive', '10.0.1.3': 'alive' };
    const { observed, dissent } = agreedObservation(report, (ip) => accepted[ip] ?? 'silent');
    assert.deepEqual([...observed], [
      ['10.0.1.1', 'alive'],
      ['10.0.1.2', 'silent'],
      ['10.0.1.3', 'alive'],
    ]);
    assert.deepEqual(dissent, [
      { vantage: 'lab-b', ip: '10.0.1.2', seen: 'prohibited', accepted: 'silent' },
      { vantage: 'lab-b', ip: '10.0.1.3', seen: 'silent', accepted: 'alive' },
    ]);
  });

  it('says each dissent once while it lasts, and again if it comes back after it ended', () => {
    const one = { vantage: 'lab-b', ip: '10.0.1.3', seen: 'silent', accepted: 'alive' };
    const first = newDissent(undefined, [one]);
    assert.deepEqual(first.toSay, [one]);
    const again = newDissent(first.record, [one]);
    assert.deepEqual(again.toSay, []);
    const ended = newDissent(again.record, []);
    assert.deepEqual(ended.record, {});
    assert.deepEqual(newDissent(ended.record, [one]).toSay, [one]);
    // Seen otherwise again, in another way: news.
    assert.deepEqual(newDissent(first.record, [{ ...one, seen: 'prohibited' }]).toSay.length, 1);
  });
});
