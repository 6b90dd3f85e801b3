import type { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { ZenSweepError } from '../core/errors.js';
import { Shutdown } from '../shutdown.js';
import { bullmq } from './load.js';

/** How a job ended: completed, with what its processor returned, or failed for good, with why. */
export type JobEnd =
  | { jobId: string; state: 'completed'; returnValue: unknown }
  | { jobId: string; state: 'failed'; failedReason: string };

/** No end within the `timeoutMs` the waiter gave. */
export class JobWaitTimeoutError extends ZenSweepError {
  constructor(message: string) {
    super('job_wait_timeout', message);
  }
}

/** The waiter's signal was aborted; `cause` is the signal's reason. */
export class JobWaitAbortedError extends ZenSweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('job_wait_aborted', message, options);
  }
}

/** The job is not in Redis: removed, never added, or lost with a Redis that kept nothing. */
export class JobGoneError extends ZenSweepError {
  constructor(message: string) {
    super('job_gone', message);
  }
}

/** The watcher was closed while the job was waited on (its owner is stopping). */
export class JobWatcherClosedError extends ZenSweepError {
  constructor(message: string) {
    super('job_watcher_closed', message);
  }
}

export interface JobWatcherOptions {
  /**
   * The connection to read jobs with, and the one BullMQ duplicates (once per queue) for each QueueEvents' blocking
   * read; `maxRetriesPerRequest: null`, so that a poll waits out a Redis outage instead of failing.
   */
  connection: Redis;
  /** BullMQ's key prefix, as the queues were made with; default 'bull'. */
  prefix?: string;
  /**
   * How often the jobs waited on are read from Redis, in milliseconds, default 1500: an end whose event was never
   * read (published while Redis or this process was cut off, or trimmed from the stream) is found this way.
   */
  pollMs?: number;
  /** How long a queue's QueueEvents stays open once nobody waits on or follows its jobs, in ms, default 60,000. */
  idleMs?: number;
  /** How long `close()` waits for each QueueEvents to close before leaving it, in ms, default 1000. */
  closeMs?: number;
  /**
   * Where the `error` events of the QueueEvents go (mostly a lost connection, which the connection's owner reports
   * already), and what a progress listener throws; default: nowhere. Without a listener BullMQ prints each on stderr.
   */
  onError?: (error: Error) => void;
}

export interface JobWaitOptions {
  /** Stops the wait: it rejects with JobWaitAbortedError (the job itself runs on). */
  signal?: AbortSignal;
  /** Most time to wait, in milliseconds; default: no limit. Rejects with JobWaitTimeoutError. */
  timeoutMs?: number;
  /** Told each progress the job reports (`job.updateProgress`), as BullMQ published it: data from outside. */
  onProgress?: (progress: unknown) => void;
}

/** Told the progress of every job followed, by id. */
export type ProgressListener = (jobId: string, progress: unknown) => void;

const DEFAULT_POLL_MS = 1500;
const DEFAULT_IDLE_MS = 60_000;
const DEFAULT_CLOSE_MS = 1000;

interface Waiter {
  readonly jobId: string;
  readonly onProgress?: (progress: unknown) => void;
  end(end: JobEnd): void;
  fail(error: Error): void;
}

interface Follower {
  readonly idPrefix: string;
  readonly listener: ProgressListener;
}

/** Everything watched on one queue: its one QueueEvents, and who waits on or follows which jobs. */
interface QueueWatch {
  readonly name: string;
  /** Settles once the QueueEvents is made, reading from a known point of the stream (or from its end). */
  started: Promise<void>;
  events?: QueueEvents;
  readonly waiters: Map<string, Set<Waiter>>;
  readonly followers: Set<Follower>;
  poll?: NodeJS.Timeout;
  polling: boolean;
  pollAgain: boolean;
  idle?: NodeJS.Timeout;
}

/**
 * Waits on BullMQ jobs for many callers at once with a bounded number of Redis connections: at most one QueueEvents
 * (one blocking connection, which BullMQ duplicates from the given connection) per queue, made when a queue is first
 * needed and shared by every waiter and follower of that queue, and closed once nobody has needed it for `idleMs`
 * (60 s by default). The number of connections grows with the number of queues in use (the report queue and one per
 * agent group), never with the number of waiting requests.
 *
 * No end is missed. The QueueEvents reads its stream from the last event published before the first waiter looked
 * at its job, and replays what was published while its connection was cut; every waiter's job is read once after it
 * is listened for; and one timer per queue reads all the jobs waited on there in one round trip every `pollMs`,
 * which finds an end whose event is gone (the stream trimmed, or lost with a Redis restarted without it).
 *
 * A job counts as ended when it is in the queue's completed set or its failed set: a failure that BullMQ will try
 * again leaves the job in neither (and publishes no `failed` event), so it is not an end.
 */
export class JobWatcher {
  private readonly connection: Redis;
  private readonly prefix: string;
  private readonly pollMs: number;
  private readonly idleMs: number;
  private readonly closeMs: number;
  private readonly onError: (error: Error) => void;
  private readonly queues = new Map<string, QueueWatch>();
  /** QueueEvents being closed (idle ones), so that close() waits for them too. */
  private readonly closing = new Set<Promise<unknown>>();
  private closed = false;

  constructor(options: JobWatcherOptions) {
    this.connection = options.connection;
    this.prefix = options.prefix ?? 'bull';
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.closeMs = options.closeMs ?? DEFAULT_CLOSE_MS;
    this.onError = options.onError ?? ((): void => undefined);
  }

  /** How many queues have a QueueEvents open (or being opened) right now. */
  get openQueues(): number {
    return this.queues.size;
  }

  /**
   * Resolves with the job's end: completed (with its return value) or failed for good (with its reason). Rejects with
   * JobGoneError when the job is not in Redis, JobWaitTimeoutError, JobWaitAbortedError, or JobWatcherClosedError.
   * The job must exist when this is called.
   */
  wait(queueName: string, jobId: string, options: JobWaitOptions = {}): Promise<JobEnd> {
    const { signal, timeoutMs, onProgress } = options;
    if (this.closed) return Promise.reject(this.closedError(queueName, jobId));
    if (signal?.aborted) return Promise.reject(this.abortedError(queueName, jobId, signal));
    const watch = this.watch(queueName);
    return new Promise<JobEnd>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => waiter.fail(this.abortedError(queueName, jobId, signal));
      const settle = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.forget(watch, waiter);
      };
      const waiter: Waiter = {
        jobId,
        ...(onProgress ? { onProgress } : {}),
        end: (end) => {
          settle();
          resolve(end);
        },
        fail: (error) => {
          settle();
          reject(error);
        },
      };
      let waiters = watch.waiters.get(jobId);
      if (!waiters) {
        waiters = new Set();
        watch.waiters.set(jobId, waiters);
      }
      waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => waiter.fail(new JobWaitTimeoutError(`job ${jobId} on ${queueName} did not end within ${formatMs(timeoutMs)}`)),
          timeoutMs,
        );
      }
      watch.poll ??= setInterval(() => void this.poll(watch), this.pollMs);
      // An end that came before the QueueEvents reads the stream is found by this first look.
      void watch.started.then(() => this.poll(watch));
    });
  }

  /**
   * Calls `listener` with the progress of every job of `queueName` whose id starts with `idPrefix` (a sweep's chunks
   * are `SWEEPID.N`), until the function returned is called. Progress published while cut off from Redis is replayed
   * when the QueueEvents reconnects, unless the stream was trimmed meanwhile.
   */
  follow(queueName: string, idPrefix: string, listener: ProgressListener): () => void {
    if (this.closed) return () => undefined;
    const watch = this.watch(queueName);
    const follower: Follower = { idPrefix, listener };
    watch.followers.add(follower);
    return () => {
      if (watch.followers.delete(follower)) this.idleIfUnused(watch);
    };
  }

  /**
   * Rejects every wait still going with JobWatcherClosedError and closes every QueueEvents, each given at most
   * `closeMs`: while Redis is away BullMQ's close waits for it forever (bullmq#4656), and the connection BullMQ made is
   * then left to the owner of the given connection to cut (a service's RedisConnections cuts every duplicate).
   */
  async close(): Promise<void> {
    this.closed = true;
    const watches = [...this.queues.values()];
    this.queues.clear();
    for (const watch of watches) {
      clearInterval(watch.poll);
      clearTimeout(watch.idle);
      for (const waiters of [...watch.waiters.values()]) {
        for (const waiter of [...waiters]) waiter.fail(this.closedError(watch.name, waiter.jobId));
      }
      watch.followers.clear();
      this.closeEvents(watch);
    }
    await Promise.all([...this.closing]);
  }

  private watch(queueName: string): QueueWatch {
    const known = this.queues.get(queueName);
    if (known) {
      clearTimeout(known.idle);
      known.idle = undefined;
      return known;
    }
    const watch: QueueWatch = {
      name: queueName,
      started: Promise.resolve(),
      waiters: new Map(),
      followers: new Set(),
      polling: false,
      pollAgain: false,
    };
    watch.started = this.start(watch);
    this.queues.set(queueName, watch);
    return watch;
  }

  /**
   * Makes the queue's QueueEvents, reading from the newest event now in its stream; never rejects. Nothing is made
   * for a watch dropped meanwhile (closed, or idle).
   */
  private async start(watch: QueueWatch): Promise<void> {
    let lastEventId: string | undefined;
    try {
      const [newest] = await this.connection.xrevrange(this.key(watch.name, 'events'), '+', '-', 'COUNT', 1);
      // An empty stream: everything that comes is new.
      lastEventId = newest?.[0] ?? '0-0';
    } catch {
      // Redis refused the read: the QueueEvents starts from what comes next, and the polls find what ended before.
    }
    if (this.queues.get(watch.name) !== watch) return;
    try {
      const events = new bullmq.QueueEvents(watch.name, {
        connection: this.connection,
        prefix: this.prefix,
        ...(lastEventId ? { lastEventId } : {}),
      });
      watch.events = events;
      events.on('error', this.onError);
      events.on('completed', ({ jobId, returnvalue }) => this.ended(watch, { jobId, state: 'completed', returnValue: returnvalue }));
      events.on('failed', ({ jobId, failedReason }) => this.ended(watch, { jobId, state: 'failed', failedReason }));
      events.on('progress', ({ jobId, data }) => this.progressed(watch, jobId, data));
      events.on('removed', ({ jobId }) => {
        if (watch.waiters.has(jobId)) void this.poll(watch);
      });
    } catch (error) {
      // Not a queue BullMQ can listen to (a name with ':'): the polls still find the ends.
      this.onError(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private ended(watch: QueueWatch, end: JobEnd): void {
    for (const waiter of [...(watch.waiters.get(end.jobId) ?? [])]) waiter.end(end);
  }

  private progressed(watch: QueueWatch, jobId: string, progress: unknown): void {
    const tell = (listener: () => void): void => {
      try {
        listener();
      } catch (error) {
        this.onError(error instanceof Error ? error : new Error(String(error)));
      }
    };
    for (const waiter of watch.waiters.get(jobId) ?? []) {
      const { onProgress } = waiter;
      if (onProgress) tell(() => onProgress(progress));
    }
    for (const { idPrefix, listener } of watch.followers) {
      if (jobId.startsWith(idPrefix)) tell(() => listener(jobId, progress));
    }
  }

  /**
   * Reads every job waited on in this queue in one round trip, and settles those that ended or are gone. One read at
   * a time per queue: a call during a read asks for one more after it (the read may have been too early).
   */
  private async poll(watch: QueueWatch): Promise<void> {
    if (watch.polling) {
      watch.pollAgain = true;
      return;
    }
    const ids = [...watch.waiters.keys()];
    if (ids.length === 0) return;
    watch.polling = true;
    try {
      const pipeline = this.connection.pipeline();
      for (const id of ids) {
        pipeline.hmget(this.key(watch.name, id), 'timestamp', 'returnvalue', 'failedReason');
        pipeline.zscore(this.key(watch.name, 'completed'), id);
        pipeline.zscore(this.key(watch.name, 'failed'), id);
      }
      const replies = (await pipeline.exec()) ?? [];
      ids.forEach((id, i) => {
        const read = replies.slice(i * 3, i * 3 + 3);
        // A reply that is an error (Redis still loading its data after a restart) says nothing: the next poll looks.
        if (read.length < 3 || read.some(([error]) => error)) return;
        const [fields, completed, failed] = read.map(([, value]) => value) as [(string | null)[], string | null, string | null];
        const [timestamp, returnValue, failedReason] = fields;
        if (completed !== null) {
          this.ended(watch, { jobId: id, state: 'completed', returnValue: parseReturnValue(returnValue ?? null) });
        } else if (failed !== null) {
          this.ended(watch, { jobId: id, state: 'failed', failedReason: failedReason ?? '' });
        } else if (timestamp === null || timestamp === undefined) {
          for (const waiter of [...(watch.waiters.get(id) ?? [])]) {
            waiter.fail(new JobGoneError(`job ${id} is not in queue ${watch.name}: removed, or lost with Redis`));
          }
        }
      });
    } catch {
      // Redis is away for a moment: the next event or poll looks again.
    } finally {
      watch.polling = false;
      if (watch.pollAgain) {
        watch.pollAgain = false;
        void this.poll(watch);
      }
    }
  }

  private forget(watch: QueueWatch, waiter: Waiter): void {
    const waiters = watch.waiters.get(waiter.jobId);
    if (!waiters?.delete(waiter)) return;
    if (waiters.size === 0) watch.waiters.delete(waiter.jobId);
    if (watch.waiters.size === 0) {
      clearInterval(watch.poll);
      watch.poll = undefined;
    }
    this.idleIfUnused(watch);
  }

  private idleIfUnused(watch: QueueWatch): void {
    if (this.closed || watch.waiters.size > 0 || watch.followers.size > 0 || watch.idle) return;
    watch.idle = setTimeout(() => {
      if (this.queues.get(watch.name) !== watch) return;
      this.queues.delete(watch.name);
      this.closeEvents(watch);
    }, this.idleMs);
    // An idle QueueEvents alone does not keep the process running.
    watch.idle.unref();
  }

  /**
   * Closes the queue's QueueEvents, waiting at most `closeMs` (for it to be made as well: its first read waits while
   * Redis is away, and then none is made).
   */
  private closeEvents(watch: QueueWatch): void {
    const closing = new Shutdown()
      .step('queue-events', this.closeMs, watch.started.then(() => watch.events?.close()))
      .finally(() => this.closing.delete(closing));
    this.closing.add(closing);
  }

  private key(queueName: string, id: string): string {
    return `${this.prefix}:${queueName}:${id}`;
  }

  private closedError(queueName: string, jobId: string): JobWatcherClosedError {
    return new JobWatcherClosedError(`stopped waiting for job ${jobId} on ${queueName}: shutting down`);
  }

  private abortedError(queueName: string, jobId: string, signal: AbortSignal | undefined): JobWaitAbortedError {
    return new JobWaitAbortedError(`stopped waiting for job ${jobId} on ${queueName}: aborted`, { cause: signal?.reason });
  }
}

/** A return value as BullMQ stores it (JSON), or the text itself should it not be JSON. */
function parseReturnValue(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
