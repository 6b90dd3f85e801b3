import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseSweepText } from '../../src/core/grammar.js';
import type { HostResult } from '../../src/core/report.js';
import { summarize } from '../../src/core/report.js';
import type { HostState } from '../../src/core/states.js';
import { HOST_STATES } from '../../src/core/states.js';
import type { DistributedReport } from '../../src/queue/jobs.js';
import { gridMap, reportBlocks, silentBlocks } from '../../src/slack/render/blocks.js';
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

  it('maps a /24 on a 16×16 grid, network and broadcast shown as not swept', () => {
    const hosts = Array.from({ length: 254 }, (_, i) => host(`198.18.0.${i + 1}`, i === 9 ? 'alive' : i === 19 ? 'alive_tcp_only' : 'silent'));
    const grid = gridMap(report(hosts)) ?? '';
    const rows = grid.split('\n');
    assert.equal(rows.length, 16);
    assert.equal([...(rows[0] ?? '')].filter((c) => c !== '\ufe0f').length, 16);
    assert.ok(rows[0]?.startsWith('▫️'));
    assert.equal((grid.match(/🟩/g) ?? []).length, 1);
    assert.equal((grid.match(/🟦/g) ?? []).length, 1);
    assert.equal((grid.match(/⬛/g) ?? []).length, 252);
    assert.equal(gridMap(report([host('198.18.0.1', 'alive'), host('198.18.1.1', 'alive')])), undefined, 'two /24s: no map');
  });

  it('lists silent hosts as ranges for Show silent hosts', () => {
    const hosts = ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.9'].map((ip) => host(ip, 'silent'));
    const blocks = silentBlocks(report(hosts));
    assert.deepEqual(blockKitViolations({ blocks }), []);
    assert.equal((blocks[0] as { text: { text: string } }).text.text, '*Silent (4)*\n198.18.0.1-3, 198.18.0.9');
  });
});
