/**
 * How long BullMQ keeps finished jobs, in one place. A finished job stays in its queue's completed or failed set
 * (a sorted set, plus one hash per job) until something removes it: without these figures one watch running every
 * minute leaves 525,600 jobs a year. Each figure bounds both age and count, whichever drops a job first: the age
 * says how long a finished job is worth looking at, the count caps what a burst leaves behind before the age is
 * reached. Nothing in ZenSweep reads a finished job back after its outcome was used (reports, chunks' hosts and
 * watch results live in their own keys), so these figures are for people looking at a queue, not for the code.
 * BullMQ's other keys of a queue are bounded by BullMQ: its event stream is trimmed to about 10,000 entries, a job
 * scheduler is one key per watch, and the rest is one key each.
 */

/** One BullMQ `removeOnComplete` / `removeOnFail` value: keep a finished job at most `age` seconds, and at most `count` of them. */
export interface KeepJobs {
  /** Seconds a finished job is kept at most. */
  age: number;
  /** Finished jobs of the queue kept at most (the newest). */
  count: number;
}

/** The retention of one kind of job: the `removeOnComplete` and `removeOnFail` of its job options. */
export interface JobRetention {
  removeOnComplete: KeepJobs;
  removeOnFail: KeepJobs;
}

const HOUR = 3600;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

export const RETENTION = {
  /**
   * Watch runs (queue `watch-runs`, one job per run and per watch): a run's result is in its watch record
   * (`lastRun`) and its sweep in the history, so a completed run is kept a day, 200 at most (the last few runs of
   * every watch, to see in a dashboard that they run). A failed run is kept a week, 1,000 at most: its reason is
   * what someone looks for after a weekend.
   */
  watchRuns: { removeOnComplete: { age: DAY, count: 200 }, removeOnFail: { age: WEEK, count: 1000 } },
  /**
   * Report jobs (queue `sweep-reports`, a sweep's parent job): the report itself is in the ResultStore (a day) and
   * the history; whoever waits for it reads the job only to learn that it finished. A day and 1,000 completed
   * (more than the sweeps a busy team runs in a day); a failed report a week and 1,000, to find why.
   */
  reports: { removeOnComplete: { age: DAY, count: 1000 }, removeOnFail: { age: WEEK, count: 1000 } },
  /**
   * Chunks (queues `sweep.GROUP`): a chunk's hosts are in the ResultStore and its return value in its parent, so a
   * completed chunk is kept an hour, 2,000 at most (eight /16 sweeps of 256 chunks); a failed chunk a day, 2,000 at
   * most (the report already names it and why).
   */
  chunks: { removeOnComplete: { age: HOUR, count: 2000 }, removeOnFail: { age: DAY, count: 2000 } },
  /**
   * Trace and diag jobs (on the same `sweep.GROUP` queues): their waiter is told by an event, so an hour and 1,000
   * completed; a failed one a day and 1,000.
   */
  hostJobs: { removeOnComplete: { age: HOUR, count: 1000 }, removeOnFail: { age: DAY, count: 1000 } },
  /**
   * Report deliveries (queue `slack-deliveries`): each step done is recorded in the SlackStore, not in the job. A
   * day and 1,000 completed; a week and 1,000 failed (a report that never reached Slack is worth finding).
   */
  deliveries: { removeOnComplete: { age: DAY, count: 1000 }, removeOnFail: { age: WEEK, count: 1000 } },
} as const satisfies Record<string, JobRetention>;

export type RetentionKind = keyof typeof RETENTION;

/**
 * The retention of a kind of job, its counts lowered to `maxKept` when given (ZENSWEEP_JOBS_KEPT: a small Redis,
 * or a test that wants to see the cap reached within minutes). Never raised: the ages stay as they are.
 */
export function retention(kind: RetentionKind, maxKept?: number): JobRetention {
  const figures = RETENTION[kind];
  const cap = (keep: KeepJobs): KeepJobs => ({ age: keep.age, count: maxKept === undefined ? keep.count : Math.min(keep.count, maxKept) });
  return { removeOnComplete: cap(figures.removeOnComplete), removeOnFail: cap(figures.removeOnFail) };
}
