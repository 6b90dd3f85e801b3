/**
 * Every line `zensweep agent` and `zensweep bot` write, on stdout and on stderr, is one JSON line: real processes, a
 * real redis-server, the fake Slack. What libraries print (`console`), Node's process warnings, records in Redis
 * that fail their schema, a start that fails and a crash all become JSON lines of the service's log.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { pathToFileURL } from 'node:url';
import { afterEach, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startAgent } from '../support/agents.js';
import { commandFields, freePort, postSigned, startBot } from '../support/bot.js';
import { BOT_TOKEN, FakeSlack } from '../support/fake-slack.js';
import { scrape } from '../support/metrics.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { spawnService, type ServiceProcess } from '../support/service.js';

type LogEvent = Record<string, unknown>;

/** Every line of both streams; those that are not one JSON object are returned apart. */
function linesOf(service: ServiceProcess): { events: LogEvent[]; notJson: string[] } {
  const events: LogEvent[] = [];
  const notJson: string[] = [];
  for (const line of `${service.stdout()}\n${service.stderr()}`.split('\n')) {
    if (line === '') continue;
    try {
      const value = JSON.parse(line) as unknown;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) events.push(value as LogEvent);
      else notJson.push(line);
    } catch {
      notJson.push(line);
    }
  }
  return { events, notJson };
}

/** A port something else already listens on (all interfaces, as the services would). */
async function takenPort(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, resolve));
  return server;
}

async function exitOf(service: ServiceProcess, timeoutMs = 20_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timed out'>((resolve) => (timer = setTimeout(() => resolve('timed out'), timeoutMs)));
  const code = await Promise.race([service.exited, timedOut]);
  clearTimeout(timer);
  assert.notEqual(code, 'timed out', `still running after ${timeoutMs} ms:\n${service.log()}`);
  return code as number | null;
}

describe('zensweep agent and bot write nothing but JSON lines (real processes, real redis-server, fake Slack)', () => {
  let redis: RedisServer | undefined;
  let slack: FakeSlack | undefined;
  const services: ServiceProcess[] = [];
  const servers: Server[] = [];

  before(() => assertRoot());

  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.kill()));
    for (const server of servers.splice(0)) server.close();
    await slack?.close();
    await redis?.destroy();
  });

  it('log what a library prints and a record that fails its schema as JSON lines, from start to exit', { timeout: 120_000 }, async () => {
    redis = await startRedis();
    slack = await FakeSlack.start();
    const fakeSlack = slack;
    const client = new Redis(redis.url, { maxRetriesPerRequest: null });
    try {
      // BullMQ warns with console.warn of every connection to a Redis that may evict its keys.
      await client.config('SET', 'maxmemory-policy', 'allkeys-lru');
      // A heartbeat that is not one: the bot reads the registry for its metrics and to plan a trace.
      await client.set('zensweep:{agents}:agent:lo:impostor', JSON.stringify({ group: 'lo', id: 'impostor' }), 'EX', 600);
    } finally {
      client.disconnect();
    }
    const [agentMetrics, botMetrics] = await Promise.all([freePort(), freePort()]);
    const [agent, bot] = await Promise.all([
      startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/24', env: { METRICS_PORT: String(agentMetrics) } }),
      startBot({ redisUrl: redis.url, slack, env: { METRICS_PORT: String(botMetrics) } }),
    ]);
    services.push(agent, bot);
    await Promise.all([scrape(agentMetrics), scrape(botMetrics)]);
    const trace = await postSigned(bot.eventsUrl, commandFields('trace 127.0.0.1 icmp', { response_url: slack.responseUrl() }));
    assert.equal(trace.status, 200, trace.body);
    await fakeSlack.waitFor('the trace in the thread', () => fakeSlack.callsOf('chat.postMessage').find((c) => c.args.thread_ts !== undefined));
    assert.equal(await agent.stop(), 0, agent.log());
    assert.equal(await bot.stop(), 0, bot.log());

    for (const [name, service] of [['agent', agent], ['bot', bot]] as const) {
      const { events, notJson } = linesOf(service);
      assert.deepEqual(notJson, [], `${name} wrote lines that are not JSON`);
      const warned = events.filter((e) => e.event === 'console' && /Eviction policy is allkeys-lru/.test(String(e.message)));
      assert.ok(warned.length > 0, `${name}: BullMQ's warning as a JSON line:\n${service.log()}`);
      assert.equal(warned[0]?.level, 40);
      assert.doesNotMatch(service.log(), new RegExp(BOT_TOKEN));
    }
    const bad = linesOf(bot).events.filter((e) => e.event === 'bad_record');
    assert.ok(bad.length >= 2, `the bad heartbeat, read for the metrics and for the trace:\n${bot.log()}`);
    assert.ok(bad.every((e) => e.key === 'zensweep:{agents}:agent:lo:impostor' && e.what === 'agent heartbeat'), JSON.stringify(bad));
  });

  it('log a start that fails (a port taken) as one JSON line and exit 1, instead of a raw stack and never exiting', { timeout: 60_000 }, async () => {
    redis = await startRedis();
    slack = await FakeSlack.start();
    const taken = await takenPort();
    servers.push(taken);
    const port = String((taken.address() as { port: number }).port);
    const agent = spawnService(['agent'], {
      PATH: process.env.PATH,
      REDIS_URL: redis.url,
      ZENSWEEP_VPC: 'lo',
      ZENSWEEP_CIDRS: '127.0.0.0/24',
      METRICS_PORT: port,
    });
    const bot = spawnService(['bot'], {
      PATH: process.env.PATH,
      REDIS_URL: redis.url,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_API_URL: slack.apiUrl,
      SLACK_SIGNING_SECRET: 'test-signing-secret-0000',
      PORT: port,
    });
    services.push(agent, bot);
    for (const [name, service] of [['agent', agent], ['bot', bot]] as const) {
      assert.equal(await exitOf(service), 1, `${name}:\n${service.log()}`);
      const { events, notJson } = linesOf(service);
      assert.deepEqual(notJson, [], `${name} wrote lines that are not JSON`);
      const failed = events.filter((e) => e.event === 'start_failed');
      assert.equal(failed.length, 1, `${name}:\n${service.log()}`);
      assert.equal((failed[0]?.err as { code?: unknown } | undefined)?.code, 'EADDRINUSE', `${name}:\n${service.log()}`);
    }
  });

  it('end at start with one line when Slack refuses a token (the bot token, the app token), exit 2, no token written', { timeout: 60_000 }, async () => {
    redis = await startRedis();
    slack = await FakeSlack.start();
    const cases = [
      ['SLACK_BOT_TOKEN', { SLACK_BOT_TOKEN: 'xoxb-wrong-0000-not-this-one', SLACK_SIGNING_SECRET: 'test-signing-secret-0000', PORT: String(await freePort()) }],
      ['SLACK_APP_TOKEN', { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: 'xapp-wrong-0000-not-this-one' }],
    ] as const;
    for (const [token, env] of cases) {
      const bot = spawnService(['bot'], { PATH: process.env.PATH, REDIS_URL: redis.url, SLACK_API_URL: slack.apiUrl, ...env });
      services.push(bot);
      assert.equal(await exitOf(bot), 2, `${token}:\n${bot.log()}`);
      const fix = token === 'SLACK_BOT_TOKEN' ? /the Bot User OAuth Token \(xoxb-…\) of OAuth & Permissions/ : /an App-Level Token \(xapp-…\) with the connections:write scope/;
      const stderr = bot.stderr().split('\n').filter((l) => l !== '');
      assert.equal(stderr.length, 1, `${token}:\n${bot.log()}`);
      assert.match(stderr[0] ?? '', new RegExp(`^zensweep: Slack refused ${token} \\(invalid_auth\\): set it to `));
      assert.match(stderr[0] ?? '', fix);
      // stdout: JSON lines only, and never a retry of a token that cannot work.
      for (const line of bot.stdout().split('\n').filter((l) => l !== '')) assert.match(line, /^\{.*\}$/, bot.log());
      assert.doesNotMatch(bot.stdout(), /slack_identity_unknown/);
      assert.doesNotMatch(bot.log(), /wrong-0000|secret-bot-token|secret-app-token/);
    }
  });

  it('log process warnings, console output and a crash (an unhandled rejection) as JSON lines, and exit 1 on the crash', { timeout: 60_000 }, async () => {
    redis = await startRedis();
    slack = await FakeSlack.start();
    const strayOutput = pathToFileURL(new URL('../support/stray-output.mjs', import.meta.url).pathname).href;
    const env = { NODE_OPTIONS: `--import=${strayOutput}` };
    const [agent, bot] = await Promise.all([
      startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/24', env }),
      startBot({ redisUrl: redis.url, slack, env }),
    ]);
    services.push(agent, bot);
    for (const [name, service] of [['agent', agent], ['bot', bot]] as const) {
      service.child.kill('SIGUSR2');
      assert.equal(await exitOf(service), 1, `${name}:\n${service.log()}`);
      const { events, notJson } = linesOf(service);
      assert.deepEqual(notJson, [], `${name} wrote lines that are not JSON`);
      const one = (event: string): LogEvent[] => events.filter((e) => e.event === event);
      assert.deepEqual(
        one('node_warning').map((e) => [e.name, e.code, e.message]),
        [['DeprecationWarning', 'DEP0999', 'a library does something deprecated']],
        `${name}:\n${service.log()}`,
      );
      assert.deepEqual(
        one('console').map((e) => [e.level, e.message]),
        [
          [50, 'Error: a library prints an error'],
          [30, 'a library prints two lines'],
        ],
        `${name}:\n${service.log()}`,
      );
      const [crash] = one('unhandled_rejection');
      assert.equal((crash?.err as { message?: unknown } | undefined)?.message, 'nobody catches this', `${name}:\n${service.log()}`);
      assert.equal(crash?.level, 60);
    }
  });
});
