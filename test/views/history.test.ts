import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarize } from '../../src/core/report.js';
import type { ListedSweep } from '../../src/views/history.js';
import { renderHistoryMrkdwn, renderHistoryText } from '../../src/views/history.js';

const swept = (over: Partial<ListedSweep>): ListedSweep => ({
  id: 's1',
  at: '2026-11-30T14:14:00.000Z',
  requestedBy: 'U1',
  targets: ['10.0.1.0/24'],
  groups: ['prod'],
  summary: { ...summarize([]), alive: 2, silent: 310, total: 312 },
  complete: true,
  ...over,
});

describe('the history view', () => {
  it('says what a vpc:all sweep swept, in the target column', () => {
    const row = swept({ targets: ['vpc:all', '127.0.0.0/16', '10.0.0.0/16'], groups: ['a', 'b'] });
    assert.match(renderHistoryText([row]), /^2026-11-30T14:14:00\.000Z {2}s1 {2}vpc:all \(127\.0\.0\.0\/16, 10\.0\.0\.0\/16\) {2}a,b {2}/);
    assert.match(renderHistoryMrkdwn([row]), /^• 2026-11-30 14:14 `vpc:all \(127\.0\.0\.0\/16, 10\.0\.0\.0\/16\)` in a, b: /);
  });

  it('flags a partial sweep with how far it got and why', () => {
    const row = swept({ complete: false, partial: { why: 'cancelled', planned: 1022 } });
    assert.match(renderHistoryText([row]), / by U1 \(partial: 312 of 1,022 addresses probed before it was cancelled\)\n$/);
    assert.match(renderHistoryMrkdwn([row]), /, by <@U1> \(partial: 312 of 1,022 addresses probed before it was cancelled\)$/);
    assert.match(renderHistoryText([swept({ complete: false })]), / by U1 \(partial\)\n$/, 'a record of before partial was kept');
  });
});
