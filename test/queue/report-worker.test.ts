import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FlowProducer, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { DEFAULT_OPTIONS } from '../../src/core/request.js';
import type { HostResult } from '../../src/core/report.js';
import type { ChunkResult, ReportJob } from '../../src/queue/jobs.js';
import { reportProcessor } from '../../src/queue/report-worker.js';
import { ResultStore } from '../../src/queue/results.js';
import { redisConnection, startRedis, type RedisServer } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

describe('reportProcessor', () => {
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

  it('lists a chunk given up past its time bound among the failures, with its reason, and keeps its hosts', async () => {
    const id = randomBytes(4).toString('hex');
    const prefix = `zstest${id}`;
    const sweepId = `sweep-${id}`;
    const group = 'lab';
    const reportQueue = `reports-${id}`;
    const chunkQueue = `sweep.${group}-${id}`;
    const store = new ResultStore(connection, prefix);
    const reason = 'gave up after 21.0 s, past its time bound of 20.9 s';
    const hostOf = (index: number): HostResult => ({
      ip: `198.18.4.${index + 10}`,
      state: 'silent',
      icmp: { sent: 1, received: 0, lossPct: 100 },
      ports: [{ port: 22, state: 'filtered', attempts: 1, ...(index === 1 ? { unanswered: true as const } : {}) }],
      ...(index === 1 ? { unfinished: true as const } : {}),
    });
    const report: ReportJob = {
      v: 1,
      sweepId,
      targets: ['198.18.4.10-11'],
      options: { ...DEFAULT_OPTIONS, ports: [22] },
      groups: [group],
      requestedBy: 'U1',
      addresses: 2,
      createdAt: new Date().toISOString(),
    };
    const bull = redisConnection(redis.url);
    const flows = new FlowProducer({ connection: bull });
    const chunks = new Worker(
      chunkQueue,
      async (job): Promise<ChunkResult> => {
        const index = (job.data as { index: number }).index;
        await store.saveChunk(sweepId, index, { hosts: [hostOf(index)], names: [] });
        return {
          index,
          group,
          agentId: 'a1',
          planned: 1,
          complete: index !== 1,
          icmp: { available: true },
          durationMs: 5,
          attempt: 1,
          stalled: 0,
          ...(index === 1 ? { reason } : {}),
        };
      },
      { connection: bull },
    );
    const reports = new Worker(reportQueue, reportProcessor({ connection, prefix }), { connection: bull });
    try {
      await flows.add({
        name: 'report',
        queueName: reportQueue,
        data: report,
        opts: { jobId: sweepId },
        children: [0, 1].map((index) => ({ name: 'chunk', queueName: chunkQueue, data: { index }, opts: { jobId: `${sweepId}.${index}` } })),
      });
      const built = await waitFor('the report', () => store.loadReport(sweepId), { timeoutMs: 30_000 });
      assert.equal(built.complete, false);
      assert.deepEqual(built.failures, [{ index: 1, group, reason }]);
      assert.deepEqual(built.hosts.map((h) => [h.ip, h.unfinished ?? false, h.ports[0]?.unanswered ?? false]), [
        ['198.18.4.10', false, false],
        ['198.18.4.11', true, true],
      ]);
    } finally {
      await Promise.all([chunks.close(), reports.close(), flows.close()]);
    }
  });
});
