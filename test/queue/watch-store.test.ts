/**
 * The watch store against a real redis-server: the per-channel limit, schedules that live in Redis, records read
 * back through their schema, the run lock and mutes that end by themselves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { BadRecord } from '../../src/queue/records.js';
import { WatchStore, newWatchId, type WatchRecord } from '../../src/queue/watch-store.js';
import { startRedis, type RedisServer } from '../support/redis.js';

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
    assert.equal(await store.create(first, 2), true);
    assert.equal(await store.create(second, 2), true);
    assert.equal(await store.create(record('C0LIMIT'), 2), false, 'a third is refused');
    assert.equal(await store.create(record('C0OTHER'), 2), true, 'another channel has its own limit');
    assert.deepEqual((await store.list('C0LIMIT')).map((w) => w.id).sort(), [first.id, second.id].sort());
    const scheduler = await queue.getJobScheduler(first.id);
    assert.equal(scheduler?.every, 300_000);
    assert.ok(await queue.getJob(`${first.id}-first`), 'the first run is queued at once');
  });

  it('removes a watch with its schedule; a run that saves afterwards does not bring it back', async () => {
    const watch = record('C0GONE');
    await store.create(watch, 10);
    await store.remove(watch);
    assert.equal(await store.get(watch.id), undefined);
    assert.equal(await queue.getJobScheduler(watch.id), undefined);
    assert.equal(await store.save({ ...watch, lastRun: { at: new Date().toISOString(), outcome: 'unchanged' } }), false);
    assert.equal(await store.exists(watch.id), false);
    assert.deepEqual(await store.list('C0GONE'), []);
  });

  it('skips a stored record that is not a watch, saying so once, and lists the rest', async () => {
    const good = record('C0BAD');
    await store.create(good, 10);
    const broken = record('C0BAD');
    await store.create(broken, 10);
    await client.set(`test${process.pid}:watch:${broken.id}`, JSON.stringify({ ...broken, everyMs: 'often' }));
    bad.length = 0;
    assert.deepEqual((await store.list('C0BAD')).map((w) => w.id), [good.id]);
    assert.equal(bad.length, 1);
    assert.equal(bad[0]?.what, 'watch record');
    assert.match(bad[0]?.reason ?? '', /^everyMs: /);
    assert.equal(await store.exists(broken.id), true, 'left alone, not deleted');
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
