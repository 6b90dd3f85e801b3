/**
 * Reports of real sweeps, for looking at the views and laying them out: each fixture in test/fixtures/reports/
 * holds two `zensweep sweep --json` outputs of the same targets, run one after the other in the network lab
 * (test/support/lab.ts) with the lab changed in between (hosts added and removed, other options). They are put
 * together here as the report worker does: the later one as the report, what changed since the earlier one.
 *
 *   mixed-24          198.18.0.0/24 tcp:5432, then tcp:22,5432 (.13 and .14 left, .50 came)
 *   three-networks    198.18.0.0/24 198.18.1.0/27 198.18.2.0-255 tcp:5432 count:3, then count:3 alone
 */
import { readFileSync } from 'node:fs';
import { compactHosts, diffSweeps } from '../../src/core/diff.js';
import type { SweepReport } from '../../src/core/report.js';
import { comparisonWith, compactRecord, recordHosts } from '../../src/queue/history.js';
import type { DistributedReport } from '../../src/core/report.js';

export const REPORT_FIXTURES = ['mixed-24', 'three-networks'] as const;
export type ReportFixture = (typeof REPORT_FIXTURES)[number];

function finishedAt(report: SweepReport): string {
  return new Date(Date.parse(report.startedAt) + report.durationMs).toISOString();
}

/** The fixture as the report worker would have built it, and the moment it finished (for "12 min ago"). */
export function loadReportFixture(name: ReportFixture): { report: DistributedReport; now: Date } {
  const path = new URL(`../fixtures/reports/${name}.json`, import.meta.url);
  const { before, after } = JSON.parse(readFileSync(path, 'utf8')) as { before: SweepReport; after: SweepReport };
  const previous = { at: finishedAt(before), ...recordHosts(before.hosts), probed: { ports: before.options.ports, count: before.options.count } };
  const { context, probedBefore } = comparisonWith(previous, { ports: after.options.ports, count: after.options.count });
  const report: DistributedReport = {
    ...after,
    sweepId: `${name}-2`,
    groups: ['lab'],
    requestedBy: 'U0ONCALL',
    chunks: [{ index: 0, group: 'lab', agentId: 'lab-agent-1', attempt: 1, stalled: 0, durationMs: after.durationMs }],
    failures: [],
    cancelled: false,
    changes: {
      since: previous.at,
      sinceId: `${name}-1`,
      diff: diffSweeps(compactRecord(previous), compactHosts(after.hosts), context),
      ...(probedBefore ? { probedBefore } : {}),
    },
  };
  return { report, now: new Date(finishedAt(after)) };
}
