/**
 * `zensweep agent` and `zensweep bot` when Redis goes away: real processes, a real redis-server that the tests stop
 * and start again, the fake Slack. A service asked to stop stops, whether Redis answers or not; an outage is a few
 * log lines, not a stream; and once Redis is back the services serve again without a restart.
 */
import assert from 'node:assert/strict';
import { afterEach, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { parseSweepText } from '../../src/core/grammar.js';
import { Dispatcher } from '../../src/queue/dispatcher.js';
import { sweepQueueName } from '../../src/queue/names.js';
import { bullmq } from '../../src/queue/load.js';
import { AgentRegistry } from '../../src/queue/registry.js';
import { startAgent } from '../support/agents.js';
import { commandFields, freePort, postSigned, startBot } from '../support/bot.js';
import { FakeSlack, type SlackCall } from '../support/fake-slack.js';
import { scrape } from '../support/metrics.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { spawnService, type ServiceProcess } from '../support/service.js';
import { until } from '../support/wait.js';

const PASSWORD = 'hunter2-outage-secret';
/** ZENSWEEP_REDIS_REMIND_MS of the outage test, and the reminders it waits for: an outage of about 10 s. */
const REMIND_MS = 3000;
const REMINDERS = 3;

type LogEvent = Record<string, unknown>;

/** The JSON lines a service wrote (from character `from` of its log on). */
function logEvents(service: ServiceProcess, from = 0): LogEvent[] {
  return service
    .log()
    .slice(from)
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogEvent);
}

function eventsNamed(service: ServiceProcess, name: string, from = 0): LogEvent[] {
  return logEvents(service, from).filter((e) => e.event === name);
}

/** SIGTERM, and how it ended: exit code and milliseconds until the process was gone (SIGKILL only after 60 s). */
async function terminate(service: ServiceProcess): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  const code = await service.stop(60_000);
  return { code, ms: Date.now() - started };
}

describe('zensweep agent and bot when Redis goes away (real processes, real redis-server)', () => {
  let redis: RedisServer | undefined;
  let slack: FakeSlack | undefined;
  const services: ServiceProcess[] = [];

  before(() => assertRoot());

  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.kill()));
    await slack?.close();
    await redis?.destroy();
  });

  it('exit 0 within 15 s of SIGTERM while Redis is down: an agent probing a chunk, an idle one, one that never reached it, the bot', { timeout: 120_000 }, async (t) => {
    redis = await startRedis();
    slack = await FakeSlack.start();
    const url = redis.url;
    const [busy, idle, bot] = await Promise.all([
      // 254 addresses at 10 packets/s: still probing when Redis goes.
      startAgent({ redisUrl: url, group: 'busy', cidrs: '127.0.0.0/24', rate: 10, concurrency: 1 }),
      startAgent({ redisUrl: url, group: 'idle', cidrs: '127.0.1.0/24' }),
      startBot({ redisUrl: url, slack }),
    ]);
    services.push(busy, idle, bot);

    const client = new Redis(url, { maxRetriesPerRequest: null });
    const dispatcher = new Dispatcher({ connection: client });
    const chunks = new bullmq.Queue(sweepQueueName('busy'), { connection: client });
    try {
      await dispatcher.submit(parseSweepText('127.0.0.0/24 vpc:busy retries:0'), 'test');
      await until('the busy agent probing its chunk', async () => (await chunks.getActiveCount()) > 0);
    } finally {
      await chunks.close();
      await dispatcher.close();
      client.disconnect();
    }

    await redis.stop();
    // An agent started during the outage: it waits for Redis to register, and must still stop when asked.
    const late = spawnService(['agent'], { PATH: process.env.PATH, REDIS_URL: url, ZENSWEEP_VPC: 'late', ZENSWEEP_CIDRS: '127.0.2.0/24' });
    services.push(late);
    const all = [busy, idle, late, bot];
    await until('every service noticing the outage', () => all.every((s) => eventsNamed(s, 'redis_down').length === 1));
    const named = [['busy agent', busy], ['idle agent', idle], ['late agent', late], ['bot', bot]] as const;
    const ends = await Promise.all(named.map(async ([name, service]) => ({ name, service, ...(await terminate(service)) })));
    // The times, for the record (the closing note quotes them); the test asserts only the 15 s bound.
    t.diagnostic(`exit after SIGTERM with Redis down: ${ends.map((e) => `${e.name} ${e.ms} ms`).join(', ')}`);
    for (const { name, service, ...end } of ends) {
      assert.equal(end.code, 0, `${name} exited ${end.code}:\n${service.log()}`);
      assert.ok(end.ms < 15_000, `${name} took ${end.ms} ms to exit:\n${service.log()}`);
    }
    // The busy agent gave its chunk the grace to finish before giving up on it; nothing could be handed back.
    const [busyStopped] = eventsNamed(busy, 'agent_stopped');
    assert.ok(busyStopped, busy.log());
    assert.deepEqual(busyStopped.unfinished, ['chunks', 'hand back', 'registry']);
    // An agent holding no chunk could not leave the registry; whether BullMQ's close of its workers also hung on Redis
    // depends on what their blocking connection was doing when Redis went (bullmq#4656), so either is fine.
    for (const agent of [idle, late]) {
      const unfinished = eventsNamed(agent, 'agent_stopped')[0]?.unfinished as string[] | undefined;
      assert.ok(unfinished?.includes('registry') && unfinished.every((step) => step === 'hand back' || step === 'registry'), agent.log());
    }
    assert.equal(eventsNamed(late, 'agent_started').length, 0, 'the late agent never reached Redis');
    assert.equal(eventsNamed(bot, 'bot_stopped').length, 1, bot.log());
  });

  it('log an outage once, then only a reminder every ZENSWEEP_REDIS_REMIND_MS, every line JSON on both streams, then serve again without a restart, and stop cleanly', { timeout: 240_000 }, async (t) => {
    redis = await startRedis({ password: PASSWORD });
    slack = await FakeSlack.start();
    const server = redis;
    const fakeSlack = slack;
    const [agentMetrics, botMetrics] = await Promise.all([freePort(), freePort()]);
    const [agent, bot] = await Promise.all([
      startAgent({ redisUrl: server.url, group: 'lo', cidrs: '127.0.0.0/24', env: { METRICS_PORT: String(agentMetrics), ZENSWEEP_REDIS_REMIND_MS: String(REMIND_MS) } }),
      startBot({ redisUrl: server.url, slack, env: { METRICS_PORT: String(botMetrics), ZENSWEEP_REDIS_REMIND_MS: String(REMIND_MS) } }),
    ]);
    services.push(agent, bot);
    const threadReplies = (): SlackCall[] => fakeSlack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts !== undefined);

    // Before the outage each service makes every connection it makes only on use: the bot's queue of a group (its
    // metrics), a sweep's and a trace's producers and listeners; the agent's metrics read its group's queue.
    await Promise.all([scrape(agentMetrics), scrape(botMetrics)]);
    const sweep = await postSigned(bot.eventsUrl, commandFields('127.0.0.0/30', { response_url: slack.responseUrl() }));
    assert.equal(sweep.status, 200, sweep.body);
    await fakeSlack.waitFor('the sweep report in the thread', () => (threadReplies().length >= 1 ? true : undefined));
    const trace = await postSigned(bot.eventsUrl, commandFields('trace 127.0.0.1 icmp', { response_url: slack.responseUrl() }));
    assert.equal(trace.status, 200, trace.body);
    await fakeSlack.waitFor('the trace in the thread', () => (threadReplies().length >= 2 ? true : undefined));
    // Both finished, to their last line (the audit trail's), before the outage: its lines are the outage's alone.
    await until('the sweep and the trace delivered', () => eventsNamed(bot, 'audit').filter((e) => e.outcome === 'delivered').length === 2);
    await Promise.all([scrape(agentMetrics), scrape(botMetrics)]);

    const named = [['agent', agent], ['bot', bot]] as const;
    const from = new Map(named.map(([, s]) => [s, { stdout: s.stdout().length, stderr: s.stderr().length }]));
    await server.stop();
    // An outage of three reminders each (every connection fails again on each reconnection attempt, several a second,
    // dozens of attempts in that time), then what the services wrote in it: a line and its reminders, not a stream.
    const writtenSince = () => named.map(([name, s]) => `${name}:\n${s.stdout().slice(from.get(s)?.stdout ?? 0)}${s.stderr().slice(from.get(s)?.stderr ?? 0)}`).join('\n');
    await until('three reminders from each service', () => named.every(([, s]) => eventsNamed(s, 'redis_still_down').length >= REMINDERS), {
      timeoutMs: 90_000,
      show: writtenSince,
    });
    for (const [name, service] of named) assert.equal(service.child.exitCode, null, `${name} is still running`);
    await server.restart();
    await until('both services seeing Redis again', () => named.every(([, s]) => eventsNamed(s, 'redis_up').length === 1), { show: writtenSince });

    // Every line either service wrote from the outage until it said Redis was back, on stdout and on stderr alike.
    const redacted = `redis://:***@127.0.0.1:${server.port}`;
    const isJson = (line: string): boolean => {
      try {
        return typeof JSON.parse(line) === 'object';
      } catch {
        return false;
      }
    };
    const written = named.map(([name, service]) => {
      const start = from.get(service) ?? { stdout: 0, stderr: 0 };
      const out = service.stdout().slice(start.stdout).split('\n').filter((l) => l !== '');
      const err = service.stderr().slice(start.stderr).split('\n').filter((l) => l !== '');
      return { name, service, out, err, notJson: [...out, ...err].filter((l) => !isJson(l)).length };
    });
    // The figures, for the record (the closing note quotes them).
    t.diagnostic(
      `lines written during a Redis outage with a reminder every ${REMIND_MS} ms: ${written
        .map((w) => {
          const named = [...w.out, ...w.err].filter(isJson).map((l) => String((JSON.parse(l) as LogEvent).event));
          return `${w.name} ${w.out.length} on stdout + ${w.err.length} on stderr (${w.notJson} not JSON; ${named.join(', ')})`;
        })
        .join('; ')}`,
    );
    for (const { name, service, out, err, notJson } of written) {
      assert.equal(notJson, 0, `${name} wrote ${notJson} lines that are not JSON in the outage:\n${service.log()}`);
      assert.deepEqual(err, [], `${name} wrote on stderr in the outage:\n${service.log()}`);
      const events = out.map((l) => JSON.parse(l) as LogEvent);
      const reminders = events.filter((e) => e.event === 'redis_still_down').map((e) => Number(e.downMs));
      assert.ok(reminders.length >= REMINDERS, `${name}:\n${service.log()}`);
      // One line as it starts, a reminder no more often than asked, one line as it ends: nothing else.
      assert.deepEqual(
        events.map((e) => e.event),
        ['redis_down', ...reminders.map(() => 'redis_still_down'), 'redis_up'],
        `${name}:\n${service.log()}`,
      );
      reminders.forEach((ms, i) => assert.ok(ms - (reminders[i - 1] ?? 0) >= REMIND_MS, `${name}: reminders at ${reminders.join(', ')} ms`));
      assert.ok(events.every((e) => e.redis === redacted), `${name}:\n${service.log()}`);
      const up = events.at(-1);
      assert.ok(Number(up?.downMs) >= (reminders.at(-1) ?? 0), `down for ${String(up?.downMs)} ms`);
    }

    // The agent comes back in the registry (this Redis kept nothing) and takes chunks; the bot takes a command
    // and delivers its report in the thread.
    const client = new Redis(server.url, { maxRetriesPerRequest: null });
    try {
      await until('the agent in the registry again', async () => (await new AgentRegistry(client).list()).some((a) => a.id === agent.id));
    } finally {
      client.disconnect();
    }
    const before = threadReplies().length;
    const ack = await postSigned(bot.eventsUrl, commandFields('127.0.0.0/30', { response_url: slack.responseUrl() }));
    assert.equal(ack.status, 200, ack.body);
    const reply = await fakeSlack.waitFor('the report in the thread', () => threadReplies()[before]);
    assert.match(String(reply.args.text), /2 alive/);

    const [agentEnd, botEnd] = await Promise.all([terminate(agent), terminate(bot)]);
    assert.equal(agentEnd.code, 0, agent.log());
    assert.equal(botEnd.code, 0, bot.log());
    assert.deepEqual(eventsNamed(agent, 'agent_stopped')[0]?.unfinished, [], agent.log());
    assert.deepEqual(eventsNamed(bot, 'bot_stopped')[0]?.unfinished, [], bot.log());
    const after = new Redis(server.url, { maxRetriesPerRequest: null });
    try {
      assert.deepEqual(await new AgentRegistry(after).list(), [], 'the agent left the registry');
    } finally {
      after.disconnect();
    }
    for (const [name, service] of named) {
      assert.doesNotMatch(service.log(), new RegExp(PASSWORD));
      // From start to exit, every line on either stream is one JSON object.
      const lines = `${service.stdout()}\n${service.stderr()}`.split('\n').filter((l) => l !== '');
      assert.deepEqual(lines.filter((l) => !isJson(l)), [], `${name}: lines that are not JSON`);
      assert.deepEqual(logEvents(service).filter((e) => ['worker_error', 'queue_error', 'redis_error'].includes(String(e.event))), []);
    }
  });
});
