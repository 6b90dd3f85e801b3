import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RequestSlots, TooManyRunningError } from '../../src/door/slots.js';
import { redisForSuite } from '../support/redis.js';
import { until } from '../support/wait.js';

describe('RequestSlots (real redis-server)', () => {
  const suite = redisForSuite();

  it('starts exactly the limit out of a burst taken at once on several connections', async () => {
    // Ten connections, as ten bots would take them: the count is Redis's, in one script.
    const clients = Array.from({ length: 10 }, () => new Redis(suite.server.url));
    try {
      const slots = clients.map((client) => new RequestSlots(client, 3, 'burst'));
      const taken = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => (slots[i % 10] as RequestSlots).take('U1', `r${i}`, 60_000)));
      const refused = taken.filter((t) => t.status === 'rejected');
      assert.equal(taken.length - refused.length, 3);
      for (const r of refused) {
        assert.ok(r.status === 'rejected' && r.reason instanceof TooManyRunningError);
        assert.match(String((r.reason as Error).message), /^you already have 3 requests running \(sweeps, traces and diags; at most 3\): /);
      }
      assert.equal((await (slots[0] as RequestSlots).held('U1')).length, 3);
    } finally {
      for (const client of clients) client.disconnect();
    }
  });

  it('frees a slot when released, takes the same request again as a no-op, and counts each requester apart', async () => {
    const slots = new RequestSlots(suite.client, 1, 'apart');
    const first = await slots.take('U1', 'a', 60_000);
    await slots.take('U1', 'a', 60_000);
    await assert.rejects(slots.take('U1', 'b', 60_000), TooManyRunningError);
    await slots.take('U2', 'b', 60_000);
    await slots.release(first);
    await slots.release(first);
    await slots.take('U1', 'c', 60_000);
    assert.deepEqual(await slots.held('U1'), ['c']);
  });

  it('lets each slot expire at its own time: a later slot neither lengthens nor shortens an earlier one', async () => {
    const slots = new RequestSlots(suite.client, 2, 'expiry');
    await slots.take('U1', 'short', 1000);
    await slots.take('U1', 'long', 60_000);
    await assert.rejects(slots.take('U1', 'third', 60_000), TooManyRunningError);
    // The short one goes by itself (a bot that died before it ended its request); the long one stays.
    await until('the short slot expired', async () => (await slots.held('U1')).length === 1, { timeoutMs: 10_000 });
    assert.deepEqual(await slots.held('U1'), ['long']);
    await slots.take('U1', 'third', 60_000);
    // The key lives as long as its longest slot, no longer.
    const ttl = await suite.client.pttl('expiry:running:U1');
    assert.ok(ttl > 50_000 && ttl <= 60_000, `key TTL ${ttl} ms`);
  });
});
