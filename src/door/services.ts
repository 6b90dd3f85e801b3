/**
 * What the kinds of command work with, the same behind every transport; only the starters differ: the bot starts a
 * request as a durable delivery job (it posts, submits, waits and answers in the thread), the command line submits
 * and waits itself.
 */
import type { Dispatcher, SweepFlow } from '../queue/dispatcher.js';
import type { HistoryStore } from '../queue/history.js';
import type { HostJob, HostJobs } from '../queue/host-jobs.js';
import type { ResultStore } from '../queue/results.js';
import type { WatchSeries } from '../queue/watch-series.js';
import type { WatchLimits, WatchStore } from '../queue/watch-store.js';
import type { DoorRequest } from './kind.js';
import type { Slot } from './slots.js';

/** A sweep the door allowed, to start: its jobs, and what its messages say of it. */
export interface SweepStart {
  flow: SweepFlow;
  /** The request in the grammar's words. */
  text: string;
  asker: DoorRequest;
  slot?: Slot;
}

/** A trace or diag the door allowed, to start. */
export interface HostJobStart {
  job: HostJob;
  /** The request in the grammar's words. */
  text: string;
  asker: DoorRequest;
  slot?: Slot;
}

/**
 * Starts allowed work durably: once a starter returns, the work runs and its answer comes, whatever fails after
 * (a restart, Slack down for a while); it throws only when nothing was started.
 */
export interface Starter {
  sweep(start: SweepStart): Promise<void>;
  hostJob(start: HostJobStart): Promise<void>;
}

/** The watch side of the bot; absent where watches are not served (the command line). */
export interface WatchServices {
  store: WatchStore;
  /** Shortest interval a watch may have, in ms (ZENSWEEP_WATCH_MIN_INTERVAL_MS). */
  minIntervalMs: number;
  /** Most watches per channel, per user and in total, checked together when a watch is made. */
  caps: WatchLimits;
  /** Each watch's hosts' loss and round trips, run after run (its chart). */
  series?: WatchSeries;
}

export interface DoorServices {
  dispatcher: Dispatcher;
  history: HistoryStore;
  results: ResultStore;
  hostJobs: HostJobs;
  start: Starter;
  watches?: WatchServices;
}
