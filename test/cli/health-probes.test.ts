/**
 * What a liveness and a readiness probe see of `zensweep bot` and `zensweep agent` while what they need cannot be
 * reached (Kubernetes' probes, deploy/kubernetes/): real processes, a real redis-server, the fake Slack. /healthz
 * answers 200 from the first seconds whatever Slack and Redis do (a liveness probe must not restart a bot that waits
 * for Slack), /readyz answers 503 naming what is missing, and SIGTERM stops the service, exit 0, while it still waits.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, before, describe, it } from 'node:test';
import { freePort } from '../support/bot.js';
import { APP_TOKEN, BOT_TOKEN, FakeSlack } from '../support/fake-slack.js';
import { probe } from '../support/metrics.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { notJsonLines, spawnService, type ServiceProcess } from '../support/service.js';
import { until, waitFor } from '../support/wait.js';

/** How long after its start a service must answer /healthz: generous, the machine is shared (a wait, not a speed check). */
const HEALTHZ_WITHIN_MS = 10_000;
/** How long after SIGTERM a service must be gone: generous, well under Kubernetes' 15 s grace (deploy/kubernetes/). */
const EXIT_WITHIN_MS = 10_000;

/** A Slack that accepts connections and never answers: requests hang rather than fail. */
async function silentSlack(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/api/`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The first 200 of /healthz (retried while nothing listens yet), and how long after `since` it came, in ms. */
async function healthzOk(service: ServiceProcess, port: number, since: number): Promise<number> {
  await waitFor(
    '/healthz answering 200',
    async () => {
      assert.equal(service.child.exitCode, null, `exited early:\n${service.log()}`);
      const answer = await probe(port, '/healthz').catch(() => undefined);
      return answer?.status === 200 ? answer : undefined;
    },
    { timeoutMs: HEALTHZ_WITHIN_MS, everyMs: 50, show: () => service.log() },
  );
  return Date.now() - since;
}

/** /readyz, parsed. */
async function readyz(port: number): Promise<{ status: number; ready: boolean; checks: Record<string, string> }> {
  const { status, body } = await probe(port, '/readyz');
  const parsed = JSON.parse(body) as { ready: boolean; checks: Record<string, string> };
  return { status, ...parsed };
}

/** SIGTERM, and how it ended: exit code and milliseconds until the process was gone (SIGKILL only after 60 s). */
async function terminate(service: ServiceProcess): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  const code = await service.stop(60_000);
  return { code, ms: Date.now() - started };
}

/**
 * A bot with these Redis and Slack API URLs and its metrics port: Socket Mode (the app token), or HTTP mode (a signing
 * secret and a port of its own).
 */
async function spawnBot(redisUrl: string, slackApiUrl: string, metricsPort: number, socketMode: boolean): Promise<ServiceProcess> {
  return spawnService(['bot'], {
    PATH: process.env.PATH,
    REDIS_URL: redisUrl,
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_API_URL: slackApiUrl,
    METRICS_PORT: String(metricsPort),
    ...(socketMode ? { SLACK_APP_TOKEN: APP_TOKEN } : { SLACK_SIGNING_SECRET: 'test-signing-secret-0000', PORT: String(await freePort()) }),
  });
}

describe('zensweep bot and agent while Slack or Redis cannot be reached (real processes, real redis-server, fake Slack)', () => {
  let redis: RedisServer | undefined;
  const services: ServiceProcess[] = [];
  const closers: (() => Promise<void>)[] = [];

  before(() => assertRoot());

  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.kill()));
    await Promise.all(closers.splice(0).map((close) => close()));
    await redis?.destroy();
    redis = undefined;
  });

  /**
   * Starts a bot against `slackApiUrl` (Socket Mode with the app token, or HTTP mode), checks its probes while Slack
   * cannot be reached, then stops it with SIGTERM; returns the figures for the test's diagnostic.
   */
  async function botWithoutSlack(slackApiUrl: string, socketMode: boolean, notReady: RegExp): Promise<string> {
    redis = await startRedis();
    const metricsPort = await freePort();
    const since = Date.now();
    const bot = await spawnBot(redis.url, slackApiUrl, metricsPort, socketMode);
    services.push(bot);
    const healthMs = await healthzOk(bot, metricsPort, since);
    // /healthz answers first, before Redis is connected and (HTTP mode) before /slack/events listens: /readyz is 503
    // all along, and settles on Redis ok and Slack missing.
    const ready = await waitFor('/readyz: Redis ok, Slack missing', async () => {
      const answer = await readyz(metricsPort);
      assert.equal(answer.status, 503, JSON.stringify(answer));
      assert.equal(answer.ready, false);
      return answer.checks.redis === 'ok' && notReady.test(answer.checks.slack ?? '') ? answer : undefined;
    }, { timeoutMs: 20_000, show: () => bot.log() });
    assert.equal(Object.keys(ready.checks).length, 2, JSON.stringify(ready));
    // Still alive and still not ready a moment later: /healthz never depended on Slack.
    assert.equal((await probe(metricsPort, '/healthz')).status, 200);
    assert.equal(bot.child.exitCode, null, bot.log());

    const end = await terminate(bot);
    assert.equal(end.code, 0, `exit ${end.code} after SIGTERM:\n${bot.log()}`);
    assert.ok(end.ms < EXIT_WITHIN_MS, `${end.ms} ms to exit after SIGTERM:\n${bot.log()}`);
    assert.deepEqual(notJsonLines(bot), [], 'lines that are not JSON');
    assert.match(bot.log(), /"event":"bot_stopped"/);
    assert.doesNotMatch(bot.log(), new RegExp(`${BOT_TOKEN}|${APP_TOKEN}`));
    return `/healthz 200 after ${healthMs} ms, exit 0 ${end.ms} ms after SIGTERM`;
  }

  it('bot in Socket Mode, the fake Slack gone: /healthz 200, /readyz 503 (not connected), exit 0 soon after SIGTERM, JSON lines only', { timeout: 90_000 }, async (t) => {
    const slack = await FakeSlack.start();
    const apiUrl = slack.apiUrl;
    await slack.close();
    t.diagnostic(await botWithoutSlack(apiUrl, true, /Socket Mode not connected/));
  });

  it('bot in HTTP mode, Slack’s address refusing connections: /healthz 200, /readyz 503 (Slack did not answer), exit 0 soon after SIGTERM', { timeout: 90_000 }, async (t) => {
    const refusing = `http://127.0.0.1:${await freePort()}/api/`;
    t.diagnostic(await botWithoutSlack(refusing, false, /Slack did not answer/));
  });

  it('bot in Socket Mode, a Slack that accepts connections and never answers: the same', { timeout: 90_000 }, async (t) => {
    const silent = await silentSlack();
    closers.push(silent.close);
    t.diagnostic(await botWithoutSlack(silent.url, true, /Socket Mode not connected/));
  });

  it('bot with the fake Slack up: /readyz 200 once connected (what the 503s above are measured against)', { timeout: 90_000 }, async () => {
    redis = await startRedis();
    const slack = await FakeSlack.start();
    closers.push(() => slack.close());
    const metricsPort = await freePort();
    for (const socketMode of [true, false]) {
      const bot = await spawnBot(redis.url, slack.apiUrl, metricsPort, socketMode);
      services.push(bot);
      await healthzOk(bot, metricsPort, Date.now());
      const ready = await waitFor('/readyz 200', async () => {
        const answer = await readyz(metricsPort);
        return answer.status === 200 ? answer : undefined;
      }, { timeoutMs: 30_000, show: () => bot.log() });
      assert.deepEqual(ready.checks, { redis: 'ok', slack: 'ok' });
      assert.equal(await bot.stop(), 0, bot.log());
      assert.deepEqual(notJsonLines(bot), [], 'lines that are not JSON');
    }
  });

  it('bot in Socket Mode whose Slack comes back: connects, says bot_started and becomes ready, without a restart', { timeout: 120_000 }, async (t) => {
    redis = await startRedis();
    const gone = await FakeSlack.start();
    const port = Number(new URL(gone.url).port);
    await gone.close();
    const metricsPort = await freePort();
    const bot = await spawnBot(redis.url, gone.apiUrl, metricsPort, true);
    services.push(bot);
    await healthzOk(bot, metricsPort, Date.now());
    assert.equal((await readyz(metricsPort)).status, 503);
    // Slack is back where it was: the bot's own retries find it.
    const back = await FakeSlack.start({ port });
    closers.push(() => back.close());
    const since = Date.now();
    const ready = await waitFor('/readyz 200 once Slack is back', async () => {
      const answer = await readyz(metricsPort);
      return answer.status === 200 ? answer : undefined;
    }, { timeoutMs: 90_000, everyMs: 250, show: () => bot.log() });
    assert.deepEqual(ready.checks, { redis: 'ok', slack: 'ok' });
    assert.match(bot.log(), /"event":"bot_started"/);
    assert.equal(bot.child.exitCode, null);
    t.diagnostic(`ready ${Date.now() - since} ms after Slack came back`);
    assert.equal(await bot.stop(), 0, bot.log());
    assert.deepEqual(notJsonLines(bot), [], 'lines that are not JSON');
  });

  it('bot, Redis refusing connections: /healthz 200, /readyz 503 naming Redis, exit 0 soon after SIGTERM, JSON lines only, no password', { timeout: 90_000 }, async (t) => {
    const slack = await FakeSlack.start();
    closers.push(() => slack.close());
    const password = 'bot-probe-secret-9';
    const metricsPort = await freePort();
    const since = Date.now();
    const bot = await spawnBot(`redis://:${password}@127.0.0.1:${await freePort()}`, slack.apiUrl, metricsPort, true);
    services.push(bot);
    const healthMs = await healthzOk(bot, metricsPort, since);
    const ready = await readyz(metricsPort);
    assert.equal(ready.status, 503, JSON.stringify(ready));
    assert.notEqual(ready.checks.redis, 'ok', JSON.stringify(ready));
    // It waits for Redis, as the agent does, instead of exiting (which a Deployment would restart with a growing back-off).
    await until('the outage logged', () => /"event":"redis_down"/.test(bot.log()), { timeoutMs: 20_000 });
    assert.equal(bot.child.exitCode, null, bot.log());

    const end = await terminate(bot);
    assert.equal(end.code, 0, `exit ${end.code} after SIGTERM:\n${bot.log()}`);
    assert.ok(end.ms < EXIT_WITHIN_MS, `${end.ms} ms to exit after SIGTERM:\n${bot.log()}`);
    assert.deepEqual(notJsonLines(bot), [], 'lines that are not JSON');
    assert.doesNotMatch(bot.log(), new RegExp(`${password}|${BOT_TOKEN}|${APP_TOKEN}`));
    t.diagnostic(`bot: /healthz 200 after ${healthMs} ms, exit 0 ${end.ms} ms after SIGTERM`);
  });

  it('bot started while Redis is down: becomes ready once Redis is back, without a restart', { timeout: 120_000 }, async () => {
    const slack = await FakeSlack.start();
    closers.push(() => slack.close());
    redis = await startRedis();
    await redis.stop();
    const metricsPort = await freePort();
    const bot = await spawnBot(redis.url, slack.apiUrl, metricsPort, true);
    services.push(bot);
    await healthzOk(bot, metricsPort, Date.now());
    assert.equal((await readyz(metricsPort)).status, 503);
    await until('the outage logged', () => /"event":"redis_down"/.test(bot.log()), { timeoutMs: 20_000 });
    await redis.restart();
    const ready = await waitFor('/readyz 200 once Redis is back', async () => {
      const answer = await readyz(metricsPort);
      return answer.status === 200 ? answer : undefined;
    }, { timeoutMs: 60_000, everyMs: 250, show: () => bot.log() });
    assert.deepEqual(ready.checks, { redis: 'ok', slack: 'ok' });
    assert.match(bot.log(), /"event":"bot_started"/);
    assert.equal(await bot.stop(), 0, bot.log());
    assert.deepEqual(notJsonLines(bot), [], 'lines that are not JSON');
  });

  it('agent, Redis refusing connections: /healthz 200, /readyz 503 naming Redis, exit 0 soon after SIGTERM, JSON lines only, no password', { timeout: 90_000 }, async (t) => {
    const password = 'agent-probe-secret-7';
    const metricsPort = await freePort();
    const since = Date.now();
    const agent = spawnService(['agent'], {
      PATH: process.env.PATH,
      REDIS_URL: `redis://:${password}@127.0.0.1:${await freePort()}`,
      ZENSWEEP_VPC: 'lo',
      ZENSWEEP_CIDRS: '127.0.0.0/24',
      METRICS_PORT: String(metricsPort),
    });
    services.push(agent);
    const healthMs = await healthzOk(agent, metricsPort, since);
    const ready = await readyz(metricsPort);
    assert.equal(ready.status, 503, JSON.stringify(ready));
    assert.notEqual(ready.checks.redis, 'ok', JSON.stringify(ready));
    assert.equal(agent.child.exitCode, null, agent.log());

    const end = await terminate(agent);
    assert.equal(end.code, 0, `exit ${end.code} after SIGTERM:\n${agent.log()}`);
    assert.ok(end.ms < EXIT_WITHIN_MS, `${end.ms} ms to exit after SIGTERM:\n${agent.log()}`);
    assert.deepEqual(notJsonLines(agent), [], 'lines that are not JSON');
    assert.doesNotMatch(agent.log(), new RegExp(password));
    t.diagnostic(`agent: /healthz 200 after ${healthMs} ms, exit 0 ${end.ms} ms after SIGTERM`);
  });
});
