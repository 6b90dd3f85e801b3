/**
 * METRICS_HOST (agent and bot) and HOST (the bot's HTTP receiver) bind their ports to one address: real processes,
 * a real redis-server, the fake Slack. What listens is read from the kernel (`ss`) and by connecting to other
 * loopback addresses (127.0.0.2, ::1), which a port bound to every interface accepts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { startAgent } from '../support/agents.js';
import { commandFields, freePort, postSigned, startBot } from '../support/bot.js';
import { zensweep } from '../support/cli.js';
import { BOT_TOKEN, FakeSlack } from '../support/fake-slack.js';
import { until } from '../support/wait.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import type { ServiceProcess } from '../support/service.js';

/** Whether a TCP connection to host:port is accepted (false when refused). */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNREFUSED' ? resolve(false) : reject(error)));
  });
}

/** The local addresses this process listens on at this TCP port, as the kernel lists them. */
function listeners(port: number, pid: number | undefined): string[] {
  const text = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  return text
    .split('\n')
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => line.trim().split(/\s+/)[3] ?? '')
    .sort();
}

async function healthz(base: string): Promise<number> {
  return (await fetch(`${base}/healthz`)).status;
}

function logged(service: ServiceProcess, event: string): boolean {
  return service.stdout().includes(`"event":"${event}"`);
}

describe('METRICS_HOST and HOST bind to one address (real agent and bot, real redis-server)', () => {
  let redis: RedisServer;
  let slack: FakeSlack;
  const services: ServiceProcess[] = [];

  before(async () => {
    redis = await startRedis();
    slack = await FakeSlack.start();
  });
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop()));
  });
  after(async () => {
    await slack?.close();
    await redis?.destroy();
  });

  it('agent: METRICS_HOST=127.0.0.1 serves /healthz there and listens nowhere else', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const agent = await startAgent({
      redisUrl: redis.url,
      group: 'lo',
      cidrs: '127.0.0.0/24',
      env: { METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1' },
    });
    services.push(agent);
    await until('the metrics port', () => logged(agent, 'metrics_listening'));
    assert.equal(await healthz(`http://127.0.0.1:${port}`), 200);
    assert.deepEqual(listeners(port, agent.child.pid), [`127.0.0.1:${port}`]);
    assert.equal(await accepts('127.0.0.2', port), false, '127.0.0.2');
    assert.equal(await accepts('::1', port), false, '::1');
  });

  it('bot: HOST=127.0.0.1 takes commands there only; METRICS_HOST=::1 serves /healthz there only', { timeout: 60_000 }, async () => {
    const metricsPort = await freePort();
    const bot = await startBot({ redisUrl: redis.url, slack, env: { HOST: '127.0.0.1', METRICS_PORT: String(metricsPort), METRICS_HOST: '::1' } });
    services.push(bot);
    const port = Number(new URL(bot.eventsUrl).port);
    const help = await postSigned(bot.eventsUrl, commandFields('help', { response_url: slack.responseUrl() }));
    assert.equal(help.status, 200, help.body);
    assert.deepEqual(listeners(port, bot.child.pid), [`127.0.0.1:${port}`]);
    assert.equal(await accepts('127.0.0.2', port), false, '127.0.0.2');
    assert.equal(await accepts('::1', port), false, '::1');

    assert.equal(await healthz(`http://[::1]:${metricsPort}`), 200);
    assert.deepEqual(listeners(metricsPort, bot.child.pid), [`[::1]:${metricsPort}`]);
    assert.equal(await accepts('127.0.0.1', metricsPort), false, '127.0.0.1');
  });

  it('bot: without HOST and METRICS_HOST both ports listen on every interface, as before', { timeout: 60_000 }, async () => {
    const metricsPort = await freePort();
    const bot = await startBot({ redisUrl: redis.url, slack, env: { METRICS_PORT: String(metricsPort) } });
    services.push(bot);
    await until('the metrics port', () => logged(bot, 'metrics_listening'));
    const port = Number(new URL(bot.eventsUrl).port);
    for (const p of [port, metricsPort]) {
      assert.equal(await accepts('127.0.0.2', p), true, `127.0.0.2:${p}`);
      assert.equal(await accepts('::1', p), true, `[::1]:${p}`);
    }
  });

  it('refuses an address that is none in one line, exit 2, before it starts', { timeout: 60_000 }, async () => {
    const agentEnv = { PATH: process.env.PATH, REDIS_URL: redis.url, ZENSWEEP_VPC: 'lo', ZENSWEEP_CIDRS: '127.0.0.0/24', METRICS_PORT: '9' };
    const botEnv = { PATH: process.env.PATH, REDIS_URL: redis.url, SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: 'x', SLACK_API_URL: slack.apiUrl };
    const cases = [
      ['agent', { ...agentEnv, METRICS_HOST: 'not a host' }, 'METRICS_HOST=not a host'],
      ['agent', { ...agentEnv, METRICS_HOST: '127.0.0.256' }, 'METRICS_HOST=127.0.0.256'],
      ['bot', { ...botEnv, HOST: '999.1.1.1' }, 'HOST=999.1.1.1'],
      ['bot', { ...botEnv, METRICS_PORT: '9', METRICS_HOST: 'http://127.0.0.1' }, 'METRICS_HOST=http://127.0.0.1'],
    ] as const;
    for (const [command, env, named] of cases) {
      const result = await zensweep([command], { env, timeoutMs: 20_000 });
      assert.equal(result.code, 2, `${command} ${named}: ${result.stderr}`);
      assert.equal(result.stdout, '');
      assert.equal(result.stderr.split('\n').filter(Boolean).length, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`^zensweep: ${named.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not an address to listen on`));
    }
  });
});
