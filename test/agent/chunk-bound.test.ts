import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OVER_TIME, sweepWithinBound } from '../../src/agent/chunk-bound.js';
import { DEFAULT_OPTIONS } from '../../src/core/request.js';
import type { SweepReport } from '../../src/core/report.js';
import { emptyCounts } from '../../src/core/report.js';
import { quietFor } from '../support/wait.js';

function reportOf(complete: boolean): SweepReport {
  return {
    targets: ['198.18.0.0/30'],
    options: { ...DEFAULT_OPTIONS },
    startedAt: new Date().toISOString(),
    durationMs: 1,
    complete,
    planned: 2,
    icmp: { available: true },
    summary: { ...emptyCounts(), total: 0 },
    names: [],
    hosts: [],
  };
}

const aborted = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));

describe('sweepWithinBound', () => {
  it('returns the report of a sweep that ends within its bound, and gives nothing up', async () => {
    let seen: AbortSignal | undefined;
    const run = await sweepWithinBound(
      async (signal, onPlan) => {
        seen = signal;
        onPlan({ addresses: 2, timeBoundMs: 50 });
        return reportOf(true);
      },
      { planningMs: 50, graceMs: 50 },
    );
    assert.equal(run.report?.complete, true);
    assert.deepEqual(run.plan, { addresses: 2, timeBoundMs: 50 });
    assert.equal(run.gaveUp, undefined);
    await quietFor(150);
    assert.equal(seen?.aborted, false, 'no bound fires once the sweep is back');
  });

  it('aborts a sweep past its own time bound and a grace, and keeps what it ended with, with the reason', async () => {
    let reason: unknown;
    const started = performance.now();
    const run = await sweepWithinBound(
      async (signal, onPlan) => {
        onPlan({ addresses: 2, timeBoundMs: 100 });
        await aborted(signal);
        reason = signal.reason;
        return reportOf(false);
      },
      { planningMs: 10_000, graceMs: 50 },
    );
    // 100 ms of bound and 50 of grace (timers may fire a millisecond or so early).
    assert.ok(performance.now() - started >= 140, 'given up before its bound');
    assert.equal(reason, OVER_TIME);
    assert.equal(run.report?.complete, false);
    assert.match(run.gaveUp ?? '', /^gave up after .+, past its time bound of (1\d\d ms)$/);
  });

  it('gives the chunk up without a report when the sweep does not return once aborted', async () => {
    const run = await sweepWithinBound(
      (_signal, onPlan) => {
        onPlan({ addresses: 7, timeBoundMs: 30 });
        return new Promise<SweepReport>(() => undefined);
      },
      { planningMs: 10_000, graceMs: 30 },
    );
    assert.equal(run.report, undefined);
    assert.equal(run.plan?.addresses, 7);
    assert.match(run.gaveUp ?? '', /past its time bound/);
  });

  it('bounds the time to resolve names until the plan is known', async () => {
    const run = await sweepWithinBound(async (signal) => {
      await aborted(signal);
      return reportOf(false);
    }, { planningMs: 40, graceMs: 40 });
    assert.match(run.gaveUp ?? '', /past its time bound of 80 ms \(its names were still being resolved\)$/);
    assert.equal(run.plan, undefined);
  });

  it("passes the job's own cancel on to the sweep, which is then not over time", async () => {
    const job = new AbortController();
    setTimeout(() => job.abort('cancelled'), 20);
    let reason: unknown;
    const run = await sweepWithinBound(
      async (signal, onPlan) => {
        onPlan({ addresses: 2, timeBoundMs: 60_000 });
        await aborted(signal);
        reason = signal.reason;
        return reportOf(false);
      },
      { signal: job.signal, planningMs: 60_000 },
    );
    assert.equal(reason, 'cancelled');
    assert.equal(run.gaveUp, undefined);
  });

  it("passes a sweep's failure on", async () => {
    await assert.rejects(
      sweepWithinBound(async () => {
        throw new Error('out of scope');
      }, { planningMs: 60_000 }),
      /out of scope/,
    );
  });
});
