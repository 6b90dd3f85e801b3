/**
 * Upgrading a Redis that an older version filled (keys without hash tags, watch schedules on the untagged queue):
 * history, baselines and watches are found under their tagged names after `moveOldKeys` and `WatchStore.upgrade`, with
 * their TTLs, each watch scheduled once on the tagged queue at its own interval, nothing overwritten, and a second
 * pass moves nothing. Real redis-server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { summarize } from '../../src/core/report.js';
import { HistoryStore, recordHosts, targetKey } from '../../src/queue/history.js';
import type { SweepRecord } from '../../src/queue/history.js';
import { moveOldKeys } from '../../src/queue/key-layout.js';
import { WATCH_QUEUE, WatchStore, newWatchId, type WatchRecord } from '../../src/queue/watch-store.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const PREFIX = 'zsold';

describe('moving an older version’s keys to their tagged names (real redis-server)', () => {
  let redis: RedisServer;
  let client: Redis;

  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
  });
  after(async () => {
    client?.disconnect();
    await redis?.destroy();
  });

  it('finds history, baselines and watches again, scheduled once on the new queue, and moves nothing twice', async () => {
    const now = Date.now();
    const record: SweepRecord = {
      id: 'old1',
      requestedBy: 'U1',
      at: new Date(now - 1000).toISOString(),
      targets: ['198.18.0.0/30'],
      targetKey: targetKey(['198.18.0.0/30']),
      groups: ['lo'],
      summary: summarize([]),
      durationMs: 5,
      complete: true,
      ...recordHosts([]),
    };
    // As the older version wrote them: untagged names, JSON text.
    await client.set(`${PREFIX}:history:sweep:old1`, JSON.stringify(record), 'EX', 3600);
    await client.zadd(`${PREFIX}:history:all`, now - 1000, 'old1');
    await client.zadd(`${PREFIX}:history:target:${record.targetKey}`, now - 1000, 'old1');
    await client.set(`${PREFIX}:baseline:C0OPS:before`, JSON.stringify({ name: 'before', owner: 'C0OPS', savedBy: 'U1', savedAt: new Date(now).toISOString(), record }));
    await client.zadd(`${PREFIX}:baselines:C0OPS`, now, 'before');
    const watch: WatchRecord = {
      v: 1,
      id: newWatchId(),
      channel: 'C0OPS',
      createdBy: 'U0ONCALL',
      createdAt: new Date(now).toISOString(),
      sweep: '198.18.0.0/30',
      everyMs: 120_000,
      confirm: 2,
      groups: ['lo'],
      outbox: [],
    };
    await client.set(`${PREFIX}:watch:${watch.id}`, JSON.stringify(watch));
    await client.sadd(`${PREFIX}:watches:C0OPS`, watch.id);
    await client.sadd(`${PREFIX}:watches-of:U0ONCALL`, watch.id);
    await client.hset(`${PREFIX}:watch-owners`, watch.id, 'C0OPS U0ONCALL');
    const oldQueue = new Queue('watch-runs', { connection: client });
    await oldQueue.upsertJobScheduler(watch.id, { every: watch.everyMs }, { name: 'run', data: { v: 1, watchId: watch.id } });
    // A key already under its new name is never overwritten by an old one.
    await client.set(`${PREFIX}:{history}:sweep:kept`, 'new');
    await client.set(`${PREFIX}:history:sweep:kept`, 'old');
    // Not ZenSweep's, or another prefix's: left alone.
    await client.set('other:history:sweep:x', '1');

    assert.equal(await moveOldKeys(client, PREFIX), 9);
    assert.equal(await client.get(`${PREFIX}:{history}:sweep:kept`), 'new');
    assert.equal(await client.get(`${PREFIX}:history:sweep:kept`), 'old');
    assert.equal(await client.get('other:history:sweep:x'), '1');
    const ttl = await client.ttl(`${PREFIX}:{history}:sweep:old1`);
    assert.ok(ttl > 3500 && ttl <= 3600, `TTL kept: ${ttl}`);

    const history = new HistoryStore(client, { prefix: PREFIX });
    assert.deepEqual((await history.recent(10)).map((r) => r.id), ['old1']);
    assert.equal((await history.lastOf(record.targetKey))?.id, 'old1');
    assert.deepEqual((await history.listBaselines('C0OPS')).map((b) => b.name), ['before']);

    const queue = new Queue(WATCH_QUEUE, { connection: client });
    try {
      const store = new WatchStore(client, queue, PREFIX);
      assert.ok((await store.upgrade()) >= 1);
      assert.equal((await store.get(watch.id))?.sweep, '198.18.0.0/30');
      assert.deepEqual((await store.list('C0OPS')).watches.map((w) => w.id), [watch.id]);
      const scheduled = await queue.getJobSchedulers();
      assert.deepEqual(scheduled.map((s) => [s.key, Number(s.every)]), [[watch.id, 120_000]]);
      assert.deepEqual(await oldQueue.getJobSchedulers(), [], 'no schedule left on the old queue');
      // Removable by id, as any watch: its owner and creator entries moved with it.
      assert.ok(await store.removeById(watch.id, 'C0OPS'));
      assert.equal(await client.scard(`${PREFIX}:{watches}:user:U0ONCALL`), 0);
    } finally {
      await queue.close();
      await oldQueue.close();
    }

    // A second pass: only the key that was not moved (its new name was taken) is still there, and stays.
    assert.equal(await moveOldKeys(client, PREFIX), 0);
  });
});
