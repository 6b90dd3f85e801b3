import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSweepText } from '../../src/core/grammar.js';
import { diffSweeps } from '../../src/core/diff.js';
import type { DistributedReport } from '../../src/core/report.js';
import { summarize } from '../../src/core/report.js';
import { finishedBlocks, reportBlocks } from '../../src/views/blocks.js';

function report(over: Partial<DistributedReport>): DistributedReport {
  return {
    targets: ['198.18.0.0/24'],
    options: parseSweepText('198.18.0.0/24 tcp:22,80,443,3306,5432,8080').options,
    startedAt: '2026-11-30T14:14:00.000Z',
    durationMs: 1000,
    complete: true,
    planned: 0,
    icmp: { available: true },
    summary: summarize([]),
    names: [],
    hosts: [],
    sweepId: 'abc',
    groups: ['prod'],
    requestedBy: 'U1',
    chunks: [],
    failures: [],
    cancelled: false,
    ...over,
  };
}

const text = (blocks: readonly unknown[]): string => JSON.stringify(blocks);
const header = { user: 'U1', text: '198.18.0.0/24 tcp:5432', groups: ['prod'], addresses: 254 };

describe('what changed in the Slack view', () => {
  it('shows port changes, counts right, and keeps a host whose many ports changed on one line', () => {
    const many = ['22', '80', '443', '3306', '5432', '8080'];
    const diff = diffSweeps(
      [['198.18.0.4', 'alive 5432/open'], ['198.18.0.9', `alive ${many.map((p) => `${p}/closed`).join(' ')}`]],
      [['198.18.0.4', 'alive 5432/closed'], ['198.18.0.9', `alive ${many.map((p) => `${p}/open`).join(' ')}`]],
    );
    const { blocks } = reportBlocks(report({ changes: { since: '2026-11-30T14:02:00.000Z', sinceId: 'old', diff } }), header);
    const shown = text(blocks);
    assert.match(shown, /\*Since 14:02 UTC \(12 min ago\):\* 2 changed\\nchanged 198\.18\.0\.4 \(5432\/tcp open → closed\); 198\.18\.0\.9 \(6 ports changed\)/);
    const none = reportBlocks(report({ changes: { since: '2026-11-30T14:13:40.000Z', sinceId: 'old', diff: diffSweeps([['198.18.0.4', 'alive']], [['198.18.0.4', 'alive']]) } }), header);
    assert.match(text(none.blocks), /\*Since 14:13 UTC:\* no change in 1 host"/);
  });

  it('names the networks vpc:all swept in the finished parent message and the notification', () => {
    const all = report({ targets: ['vpc:all', '127.0.0.0/16', '10.0.0.0/16'], groups: ['a', 'b'] });
    const parent = { ...header, text: 'vpc:all', groups: ['a', 'b'] };
    assert.match(text(finishedBlocks(parent, all)), /swept `vpc:all` \(127\.0\.0\.0\/16, 10\.0\.0\.0\/16\) in \*a, b\*/);
    assert.match(reportBlocks(all, parent).text, /^vpc:all \(127\.0\.0\.0\/16, 10\.0\.0\.0\/16\): no hosts · /);
  });
});
