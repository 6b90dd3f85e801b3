/**
 * Reports of sweeps from several vantages (`from:all`), made by hand as the report worker puts them together: each
 * vantage's hosts, and the combined view (core/vantage.ts), for the views' tests.
 */
import type { DistributedReport, HostResult, VantageView } from '../../src/core/report.js';
import { summarize } from '../../src/core/report.js';
import type { HostState } from '../../src/core/states.js';
import { combineVantages } from '../../src/core/vantage.js';

/** A host as the engine reports it: `prohibited` and `unreachable` said by `router`. */
export function host(ip: string, state: HostState, router = '198.18.0.254'): HostResult {
  const answered = state === 'alive';
  const result: HostResult = {
    ip,
    state,
    icmp: answered ? { sent: 1, received: 1, lossPct: 0, rtt: { min: 0.2, avg: 0.2, max: 0.2, mdev: 0 } } : { sent: 2, received: 0, lossPct: 100 },
    ports: [],
  };
  if (state === 'prohibited') {
    result.reporter = { verdict: 'prohibited', address: router, icmpType: 3, icmpCode: 13, reason: 'communication administratively prohibited' };
  }
  return result;
}

export function view(name: string, hosts: HostResult[], missing?: string): VantageView {
  return {
    name,
    group: 'lab',
    agent: name,
    complete: missing === undefined,
    ...(missing ? { missing } : {}),
    planned: hosts.length,
    summary: summarize(hosts),
    names: [],
    hosts,
  };
}

/** A `from:all` report of these views, its keys in the report worker's order (the vantages last, before `hosts`). */
export function vantageReport(targets: string[], views: VantageView[]): DistributedReport {
  const { hosts, names } = combineVantages(views);
  const failures = views.some((v) => v.missing) ? [{ index: 1, group: 'lab', reason: 'agent lab-b of lab left before it ran this chunk' }] : [];
  const report = {
    targets,
    options: { ports: [], count: 1, timeoutMs: 500, retries: 1, rate: 10_000, intervalMs: 1000, from: 'all' as const },
    startedAt: '2026-12-04T20:00:00.000Z',
    durationMs: 1234,
    complete: failures.length === 0,
    planned: hosts.length,
    icmp: { available: true },
    summary: summarize(hosts),
    names,
    sweepId: 'mv1-abcd',
    groups: ['lab'],
    requestedBy: 'U0ONCALL',
    chunks: views.map((v, index) => ({ index, group: 'lab', agentId: v.name, attempt: 1, stalled: 0, durationMs: 1200 })),
    cancelled: false,
    failures,
    vantages: views,
    hosts,
  };
  return report;
}
