/**
 * Redis stays bounded under watches: a real bot process, a real agent probing loopback, a real redis-server and the
 * fake Slack. Watches run every second for hundreds of runs (four watches, so that 400 runs take minutes, not
 * hours), after a burst of slash-command sweeps; the finished jobs of every queue stay within their count (here
 * lowered to 50 with ZENSWEEP_JOBS_KEPT, and the history to 50 sweeps, so that the caps are reached within the
 * test), and the number of keys does not grow with the number of runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { REPORT_QUEUE, partQueueName, sweepQueueName } from '../../src/queue/names.js';
import { WATCH_QUEUE, WatchStore } from '../../src/queue/watch-store.js';
import { DELIVERY_QUEUE } from '../../src/slack/delivery/jobs.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { commandFields, postSigned, startBot, type BotProcess } from '../support/bot.js';
import { FakeSlack } from '../support/fake-slack.js';
import { until } from '../support/wait.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const KEPT = 50;
const HISTORY = 50;
const WATCHES = 4;
const SWEEPS = 60;
const FIRST_SAMPLE_RUNS = 100;
const LAST_SAMPLE_RUNS = 400;
const QUEUES = [WATCH_QUEUE, REPORT_QUEUE, partQueueName('lo'), sweepQueueName('lo'), DELIVERY_QUEUE];

interface Sample {
  runs: number;
  keys: { zensweep: number; bull: number };
  /** Keys by their first two parts (`zensweep:history`, `bull:watch-runs`), for the message of a failure. */
  byKind: Record<string, number>;
  sets: Record<string, { completed: number; failed: number }>;
}

describe('Redis under watches (real bot, agent and redis-server, fake Slack)', () => {
  let redis: RedisServer;
  let client: Redis;
  let slack: FakeSlack;
  let agent: AgentProcess;
  let bot: BotProcess;
  const queues: Queue[] = [];

  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    slack = await FakeSlack.start();
    agent = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/16', env: { ZENSWEEP_HISTORY_COUNT: String(HISTORY) } });
    bot = await startBot({
      redisUrl: redis.url,
      slack,
      env: {
        ZENSWEEP_WATCH_MIN_INTERVAL_MS: '1000',
        ZENSWEEP_WATCH_RUN_TIMEOUT_MS: '8000',
        ZENSWEEP_JOBS_KEPT: String(KEPT),
        ZENSWEEP_MAX_SWEEPS_PER_USER: '1000',
      },
    });
    for (const name of QUEUES) queues.push(new Queue(name, { connection: client }));
  });

  after(async () => {
    await bot?.stop();
    await agent?.kill();
    await Promise.all(queues.map((q) => q.close()));
    client?.disconnect();
    await slack?.close();
    await redis?.destroy();
  });

  const command = async (text: string, overrides: Record<string, string> = {}): Promise<string> => {
    const answer = await postSigned(bot.eventsUrl, commandFields(text, { response_url: slack.responseUrl(), ...overrides }));
    assert.equal(answer.status, 200, answer.body);
    return (JSON.parse(answer.body) as { text: string }).text;
  };

  const countKeys = async (): Promise<Pick<Sample, 'keys' | 'byKind'>> => {
    const byKind: Record<string, number> = {};
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const kind = key.split(':').slice(0, 2).join(':');
        byKind[kind] = (byKind[kind] ?? 0) + 1;
      }
    } while (cursor !== '0');
    const total = (prefix: string): number => Object.entries(byKind).reduce((n, [kind, count]) => n + (kind.startsWith(prefix) ? count : 0), 0);
    return { keys: { zensweep: total('zensweep:'), bull: total('bull:') }, byKind };
  };

  const sample = async (ids: string[]): Promise<Sample> => {
    const store = new WatchStore(client, queues[0] as Queue);
    let runs = 0;
    for (const id of ids) runs += (await store.get(id))?.state?.runs ?? 0;
    const sets: Sample['sets'] = {};
    for (const queue of queues) {
      const counts = await queue.getJobCounts('completed', 'failed');
      sets[queue.name] = { completed: counts.completed ?? 0, failed: counts.failed ?? 0 };
    }
    return { runs, ...(await countKeys()), sets };
  };

  const totalRuns = async (ids: string[]): Promise<number> => (await sample(ids)).runs;

  it('keeps the finished jobs of every queue within their count and the keys from growing with the runs', { timeout: 480_000 }, async () => {
    const ids: string[] = [];
    for (let i = 0; i < WATCHES; i += 1) {
      const ack = await command(`watch 127.0.8.${4 * i}/30 every:1s confirm:2`, { channel_id: `C0KEEP${i}` });
      const id = /\(id `(w[0-9a-f]{6})`\)/.exec(ack)?.[1];
      assert.ok(id, ack);
      ids.push(id);
    }
    // A burst of sweeps from the slash command (each with its delivery job), beyond what the queues keep.
    for (let i = 0; i < SWEEPS; i += 1) {
      assert.match(await command('127.0.9.0/30 retries:0', { user_id: `U0LOAD${i}`, channel_id: 'C0LOAD' }), /^Sweeping/);
    }
    await until('every report of the burst delivered', async () => (await queues[3]?.getJobCounts('completed'))?.completed === KEPT, { timeoutMs: 180_000 });
    await until(`${FIRST_SAMPLE_RUNS} watch runs`, async () => (await totalRuns(ids)) >= FIRST_SAMPLE_RUNS, { timeoutMs: 240_000 });
    const first = await sample(ids);
    await until(`${LAST_SAMPLE_RUNS} watch runs`, async () => (await totalRuns(ids)) >= LAST_SAMPLE_RUNS, { timeoutMs: 420_000 });
    const last = await sample(ids);
    // The figures, for whoever reads the test's output.
    console.log(`retention sample at ${first.runs} runs: ${JSON.stringify({ keys: first.keys, sets: first.sets, byKind: first.byKind })}`);
    console.log(`retention sample at ${last.runs} runs: ${JSON.stringify({ keys: last.keys, sets: last.sets, byKind: last.byKind })}`);

    for (const at of [first, last]) {
      for (const [name, set] of Object.entries(at.sets)) {
        assert.ok(set.completed <= KEPT, `${name}: ${set.completed} completed jobs kept at ${at.runs} runs (cap ${KEPT})`);
        assert.ok(set.failed <= KEPT, `${name}: ${set.failed} failed jobs kept at ${at.runs} runs (cap ${KEPT})`);
      }
    }
    // The caps were reached, not merely never approached: every queue had more finished jobs than it keeps.
    assert.equal(last.sets[WATCH_QUEUE]?.completed, KEPT);
    assert.equal(last.sets[REPORT_QUEUE]?.completed, KEPT);
    assert.equal(last.sets[partQueueName('lo')]?.completed, KEPT);
    assert.equal(last.sets[sweepQueueName('lo')]?.completed, KEPT);
    assert.equal(last.sets[DELIVERY_QUEUE]?.completed, KEPT);
    // Three hundred more runs later, no more keys than a small constant (a run in progress has a few of its own).
    const growth = { zensweep: last.keys.zensweep - first.keys.zensweep, bull: last.keys.bull - first.keys.bull };
    const why = `${JSON.stringify(first.byKind)} → ${JSON.stringify(last.byKind)}`;
    assert.ok(growth.zensweep <= 10, `zensweep:* keys grew by ${growth.zensweep} in ${last.runs - first.runs} runs: ${why}`);
    assert.ok(growth.bull <= 20, `bull:* keys grew by ${growth.bull} in ${last.runs - first.runs} runs: ${why}`);
    // And a bound that does not depend on the runs: the history's cap, the watches, the burst's own keys (each with
    // its TTL), and the finished jobs each queue keeps.
    assert.ok(last.keys.zensweep <= HISTORY + 8 * SWEEPS + 8 * WATCHES + 20, `zensweep:* keys: ${last.keys.zensweep}: ${why}`);
    assert.ok(last.keys.bull <= QUEUES.length * 2 * KEPT * 3 + 100, `bull:* keys: ${last.keys.bull}: ${why}`);
  });
});
