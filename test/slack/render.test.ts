import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseSweepText } from '../../src/core/grammar.js';
import type { HostResult } from '../../src/core/report.js';
import { summarize } from '../../src/core/report.js';
import type { HostState } from '../../src/core/states.js';
import { HOST_STATES } from '../../src/core/states.js';
import type { DistributedReport } from '../../src/core/report.js';
import { RANGE_DASH, hostsBlocks, parseShowHosts, reportBlocks } from '../../src/views/blocks.js';
import { blockKitViolations } from '../support/fake-slack.js';

function host(ip: string, state: HostState, names?: string[]): HostResult {
  return {
    ip,
    ...(names ? { names } : {}),
    state,
    icmp: { sent: 3, received: state === 'alive' ? 3 : 0, lossPct: state === 'alive' ? 0 : 100, ...(state === 'alive' ? { rtt: { min: 0.1, avg: 0.2, max: 0.3, mdev: 0.05 } } : {}) },
    ports: [
      { port: 5432, state: state === 'alive_tcp_only' ? 'open' : 'filtered', ms: 1.5, attempts: 1 },
      { port: 3306, state: 'closed', ms: 0.9, attempts: 1 },
    ],
    ...(state === 'prohibited' || state === 'unreachable'
      ? { reporter: { verdict: state, address: '198.18.0.254', icmpType: 3, icmpCode: state === 'prohibited' ? 13 : 1, reason: 'communication administratively prohibited' } }
      : {}),
  };
}

function report(hosts: HostResult[], extra: Partial<DistributedReport> = {}): DistributedReport {
  return {
    targets: ['198.18.0.0/16'],
    options: parseSweepText('198.18.0.0/16').options,
    startedAt: new Date().toISOString(),
    durationMs: 1234,
    complete: true,
    planned: hosts.length,
    icmp: { available: true },
    summary: summarize(hosts),
    names: [],
    hosts,
    sweepId: 'abc',
    groups: ['prod'],
    requestedBy: 'U1',
    chunks: [{ index: 0, group: 'prod', agentId: 'prod-1', attempt: 1, stalled: 0, durationMs: 5 }],
    failures: [],
    cancelled: false,
    ...extra,
  };
}

const header = { user: 'U1', text: '198.18.0.0/16 tcp:5432,3306', groups: ['prod'], addresses: 65_534 };

describe('reportBlocks', () => {
  it('stays within Block Kit limits for a /16 of mixed states, long names, failures and changes', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...HOST_STATES), { minLength: 65_534, maxLength: 65_534 }), fc.string({ maxLength: 300 }), (states, name) => {
        const hosts = states.map((state, i) => host(`198.18.${i >> 8}.${i & 255}`, state, i % 97 === 0 ? [`${name}.internal`] : undefined));
        const diff = { appeared: hosts.slice(0, 500).map((h): [string, HostState] => [h.ip, h.state]), wentSilent: [], changed: [], unchanged: 0 };
        const view = reportBlocks(
          report(hosts, {
            failures: [{ index: 3, group: 'prod', reason: 'x'.repeat(5000) }],
            names: [{ name: `${name}.example`, addresses: [], error: 'ENOTFOUND' }],
            changes: { since: 'yesterday', sinceId: 'old', diff },
            baseline: { name: 'before', at: 'then', diff },
          }),
          header,
        );
        assert.deepEqual(blockKitViolations(view), []);
        assert.equal(view.folded, true);
      }),
      { numRuns: 3 },
    );
  });

  it('lists the hosts of a state in full for Show all, the common prefix written once', () => {
    const hosts = ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.9'].map((ip) => host(ip, 'silent'));
    const blocks = hostsBlocks(report(hosts), 'silent');
    assert.deepEqual(blockKitViolations({ blocks }), []);
    assert.equal((blocks[0] as { text: { text: string } }).text.text, `*Silent (4)*\n198.18.0.1${RANGE_DASH}3, .9`);
    assert.match((hostsBlocks(report(hosts), 'alive')[0] as { text: { text: string } }).text.text, /^No alive host/);
  });

  it('offers Show all for a list cut short, never for one shown whole', () => {
    const some = [host('198.18.0.1', 'alive'), host('198.18.0.2', 'silent'), host('198.18.0.4', 'silent')];
    const buttons = (view: { blocks: unknown[] }): string[] =>
      ((view.blocks.at(-1) as { elements: { text: { text: string } }[] }).elements ?? []).map((e) => e.text.text);
    assert.deepEqual(buttons(reportBlocks(report(some), header)), ['Re-run', 'Save as baseline']);
    const many = Array.from({ length: 40 }, (_, i) => host(`198.18.0.${i * 2 + 1}`, i % 2 === 0 ? 'alive' : 'silent'));
    const folded = reportBlocks(report(many), header);
    assert.equal(folded.folded, true);
    assert.deepEqual(buttons(folded), ['Re-run', 'Show all 20 alive', 'Show all 20 silent', 'Save as baseline']);
    const value = (folded.blocks.at(-1) as { elements: { value: string }[] }).elements[1]?.value ?? '';
    assert.deepEqual(parseShowHosts(value), { state: 'alive', sweepId: 'abc' });
    assert.equal(parseShowHosts('nonsense:abc'), undefined);
  });
});
