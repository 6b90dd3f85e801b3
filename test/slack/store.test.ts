import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SlackStore } from '../../src/slack/store.js';
import { redisForSuite } from '../support/redis.js';

describe('SlackStore (real redis-server)', () => {
  const suite = redisForSuite();

  it('keeps the steps of one delivery in one key that expires, and still reads a step kept the older way', async () => {
    const store = new SlackStore(suite.client, 's1');
    assert.equal(await store.delivered('sweep-a', 'posted'), false);
    await store.markDelivered('sweep-a', 'posted', '1700000001.000100');
    await store.markDelivered('sweep-a', 'started');
    assert.equal(await store.deliveredValue('sweep-a', 'posted'), '1700000001.000100');
    assert.equal(await store.delivered('sweep-a', 'started'), true);
    assert.equal(await store.delivered('sweep-a', 'report'), false);
    assert.deepEqual(await suite.client.keys('s1:slack:delivered:*'), ['s1:slack:delivered:sweep-a']);
    const ttl = await suite.client.ttl('s1:slack:delivered:sweep-a');
    assert.ok(ttl > 6 * 24 * 3600 && ttl <= 7 * 24 * 3600, `TTL ${ttl} s`);
    // A delivery in flight while the bot was upgraded recorded its steps one key each.
    await suite.client.set('s1:slack:delivered:sweep-b:report', '1700000002.000100', 'EX', 60);
    assert.equal(await store.deliveredValue('sweep-b', 'report'), '1700000002.000100');
    assert.equal(await store.delivered('sweep-b', 'files'), false);
  });
});
