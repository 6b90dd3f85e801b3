/**
 * The chunks of an agent that left (src/agent/orphaned-chunks.ts): a `from:all` copy waiting on the own queue of an
 * agent gone from the registry is failed with why, so its sweep's report comes; a listed agent's queue is left alone.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FlowProducer, Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { OrphanedChunks, leftReason } from '../../src/agent/orphaned-chunks.js';
import { agentQueueName, agentQueuesKey } from '../../src/queue/names.js';
import { AgentRegistry } from '../../src/queue/registry.js';
import { redisConnection, startRedis, type RedisServer } from '../support/redis.js';
import { until, waitFor } from '../support/wait.js';

describe('OrphanedChunks', () => {
  let redis: RedisServer;
  let connection: Redis;

  before(async () => {
    redis = await startRedis();
    connection = new Redis(redisConnection(redis.url));
  });
  after(async () => {
    connection?.disconnect();
    await redis?.destroy();
  });

  it('fails what waits on the queue of an agent that left, saying so, and forgets the queue once it is empty', async () => {
    const id = randomBytes(4).toString('hex');
    const prefix = `zstest${id}`;
    const registry = new AgentRegistry(connection, prefix);
    const now = new Date().toISOString();
    await registry.heartbeat({ group: 'lab', id: `here-${id}`, cidrs: ['198.18.0.0/24'], version: 't', icmp: true, load: { active: 0, concurrency: 1 }, startedAt: now, lastSeen: now });
    const gone = agentQueueName('lab', `gone:${id}`);
    const here = agentQueueName('lab', `here-${id}`);
    assert.doesNotMatch(gone, /:/, 'a queue name holds no colon, whatever the agent id');
    await connection.sadd(agentQueuesKey(prefix), gone, here);
    const bull = redisConnection(redis.url);
    const flows = new FlowProducer({ connection: bull });
    const sweepId = `sweep-${id}`;
    await flows.add({
      name: 'report',
      queueName: `reports-${id}`,
      data: {},
      opts: { jobId: sweepId },
      children: [gone, here].map((queueName, index) => ({
        name: 'chunk',
        queueName,
        data: { index },
        opts: { jobId: `${sweepId}.${index}`, ignoreDependencyOnFailure: true },
      })),
    });
    const orphans = new OrphanedChunks({ connection, registry, self: `lab/me-${id}`, log: pino({ level: 'silent' }), prefix });
    const goneQueue = new Queue(gone, { connection: bull });
    const hereQueue = new Queue(here, { connection: bull });
    try {
      await orphans.look();
      const failed = await waitFor('the orphaned chunk failed', async () => {
        const job = await Job.fromId(goneQueue, `${sweepId}.0`);
        return job?.failedReason ? job : undefined;
      });
      assert.equal(failed.failedReason, leftReason('lab', `gone:${id}`));
      assert.equal(failed.failedReason, `agent gone:${id} of lab left before it ran this chunk`);
      // The agent still listed keeps its chunk for itself.
      assert.equal(await hereQueue.getWaitingCount(), 1);
      await until('the empty queue forgotten', async () => {
        await orphans.look();
        return !(await connection.smembers(agentQueuesKey(prefix))).includes(gone);
      });
      assert.deepEqual(await connection.smembers(agentQueuesKey(prefix)), [here]);
    } finally {
      await orphans.stop();
      await Promise.all([goneQueue.close(), hereQueue.close(), flows.close()]);
    }
  });
});
