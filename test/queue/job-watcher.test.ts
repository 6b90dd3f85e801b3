/**
 * JobWatcher against a real redis-server of its own (stopped and restarted by some tests) and real BullMQ queues and
 * workers, a fresh queue name per test: every end is seen once, whenever it happened, through one QueueEvents per
 * queue however many wait.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Job, Processor, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  JobGoneError,
  JobWaitAbortedError,
  JobWaitTimeoutError,
  JobWatcher,
  JobWatcherClosedError,
} from '../../src/queue/job-watcher.js';
import type { JobEnd, JobWatcherOptions } from '../../src/queue/job-watcher.js';
import { bullmq } from '../../src/queue/load.js';
import { until } from '../support/wait.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const TIMEOUT = { timeout: 120_000 };

describe('JobWatcher (real redis-server, real BullMQ)', () => {
  let redis: RedisServer;
  /** The test's own view of Redis: adds jobs, reads CLIENT LIST. */
  let admin: Redis;
  /** What is closed after each test. */
  const cleanups: (() => Promise<unknown> | void)[] = [];

  before(async () => {
    // Append-only, so that a restart keeps the jobs and their events.
    redis = await startRedis({ appendOnly: true });
    admin = new Redis(redis.url, { maxRetriesPerRequest: null }).on('error', () => undefined);
  });
  after(async () => {
    admin?.disconnect();
    await redis?.destroy();
  });

  async function cleanup(): Promise<void> {
    for (const step of cleanups.splice(0).reverse()) await step();
  }

  function freshQueue(): { name: string; queue: Queue } {
    const name = `watch-${randomBytes(4).toString('hex')}`;
    const queue = new bullmq.Queue(name, { connection: admin }).on('error', () => undefined);
    cleanups.push(() => queue.close());
    return { name, queue };
  }

  /** A watcher on a connection of its own, as a service has one. */
  function watcherFor(options: Partial<JobWatcherOptions> = {}): { watcher: JobWatcher; errors: Error[] } {
    // Its errors are the test's to ignore: a test stops Redis.
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null, connectionName: 'watcher' }).on('error', () => undefined);
    const errors: Error[] = [];
    const watcher = new JobWatcher({ connection, onError: (error) => errors.push(error), ...options });
    cleanups.push(async () => {
      await watcher.close();
      connection.disconnect();
    });
    return { watcher, errors };
  }

  function worker(name: string, processor: Processor): Worker {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null, connectionName: 'worker' }).on('error', () => undefined);
    const started = new bullmq.Worker(name, processor, { connection });
    started.on('error', () => undefined);
    cleanups.push(async () => {
      await started.close();
      connection.disconnect();
    });
    return started;
  }

  /** The QueueEvents connections on `queueName` (BullMQ names them `bull:<base64 of the queue>:qe`). */
  async function listeners(queueName: string): Promise<number> {
    const name = `bull:${Buffer.from(queueName).toString('base64')}:qe`;
    const list = String(await admin.client('LIST'));
    return list.split('\n').filter((line) => line.includes(` name=${name} `)).length;
  }

  it('gives the end of a job that completed before the wait started', TIMEOUT, async () => {
    try {
      const { name, queue } = freshQueue();
      const job = await queue.add('work', { n: 1 });
      worker(name, async (j: Job) => ({ doubled: (j.data as { n: number }).n * 2 }));
      await until('the job done', async () => (await queue.getJobState(String(job.id))) === 'completed');
      const { watcher } = watcherFor();
      assert.deepEqual(await watcher.wait(name, String(job.id)), { jobId: job.id, state: 'completed', returnValue: { doubled: 2 } });
    } finally {
      await cleanup();
    }
  });

  it('gives the end of a job that completes while waited on', TIMEOUT, async () => {
    try {
      const { name, queue } = freshQueue();
      const job = await queue.add('work', {});
      const { watcher } = watcherFor();
      const waiting = watcher.wait(name, String(job.id));
      worker(name, async () => 'done');
      assert.deepEqual(await waiting, { jobId: job.id, state: 'completed', returnValue: 'done' });
    } finally {
      await cleanup();
    }
  });

  it('ends on a failure for good, not on a failure BullMQ tries again', TIMEOUT, async () => {
    try {
      const { name, queue } = freshQueue();
      const once = await queue.add('once', {}, { attempts: 1 });
      const twice = await queue.add('twice', {}, { attempts: 2 });
      const { watcher } = watcherFor();
      const failing = watcher.wait(name, String(once.id));
      const retried = watcher.wait(name, String(twice.id));
      const tries = new Map<string, number>();
      worker(name, async (job: Job) => {
        const n = (tries.get(job.name) ?? 0) + 1;
        tries.set(job.name, n);
        if (job.name === 'once' || n === 1) throw new Error(`${job.name} broke on try ${n}`);
        return `${job.name} worked on try ${n}`;
      });
      assert.deepEqual(await failing, { jobId: once.id, state: 'failed', failedReason: 'once broke on try 1' });
      assert.deepEqual(await retried, { jobId: twice.id, state: 'completed', returnValue: 'twice worked on try 2' });
      assert.equal(tries.get('twice'), 2);
    } finally {
      await cleanup();
    }
  });

  it('reads a job that completed after a retried failure as completed, though its first failedReason stays', TIMEOUT, async () => {
    try {
      const { name, queue } = freshQueue();
      const job = await queue.add('twice', {}, { attempts: 2 });
      let tries = 0;
      worker(name, async () => {
        tries += 1;
        if (tries === 1) throw new Error('first try broke');
        return 'second try';
      });
      await until('the job done', async () => (await queue.getJobState(String(job.id))) === 'completed');
      assert.equal(await admin.hget(`bull:${name}:${String(job.id)}`, 'failedReason'), 'first try broke');
      const { watcher } = watcherFor();
      assert.deepEqual(await watcher.wait(name, String(job.id)), { jobId: job.id, state: 'completed', returnValue: 'second try' });
    } finally {
      await cleanup();
    }
  });

  it("tells a waiter its job's progress, and a follower the progress of every job with its prefix", TIMEOUT, async () => {
    try {
      const { name, queue } = freshQueue();
      const { watcher } = watcherFor();
      const [a0, a1, b0] = await Promise.all(['A.0', 'A.1', 'B.0'].map((jobId) => queue.add('chunk', {}, { jobId })));
      const followed: [string, unknown][] = [];
      const unfollow = watcher.follow(name, 'A.', (jobId, progress) => followed.push([jobId, progress]));
      const others: string[] = [];
      const unfollowOthers = watcher.follow(name, 'B.', (jobId) => others.push(jobId));
      const seen: unknown[] = [];
      const waiting = watcher.wait(name, String(a0?.id), { onProgress: (p) => seen.push(p) });
      // Progress published once the QueueEvents reads the stream reaches everyone.
      await until('the queue listened to', async () => (await listeners(name)) === 1);
      worker(name, async (job: Job) => {
        await job.updateProgress({ done: 1 });
        await job.updateProgress({ done: 2 });
        return job.id;
      });
      await waiting;
      await until('every progress followed', () => followed.length === 4);
      assert.deepEqual(seen, [{ done: 1 }, { done: 2 }]);
      assert.deepEqual(followed.sort((x, y) => String(x[0]).localeCompare(String(y[0]))), [
        ['A.0', { done: 1 }],
        ['A.0', { done: 2 }],
        ['A.1', { done: 1 }],
        ['A.1', { done: 2 }],
      ]);
      assert.ok(b0 && a1);
      await until("B.0's progress followed", () => others.length === 2);
      unfollow();
      unfollowOthers();
      assert.equal(followed.length, 4, 'nothing of B.0');
      assert.deepEqual(others, ['B.0', 'B.0']);
    } finally {
      await cleanup();
    }
  });

  it('stops waiting when its signal aborts or its time is up, and the job stays as it was', TIMEOUT, async () => {
    try {
      const { name, queue } = freshQueue();
      const job = await queue.add('nobody runs it', {});
      const { watcher } = watcherFor();
      const abort = new AbortController();
      const aborted = watcher.wait(name, String(job.id), { signal: abort.signal });
      abort.abort('the caller stops');
      await assert.rejects(aborted, (error: unknown) => {
        assert.ok(error instanceof JobWaitAbortedError);
        assert.equal(error.code, 'job_wait_aborted');
        assert.equal(error.cause, 'the caller stops');
        return true;
      });
      await assert.rejects(watcher.wait(name, String(job.id), { signal: abort.signal }), JobWaitAbortedError);
      await assert.rejects(watcher.wait(name, String(job.id), { timeoutMs: 300 }), (error: unknown) => {
        assert.ok(error instanceof JobWaitTimeoutError);
        assert.equal(error.code, 'job_wait_timeout');
        assert.match(error.message, new RegExp(`^job ${String(job.id)} on ${name} did not end within 300 ms$`));
        return true;
      });
      assert.equal(await queue.getJobState(String(job.id)), 'waiting');
    } finally {
      await cleanup();
    }
  });

  it('says when the job waited on is not in Redis', TIMEOUT, async () => {
    try {
      const { name } = freshQueue();
      const { watcher } = watcherFor();
      await assert.rejects(watcher.wait(name, 'never-added'), (error: unknown) => {
        assert.ok(error instanceof JobGoneError);
        assert.equal(error.code, 'job_gone');
        return true;
      });
    } finally {
      await cleanup();
    }
  });

  it('finds an end whose event never came (lost while cut off from Redis) by reading the job', TIMEOUT, async () => {
    try {
      const { name, queue } = freshQueue();
      const job = await queue.add('work', {});
      const { watcher } = watcherFor();
      const waiting = watcher.wait(name, String(job.id));
      await until('the queue listened to', async () => (await listeners(name)) === 1);
      // The job ends as a worker would end it, but no event is published.
      const id = String(job.id);
      await admin
        .multi()
        .lrem(`bull:${name}:wait`, 0, id)
        .zadd(`bull:${name}:completed`, Date.now(), id)
        .hset(`bull:${name}:${id}`, 'returnvalue', JSON.stringify({ quiet: true }), 'finishedOn', Date.now())
        .exec();
      assert.deepEqual(await waiting, { jobId: id, state: 'completed', returnValue: { quiet: true } });
    } finally {
      await cleanup();
    }
  });

  it('does not lose an end across a Redis restart', TIMEOUT, async () => {
    try {
      const { name, queue } = freshQueue();
      const before = await queue.add('before', {});
      const { watcher } = watcherFor();
      const waiting = watcher.wait(name, String(before.id));
      await until('the queue listened to', async () => (await listeners(name)) === 1);
      await redis.restart();
      // Ended at once, as the watcher's connections are still coming back.
      worker(name, async (job: Job) => {
        await job.updateProgress(50);
        return `${job.name} ended after the restart`;
      });
      assert.deepEqual(await waiting, { jobId: before.id, state: 'completed', returnValue: 'before ended after the restart' });
      // And the QueueEvents reads the stream again: progress, which only events carry, comes through.
      const progress: unknown[] = [];
      const unfollow = watcher.follow(name, 'after', (_, p) => progress.push(p));
      await queue.add('after', {}, { jobId: 'after' });
      await until('progress after the restart', () => progress.length > 0);
      unfollow();
    } finally {
      await cleanup();
    }
  });

  it('has 50 waiters on one queue share one QueueEvents connection', TIMEOUT, async () => {
    try {
      const { name, queue } = freshQueue();
      const jobs = await queue.addBulk(Array.from({ length: 50 }, (_, i) => ({ name: 'work', data: { i } })));
      const { watcher, errors } = watcherFor();
      const waiting = jobs.map((job) => watcher.wait(name, String(job.id)));
      await until('the queue listened to', async () => (await listeners(name)) >= 1);
      const counts: number[] = [];
      for (let i = 0; i < 10; i += 1) {
        counts.push(await listeners(name));
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual([...new Set(counts)], [1], `QueueEvents connections on ${name}: ${counts.join(', ')}`);
      assert.equal(watcher.openQueues, 1);
      worker(name, async (job: Job) => (job.data as { i: number }).i);
      const ends: JobEnd[] = await Promise.all(waiting);
      assert.deepEqual(
        ends.map((end) => (end.state === 'completed' ? end.returnValue : end.failedReason)),
        Array.from({ length: 50 }, (_, i) => i),
      );
      assert.deepEqual(errors, []);
    } finally {
      await cleanup();
    }
  });

  it('closes a QueueEvents nobody needs any more, and makes it again when needed', TIMEOUT, async () => {
    try {
      const { name, queue } = freshQueue();
      const { watcher } = watcherFor({ idleMs: 200 });
      worker(name, async () => 'ok');
      const first = await queue.add('work', {});
      assert.equal((await watcher.wait(name, String(first.id))).state, 'completed');
      await until('the idle QueueEvents closed', async () => watcher.openQueues === 0 && (await listeners(name)) === 0);
      const second = await queue.add('work', {});
      assert.equal((await watcher.wait(name, String(second.id))).state, 'completed');
    } finally {
      await cleanup();
    }
  });

  it('on close rejects the waits still going and closes its QueueEvents, even while Redis is away', TIMEOUT, async () => {
    try {
      const { name, queue } = freshQueue();
      const jobs = await queue.addBulk([{ name: 'a', data: {} }, { name: 'b', data: {} }]);
      const up = watcherFor();
      const rejected = jobs.map((job) =>
        assert.rejects(up.watcher.wait(name, String(job.id)), (error: unknown) => error instanceof JobWatcherClosedError && error.code === 'job_watcher_closed'),
      );
      await until('the queue listened to', async () => (await listeners(name)) === 1);
      await up.watcher.close();
      await Promise.all(rejected);
      await until('its QueueEvents gone', async () => (await listeners(name)) === 0);
      await assert.rejects(up.watcher.wait(name, String(jobs[0]?.id)), JobWatcherClosedError);

      const down = watcherFor();
      const waiting = assert.rejects(down.watcher.wait(name, String(jobs[0]?.id)), JobWatcherClosedError);
      await until('the queue listened to', async () => (await listeners(name)) === 1);
      await redis.stop();
      // Bounded by closeMs whatever Redis does: the test's own timeout is the only clock here.
      await down.watcher.close();
      await waiting;
    } finally {
      await redis.restart();
      await cleanup();
    }
  });
});
