/**
 * The watch store against a real redis-server: the per-channel limit, schedules that live in Redis, records read
 * back through their schema, the run lock and mutes that end by themselves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { BadRecord } from '../../src/queue/records.js';
import { RETENTION } from '../../src/queue/retention.js';
import { TooManyWatchesError, WatchStore, newWatchId, type WatchLimits, type WatchRecord } from '../../src/queue/watch-store.js';
import { startRedis, type RedisServer } from '../support/redis.js';

/** Caps high enough to leave the one a test is about as the only one that matters. */
function caps(overrides: Partial<WatchLimits> = {}): WatchLimits {
  return { perChannel: 1000, perUser: 1000, total: 1000, ...overrides };
}

function record(channel: string, overrides: Partial<WatchRecord> = {}): WatchRecord {
  return {
    v: 1,
    id: newWatchId(),
    channel,
    createdBy: 'U0ONCALL',
    createdAt: new Date().toISOString(),
    sweep: '10.0.1.0/24 tcp:5432',
    everyMs: 300_000,
    confirm: 2,
    groups: ['prod'],
    outbox: [],
    ...overrides,
  };
}

describe('WatchStore', () => {
  let redis: RedisServer;
  let client: Redis;
  let queue: Queue;
  let store: WatchStore;
  const bad: BadRecord[] = [];

  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    queue = new Queue(`watch-store-test-${process.pid}`, { connection: client });
    store = new WatchStore(client, queue, `test${process.pid}`, (b) => bad.push(b));
  });

  after(async () => {
    await queue?.obliterate({ force: true });
    await queue?.close();
    client?.disconnect();
    await redis?.destroy();
  });

  it('creates watches with a schedule and a first run, up to the channel’s limit', async () => {
    const first = record('C0LIMIT');
    const second = record('C0LIMIT');
    await store.create(first, caps({ perChannel: 2 }));
    await store.create(second, caps({ perChannel: 2 }));
    await assert.rejects(
      store.create(record('C0LIMIT'), caps({ perChannel: 2 })),
      (e: unknown) =>
        e instanceof TooManyWatchesError &&
        e.cap === 'channel' &&
        e.message === 'this channel already has 2 watches, the most it may have: remove one with /sweep unwatch ID (see /sweep watches)',
    );
    await store.create(record('C0OTHER'), caps({ perChannel: 2 }));
    assert.deepEqual((await store.list('C0LIMIT')).watches.map((w) => w.id).sort(), [first.id, second.id].sort());
    const scheduler = await queue.getJobScheduler(first.id);
    assert.equal(scheduler?.every, 300_000);
    assert.ok(await queue.getJob(`${first.id}-first`), 'the first run is queued at once');
  });

  it('gives every run, scheduled or first, the watch runs’ retention by age and count', async () => {
    const watch = record('C0KEEP');
    await store.create(watch, caps());
    const scheduler = await queue.getJobScheduler(watch.id);
    assert.deepEqual(scheduler?.template?.opts?.removeOnComplete, RETENTION.watchRuns.removeOnComplete);
    assert.deepEqual(scheduler?.template?.opts?.removeOnFail, RETENTION.watchRuns.removeOnFail);
    const first = await queue.getJob(`${watch.id}-first`);
    assert.deepEqual(first?.opts.removeOnComplete, RETENTION.watchRuns.removeOnComplete);
    assert.deepEqual(first?.opts.removeOnFail, RETENTION.watchRuns.removeOnFail);
  });

  it('caps the watches of one user across channels and DMs, and all watches, saying which cap and how to free one', async () => {
    const limits = caps({ perUser: 2, total: 1000 });
    await store.create(record('C0USERA', { createdBy: 'U0CAPPED' }), limits);
    await store.create(record('D0USERDM', { createdBy: 'U0CAPPED' }), limits);
    await assert.rejects(
      store.create(record('C0USERB', { createdBy: 'U0CAPPED' }), limits),
      (e: unknown) =>
        e instanceof TooManyWatchesError &&
        e.cap === 'user' &&
        e.message ===
          'you already have 2 watches, the most one person may have: remove one with /sweep unwatch ID in its channel (yours are in C0USERA, D0USERDM)',
    );
    await store.create(record('C0USERB', { createdBy: 'U0OTHERUSER' }), limits);
    assert.deepEqual((await store.list('C0USERB')).watches.map((w) => w.createdBy), ['U0OTHERUSER']);

    const total = Number(await client.hlen(`test${process.pid}:{watches}:owners`));
    await assert.rejects(
      store.create(record('C0TOTAL', { createdBy: 'U0NEW' }), caps({ total })),
      (e: unknown) => e instanceof TooManyWatchesError && e.cap === 'total' && /^this bot already runs \d+ watches, the most it may run: remove one/.test(e.message),
    );
    assert.deepEqual((await store.list('C0TOTAL')).watches, []);
  });

  it('holds the caps under a burst: 20 creates at once with room for 5 make exactly 5', async () => {
    const limits = caps({ perUser: 5 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => store.create(record(`C0BURST${i % 4}`, { createdBy: 'U0BURST' }), limits)),
    );
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 5);
    assert.ok(outcomes.every((o) => o.status === 'fulfilled' || (o.reason instanceof TooManyWatchesError && o.reason.cap === 'user')));
    assert.equal(await client.scard(`test${process.pid}:{watches}:user:U0BURST`), 5);
  });

  it('removes a watch with its schedule; a run that saves afterwards does not bring it back', async () => {
    const watch = record('C0GONE');
    await store.create(watch, caps());
    await store.remove(watch);
    assert.equal(await store.get(watch.id), undefined);
    assert.equal(await queue.getJobScheduler(watch.id), undefined);
    assert.equal(await store.save({ ...watch, lastRun: { at: new Date().toISOString(), outcome: 'unchanged' } }), false);
    assert.equal(await store.exists(watch.id), false);
    assert.deepEqual(await store.list('C0GONE'), { watches: [], unreadable: [] });
  });

  it('lists a stored record that is not a watch apart, by id, saying so once, and removes it by id with all it has', async () => {
    const good = record('C0BAD');
    await store.create(good, caps());
    const broken = record('C0BAD', { createdBy: 'U0BROKEN' });
    await store.create(broken, caps());
    await store.mute(broken.id, 60_000);
    const key = `test${process.pid}:{watches}:watch:${broken.id}`;
    await client.set(key, JSON.stringify({ ...broken, everyMs: 'often' }));
    bad.length = 0;
    const listed = await store.list('C0BAD');
    assert.deepEqual(listed.watches.map((w) => w.id), [good.id]);
    assert.deepEqual(listed.unreadable, [{ id: broken.id, reason: 'everyMs: Invalid input: expected number, received string' }]);
    assert.equal(bad.length, 1);
    assert.equal(bad[0]?.what, 'watch record');
    assert.equal(await store.exists(broken.id), true, 'left alone, not deleted, until asked');

    assert.equal(await store.removeById(broken.id, 'C0ELSEWHERE'), undefined, 'not from another channel');
    assert.equal(await store.exists(broken.id), true);
    const release = await store.lock(broken.id, 60_000);
    assert.ok(release);
    assert.deepEqual(await store.removeById(broken.id, 'C0BAD'), { id: broken.id });
    for (const suffix of ['', ':mute', ':lock']) assert.equal(await client.exists(`${key}${suffix}`), 0, `watch${suffix}`);
    assert.equal(await queue.getJobScheduler(broken.id), undefined);
    assert.equal(await client.sismember(`test${process.pid}:{watches}:channel:C0BAD`, broken.id), 0);
    assert.equal(await client.sismember(`test${process.pid}:{watches}:user:U0BROKEN`, broken.id), 0);
    assert.equal(await client.hexists(`test${process.pid}:{watches}:owners`, broken.id), 0);
    assert.deepEqual(await store.list('C0BAD'), { watches: [good], unreadable: [] });

    // Not even JSON, and made by an older version (no entry in the owners hash): found by its channel all the same.
    const older = record('C0BAD');
    await client.set(`test${process.pid}:{watches}:watch:${older.id}`, 'hunter2-planted');
    await client.sadd(`test${process.pid}:{watches}:channel:C0BAD`, older.id);
    assert.deepEqual((await store.list('C0BAD')).unreadable, [{ id: older.id, reason: 'not JSON' }]);
    assert.deepEqual(await store.removeById(older.id, 'C0BAD'), { id: older.id });
    assert.deepEqual((await store.list('C0BAD')).unreadable, []);
    assert.deepEqual((await store.removeById(good.id, 'C0BAD'))?.sweep, good.sweep);

    // An id whose record is gone altogether (evicted, deleted by hand) leaves the lists, and the caps' counts.
    const evicted = record('C0BAD', { createdBy: 'U0EVICTED' });
    await store.create(evicted, caps());
    await client.del(`test${process.pid}:{watches}:watch:${evicted.id}`);
    assert.deepEqual(await store.list('C0BAD'), { watches: [], unreadable: [] });
    assert.equal(await client.scard(`test${process.pid}:{watches}:user:U0EVICTED`), 0);
    assert.equal(await client.hexists(`test${process.pid}:{watches}:owners`, evicted.id), 0);
    assert.equal(await queue.getJobScheduler(evicted.id), undefined);
  });

  it('brings watches of an older version under the caps and the retention', async () => {
    const old = record('C0OLD', { createdBy: 'U0OLD' });
    await client.set(`test${process.pid}:{watches}:watch:${old.id}`, JSON.stringify(old));
    await client.sadd(`test${process.pid}:{watches}:channel:C0OLD`, old.id);
    await queue.upsertJobScheduler(old.id, { every: old.everyMs }, { name: 'run', data: { v: 1, watchId: old.id } });
    assert.equal((await queue.getJobScheduler(old.id))?.template?.opts?.removeOnComplete, undefined);
    assert.ok((await store.upgrade()) >= 2);
    assert.equal(await client.hget(`test${process.pid}:{watches}:owners`, old.id), 'C0OLD U0OLD');
    assert.equal(await client.sismember(`test${process.pid}:{watches}:user:U0OLD`, old.id), 1);
    assert.deepEqual((await queue.getJobScheduler(old.id))?.template?.opts?.removeOnComplete, RETENTION.watchRuns.removeOnComplete);
    assert.equal(await store.upgrade(), 0, 'nothing left to do');
  });

  it('lets one run hold a watch at a time, and only the holder release it', async () => {
    const release = await store.lock('wabcdef', 10_000);
    assert.ok(release);
    assert.equal(await store.lock('wabcdef', 10_000), undefined);
    await release();
    const again = await store.lock('wabcdef', 10_000);
    assert.ok(again, 'free once released');
    await again();
  });

  it('ends a mute by itself, or on request', async () => {
    await store.mute('w123456', 300);
    assert.ok(await store.mutedUntil('w123456'));
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(await store.mutedUntil('w123456'), undefined);
    await store.mute('w123456', 60_000);
    await store.mute('w123456', 0);
    assert.equal(await store.mutedUntil('w123456'), undefined);
  });
});
