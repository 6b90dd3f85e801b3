import { formatDuration } from '../core/format.js';
import type { SweepReport } from '../core/report.js';
import type { SweepPlan } from '../engine/sweep.js';

/** How long past its sweep's own time bound a chunk is given up, in milliseconds: the engine should stop it first. */
export const CHUNK_GRACE_MS = 10_000;

/** Reason given to the sweep's signal when its chunk is given up. */
export const OVER_TIME = 'over_time';

export interface ChunkBoundOptions {
  /** The job's own signal (cancel, shutdown), passed on to the sweep with the bound's. */
  signal?: AbortSignal;
  /** Time the sweep may take before its plan is known (resolving names), in milliseconds. */
  planningMs: number;
  /** Added to each bound, and the wait for the sweep to return once given up, in milliseconds; default 10,000. */
  graceMs?: number;
}

export interface BoundedSweep {
  /** The sweep's report; absent when it did not even return once given up. */
  report?: SweepReport;
  /** What the sweep said it was about to do, if it got that far. */
  plan?: SweepPlan;
  /** Why the chunk was given up, when it was: one sentence for the report. */
  gaveUp?: string;
}

/**
 * Runs a chunk's sweep within a time bound, so that a sweep that never ends cannot hold its chunk's lock forever
 * (the lock is renewed for as long as the agent runs). The bound is the time to resolve names until the sweep's
 * plan is known, then the sweep's own time bound (its arithmetic), each with a grace. Past it the sweep is aborted
 * and ends with what it has; if it has not returned a grace later, the chunk is given up without it.
 */
export async function sweepWithinBound(
  sweep: (signal: AbortSignal, onPlan: (plan: SweepPlan) => void) => Promise<SweepReport>,
  options: ChunkBoundOptions,
): Promise<BoundedSweep> {
  const graceMs = options.graceMs ?? CHUNK_GRACE_MS;
  const started = performance.now();
  const overTime = new AbortController();
  let deadline = started + options.planningMs + graceMs;
  let plan: SweepPlan | undefined;
  let gaveUp: string | undefined;
  let abandon = (): void => undefined;
  const abandoned = new Promise<undefined>((resolve) => (abandon = () => resolve(undefined)));

  const giveUp = (): void => {
    gaveUp =
      `gave up after ${formatDuration(performance.now() - started)}, past its time bound of ` +
      `${formatDuration(deadline - started)}${plan ? '' : ' (its names were still being resolved)'}`;
    overTime.abort(OVER_TIME);
    timer = setTimeout(abandon, graceMs);
  };
  let timer = setTimeout(giveUp, deadline - started);
  const onPlan = (planned: SweepPlan): void => {
    if (gaveUp) return;
    plan = planned;
    clearTimeout(timer);
    deadline = performance.now() + planned.timeBoundMs + graceMs;
    timer = setTimeout(giveUp, deadline - performance.now());
  };

  const signal = options.signal ? AbortSignal.any([options.signal, overTime.signal]) : overTime.signal;
  const running = sweep(signal, onPlan);
  // Given up and left behind, a sweep that fails later has nobody left to tell.
  running.catch(() => undefined);
  try {
    const report = await Promise.race([running, abandoned]);
    return { ...(report ? { report } : {}), ...(plan ? { plan } : {}), ...(gaveUp ? { gaveUp } : {}) };
  } finally {
    clearTimeout(timer);
  }
}
