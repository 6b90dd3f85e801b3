/**
 * Many traces waiting at once through HostJobs (issue #16, item 5): the Redis connections of the waiting process do
 * not grow with the number of waiting requests. Real redis-server of its own, real BullMQ; the traces wait on a
 * group's queue that no agent consumes until a worker of the test's own answers them all.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { TraceReport } from '../../src/core/trace.js';
import { parseTraceTokens } from '../../src/core/trace-grammar.js';
import { HostJobs } from '../../src/queue/host-jobs.js';
import type { HostJob } from '../../src/queue/host-jobs.js';
import { bullmq } from '../../src/queue/load.js';
import { sweepQueueName } from '../../src/queue/names.js';
import { until } from '../support/wait.js';
import { redisForSuite } from '../support/redis.js';

const TIMEOUT = { timeout: 180_000 };
const WAITING = 50;
/** How long the connections are sampled after the waits start, in ms: more than one poll of the jobs. */
const SAMPLE_MS = 4000;

/** What an agent would return for a trace of `target` that reached it in one hop. */
function reached(target: string): TraceReport {
  return {
    target,
    address: target,
    paths: [{ mode: 'icmp', end: 'reached', hops: [{ ttl: 1, sent: 1, lossPct: 0, responders: [{ address: target }] }] }],
    conclusion: `${target} answered`,
  } as unknown as TraceReport;
}

describe('HostJobs with many traces waiting (real redis-server, real BullMQ)', () => {
  const suite = redisForSuite();

  /** Every client of the test's redis-server but the one asking: name of each. */
  async function clients(): Promise<string[]> {
    const self = String(await suite.client.client('ID'));
    const list = String(await suite.client.client('LIST'));
    return list
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith(`id=${self} `))
      .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '');
  }

  /** The most clients seen over `ms`, sampled every 100 ms. */
  async function mostClients(ms: number): Promise<{ count: number; names: string[] }> {
    let most: string[] = [];
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const now = await clients();
      if (now.length > most.length) most = now;
      await new Promise((r) => setTimeout(r, 100));
    }
    return { count: most.length, names: most };
  }

  it('holds as many connections with 50 traces waiting as with 1, then gives each its own report', TIMEOUT, async () => {
    // The waiting process's connection, as the bot's: everything it opens is counted on the server.
    const bot = new Redis(suite.server.url, { maxRetriesPerRequest: null, connectionName: 'bot' });
    const jobs = new HostJobs(bot);
    const submit = (i: number): Promise<HostJob> =>
      jobs.submit({ kind: 'trace', request: parseTraceTokens([`127.0.0.${i}`, 'icmp']) }, { group: 'lo' }, 'test');
    const waits: Promise<unknown>[] = [];
    try {
      await bot.ping();
      const idle = (await clients()).length;

      const first = await submit(1);
      waits.push(jobs.wait(first, 120_000));
      await until('the first trace is listened for', async () => (await clients()).some((name) => name.endsWith(':qe')));
      const one = await mostClients(SAMPLE_MS);

      const rest = await Promise.all(Array.from({ length: WAITING - 1 }, (_, i) => submit(i + 2)));
      waits.push(...rest.map((job) => jobs.wait(job, 120_000)));
      const fifty = await mostClients(SAMPLE_MS);
      const report = `idle ${idle}, 1 waiting ${one.count} (${one.names.join(' ')}), ${WAITING} waiting ${fifty.count}`;
      process.stderr.write(`# connections of the waiting process: ${report}\n`);
      assert.ok(fifty.count <= one.count + 1, report);

      // An agent comes: every waiter gets the report of its own trace.
      const agentConnection = new Redis(suite.server.url, { maxRetriesPerRequest: null, connectionName: 'agent' });
      const worker = new bullmq.Worker(sweepQueueName('lo'), async (job: Job<HostJob>) => reached(job.data.target), {
        connection: agentConnection,
        concurrency: 10,
      });
      try {
        const reports = (await Promise.all(waits)) as TraceReport[];
        assert.deepEqual(
          reports.map((r) => r.target),
          Array.from({ length: WAITING }, (_, i) => `127.0.0.${i + 1}`),
        );
        assert.ok(reports.every((r) => r.paths[0]?.end === 'reached'));
      } finally {
        await worker.close();
        agentConnection.disconnect();
      }
    } finally {
      await jobs.close();
      await Promise.allSettled(waits);
      bot.disconnect();
    }
  });
});
