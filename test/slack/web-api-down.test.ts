/**
 * The ack never waits on Slack's Web API: a real bot process, a real redis-server, a real agent on loopback, and a
 * Web API that is unreachable, that never answers, or that answers 429. Bolt answers 404 when a command was not
 * acked within 3 s, so a 200 with the ephemeral text says the ack went in time. A failed Web API call is one log
 * line naming the method and the URL, never the token.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { HELP_TEXT } from '../../src/slack/render/replies.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { commandFields, freePort, postSigned, startBot, type BotProcess } from '../support/bot.js';
import { BOT_TOKEN, FakeSlack } from '../support/fake-slack.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { until } from '../support/wait.js';

type LogEvent = Record<string, unknown>;

function events(bot: BotProcess, name: string): LogEvent[] {
  return bot
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogEvent)
    .filter((e) => e.event === name);
}


/** A Web API that accepts connections and never answers. */
async function silentServer(): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    server,
    url: `http://127.0.0.1:${port}/api/`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('the ack of a slash command never waits on the Web API (real bot, agent and redis-server)', () => {
  let redis: RedisServer;
  let agent: AgentProcess;
  let slack: FakeSlack;
  let bot: BotProcess | undefined;

  const command = async (text: string): Promise<{ status: number; text: string }> => {
    const reply = await postSigned(bot?.eventsUrl ?? '', commandFields(text, { response_url: slack.responseUrl() }));
    assert.equal(reply.status, 200, `${text}: answered ${reply.status} ${reply.body}\n${bot?.log() ?? ''}`);
    return { status: reply.status, text: (JSON.parse(reply.body) as { text: string }).text };
  };

  before(async () => {
    assertRoot();
    redis = await startRedis();
    agent = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/24' });
    // Only its response URLs are used: the Web API is elsewhere in each test.
    slack = await FakeSlack.start();
  });
  afterEach(async () => {
    await bot?.stop();
    bot = undefined;
  });
  after(async () => {
    await agent?.kill();
    await slack?.close();
    await redis?.destroy();
  });

  it('acks help and a sweep when the Web API cannot be reached, and logs each failed call with its method and URL', { timeout: 120_000 }, async () => {
    const apiUrl = `http://127.0.0.1:${await freePort()}/api/`;
    bot = await startBot({ redisUrl: redis.url, slack, env: { SLACK_API_URL: apiUrl } });
    assert.equal((await command('help')).text, HELP_TEXT);
    assert.match((await command('127.0.0.0/30')).text, /^Sweeping `127\.0\.0\.0\/30` in lo/);
    assert.equal((await command('help')).text, HELP_TEXT);

    // After the ack the delivery looks for its parent message (none recorded yet), to post it: that call fails, and
    // says where it went.
    const running = bot;
    await until('a failed conversations.history in the log', () => events(running, 'slack_api_failed').some((e) => e.method === 'conversations.history'));
    const failed = events(running, 'slack_api_failed');
    for (const line of failed) {
      assert.equal(line.url, `${apiUrl}${String(line.method)}`, JSON.stringify(line));
      assert.match(String(line.error), /ECONNREFUSED|fetch failed/, JSON.stringify(line));
    }
    assert.doesNotMatch(running.log(), new RegExp(BOT_TOKEN));
  });

  it('acks help and a sweep when the Web API accepts connections and never answers', { timeout: 120_000 }, async () => {
    const silent = await silentServer();
    try {
      bot = await startBot({ redisUrl: redis.url, slack, env: { SLACK_API_URL: silent.url } });
      assert.equal((await command('help')).text, HELP_TEXT);
      assert.match((await command('127.0.0.0/30')).text, /^Sweeping `127\.0\.0\.0\/30` in lo/);
      assert.equal((await command('help')).text, HELP_TEXT);
    } finally {
      await bot?.stop();
      await silent.close();
    }
  });

  it('acks help when the Web API answers 429 with a long Retry-After', { timeout: 120_000 }, async () => {
    const limited = await FakeSlack.start();
    try {
      for (const method of ['auth.test', 'chat.postMessage', 'usergroups.users.list']) limited.failNext(method, { status: 429, retryAfter: 60 }, 100);
      bot = await startBot({ redisUrl: redis.url, slack: limited });
      const reply = await postSigned(bot.eventsUrl, commandFields('help', { response_url: limited.responseUrl() }));
      assert.equal(reply.status, 200, `help: answered ${reply.status} ${reply.body}\n${bot.log()}`);
      assert.equal((JSON.parse(reply.body) as { text: string }).text, HELP_TEXT);
      for (let i = 0; i < 3; i += 1) {
        const again = await postSigned(bot.eventsUrl, commandFields('help', { response_url: limited.responseUrl() }));
        assert.equal(again.status, 200, `help: answered ${again.status} ${again.body}\n${bot.log()}`);
      }
      // Asked once at start; the rate limit says when to ask again, and no command asks sooner.
      assert.equal(limited.callsOf('auth.test!failed').length, 1, limited.calls.map((c) => c.method).join(', '));
      const running = bot;
      await until('a rate-limited call in the log', () => events(running, 'slack_api_failed').some((e) => e.status === 429));
      const [limitedCall] = events(running, 'slack_api_failed').filter((e) => e.status === 429);
      assert.equal(limitedCall?.url, `${limited.apiUrl}${String(limitedCall?.method)}`);
      assert.doesNotMatch(running.log(), new RegExp(BOT_TOKEN));
    } finally {
      await bot?.stop();
      bot = undefined;
      await limited.close();
    }
  });
});
