/**
 * The operators' port of `zensweep agent` and `zensweep bot` (METRICS_PORT): Prometheus metrics checked against
 * the counts a real sweep must have produced, and /healthz and /readyz while Redis (and Slack) come and go.
 * Real processes, a real redis-server, real probes on loopback, the fake Slack.
 */
import assert from 'node:assert/strict';
import { Agent as HttpAgent, request } from 'node:http';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FetchFunction } from '@slack/web-api';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { DistributedReport } from '../../src/core/report.js';
import { BotMetrics } from '../../src/metrics/bot-metrics.js';
import { countingFetch } from '../../src/metrics/slack-fetch.js';
import { sweepQueueName } from '../../src/queue/names.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { commandFields, freePort, postSigned, startBot, type BotProcess } from '../support/bot.js';
import { zensweep } from '../support/cli.js';
import { FakeSlack } from '../support/fake-slack.js';
import { parseMetrics, probe, scrape, valueOf } from '../support/metrics.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { until, waitFor } from '../support/wait.js';

const TIMEOUT = { timeout: 180_000 };
const IPV4 = /\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/;

/** Names and labels as Prometheus wants them: our own prefixed, counters in _total, no address in any label. */
function assertConventions(text: string): void {
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (match) types.set(match[1] ?? '', match[2] ?? '');
  }
  const ours = [...types].filter(([name]) => name.startsWith('zensweep_'));
  assert.ok(ours.length > 10, 'the service exports its own metrics');
  for (const [name, type] of types) {
    assert.match(name, /^(zensweep|process|nodejs)_[a-z0-9_]+$/, `${name}: an unexpected metric name`);
    if (type === 'counter') assert.match(name, /_total$/, `${name} is a counter without _total`);
  }
  for (const sample of parseMetrics(text)) {
    for (const [label, value] of Object.entries(sample.labels)) {
      assert.doesNotMatch(value, IPV4, `${sample.name}{${label}="${value}"} holds an address`);
    }
  }
}

describe('zensweep agent: METRICS_PORT (real agent, real redis-server)', () => {
  let redis: RedisServer;
  let client: Redis;
  let agent: AgentProcess;
  let port: number;
  const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, REDIS_URL: redis.url });

  before(async () => {
    assertRoot();
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    // Redis is stopped on purpose below: this client reconnects quietly.
    client.on('error', () => undefined);
    port = await freePort();
    agent = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/16', env: { METRICS_PORT: String(port) } });
  });

  after(async () => {
    await agent?.kill();
    client?.disconnect();
    await redis?.destroy();
  });

  it('counts what one sweep produced: chunks, probes by kind, hosts and ports by state, the report', TIMEOUT, async () => {
    const before = await scrape(port);
    assert.equal(valueOf(before, 'zensweep_probes_sent_total', { kind: 'icmp' }), 0);
    assert.equal(valueOf(before, 'zensweep_chunks_started_total'), 0);
    assert.equal(valueOf(before, 'zensweep_redis_up'), 1);
    assert.equal(valueOf(before, 'zensweep_send_rate_limit_packets_per_second'), 10_000);

    const result = await zensweep(['submit', '127.0.0.0/28', 'tcp:1', '--json', '--no-progress'], { env: env() });
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as DistributedReport;
    assert.equal(report.summary.alive, 14);

    const after = await waitFor('the report counted', async () => {
      const samples = await scrape(port);
      return valueOf(samples, 'zensweep_sweeps_finished_total') === 1 ? samples : undefined;
    });
    const echoes = report.hosts.reduce((n, h) => n + h.icmp.sent, 0);
    const connects = report.hosts.reduce((n, h) => n + h.ports.reduce((m, p) => m + p.attempts, 0), 0);
    assert.equal(echoes, 14);
    assert.equal(connects, 14);
    assert.equal(valueOf(after, 'zensweep_probes_sent_total', { kind: 'icmp' }), echoes);
    assert.equal(valueOf(after, 'zensweep_probes_sent_total', { kind: 'tcp' }), connects);
    assert.equal(valueOf(after, 'zensweep_host_results_total', { state: 'alive' }), 14);
    assert.equal(valueOf(after, 'zensweep_host_results_total', { state: 'silent' }), 0);
    assert.equal(valueOf(after, 'zensweep_port_results_total', { state: 'closed' }), 14);
    assert.equal(valueOf(after, 'zensweep_chunks_started_total'), 1);
    assert.equal(valueOf(after, 'zensweep_chunks_finished_total'), 1);
    assert.equal(valueOf(after, 'zensweep_chunks_failed_total'), 0);
    assert.equal(valueOf(after, 'zensweep_chunks_cancelled_total'), 0);
    assert.equal(valueOf(after, 'zensweep_sweeps_cancelled_total'), 0);
    assert.equal(valueOf(after, 'zensweep_probes_in_flight'), 0);
    assert.equal(valueOf(after, 'zensweep_chunk_run_seconds_count'), 1);
    assert.equal(valueOf(after, 'zensweep_chunk_wait_seconds_count'), 1);
    assert.equal(valueOf(after, 'zensweep_queue_jobs', { group: 'lo', state: 'waiting' }), 0);
    assert.equal(valueOf(after, 'zensweep_queue_oldest_waiting_seconds', { group: 'lo' }), 0);
    const age = valueOf(after, 'zensweep_agent_heartbeat_age_seconds');
    assert.ok(age !== undefined && age >= 0 && age < 30, `heartbeat age ${age}`);
    assertConventions(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
  });

  it('reports the depth of its group’s queue and how long the oldest chunk has waited', TIMEOUT, async () => {
    // A queue of a group with no agent, read through this agent's own gauges: a chunk waiting in `lo` is taken at
    // once, so the waiting one is put in the queue while the agent's worker is paused by a long chunk.
    const queue = new Queue(sweepQueueName('lo'), { connection: client });
    try {
      await queue.pause();
      await queue.add('chunk', { v: 1 }, { jobId: 'depth-probe' });
      const samples = await waitFor('the chunk seen waiting for a second', async () => {
        const scraped = await scrape(port);
        return (valueOf(scraped, 'zensweep_queue_oldest_waiting_seconds', { group: 'lo' }) ?? 0) >= 1 ? scraped : undefined;
      });
      assert.equal(valueOf(samples, 'zensweep_queue_jobs', { group: 'lo', state: 'waiting' }), 1);
      const waited = valueOf(samples, 'zensweep_queue_oldest_waiting_seconds', { group: 'lo' }) ?? 0;
      assert.ok(waited >= 1 && waited < 60, `oldest waiting ${waited} s`);
    } finally {
      await queue.obliterate({ force: true });
      await queue.resume();
      await queue.close();
    }
  });

  it('shows its health in zensweep agents: heartbeat age, in flight, rate and the last error', TIMEOUT, async () => {
    // A chunk for another group fails for good on this agent: its last error, in its next heartbeat.
    const queue = new Queue(sweepQueueName('lo'), { connection: client });
    await queue.add('chunk', { v: 1, sweepId: 'x', group: 'elsewhere', index: 0, targets: ['127.0.0.1'], options: { ports: [], count: 1, timeoutMs: 100, retries: 0, rate: 0, intervalMs: 100 } });
    await queue.close();
    await until('the failure in the heartbeat', async () => {
      const listed = await zensweep(['agents', '--json'], { env: env() });
      const [info] = JSON.parse(listed.stdout) as { lastError?: { message: string } }[];
      return /a chunk or trace failed/.test(info?.lastError?.message ?? '');
    });
    const listed = await zensweep(['agents'], { env: env() });
    assert.equal(listed.code, 0, listed.stderr);
    // How many chunks it holds follows from its rate (one engine per agent): not the point here.
    assert.match(
      listed.stdout,
      new RegExp(
        `^lo\\n  ${agent.id}   127\\.0\\.0\\.0/16   ICMP\\+TCP   v[\\d.]+\\n` +
          `    as of its heartbeat [\\d.]+ (ms|s) ago: 0 of \\d+ chunks running · 0 probes in flight · \\d+/10,000 pkt/s · last error [\\d.]+ (ms|s) ago: ` +
          `a chunk or trace failed \\(its reason is in this agent's log\\)\\n$`,
      ),
    );
    assert.equal(valueOf(await scrape(port), 'zensweep_chunks_failed_total'), 1);
  });

  it('answers /healthz while Redis is down, fails /readyz until Redis is back', TIMEOUT, async () => {
    assert.deepEqual(await probe(port, '/healthz'), { status: 200, body: 'ok\n' });
    const ready = await probe(port, '/readyz');
    assert.equal(ready.status, 200);
    // The agent's connections that wait for work answer too (src/agent/deaf-watch.ts).
    assert.deepEqual(JSON.parse(ready.body), { ready: true, checks: { redis: 'ok', queue: 'ok' } });

    await redis.stop();
    const down = await waitFor('/readyz failing', async () => {
      const answer = await probe(port, '/readyz');
      return answer.status === 503 ? answer : undefined;
    });
    const body = JSON.parse(down.body) as { ready: boolean; checks: { redis: string; queue: string } };
    assert.equal(body.ready, false);
    assert.notEqual(body.checks.redis, 'ok');
    // An outage is said by the Redis check: it is not the deafness of one connection.
    assert.equal(body.checks.queue, 'ok');
    assert.equal((await probe(port, '/healthz')).status, 200, 'the process itself is fine');
    assert.equal(valueOf(await scrape(port), 'zensweep_redis_up'), 0);

    await redis.restart();
    await until('/readyz passing again', async () => (await probe(port, '/readyz')).status === 200);
    await until('zensweep_redis_up back to 1', async () => valueOf(await scrape(port), 'zensweep_redis_up') === 1);
    assert.equal((await probe(port, '/nowhere')).status, 404);
  });

  it('closes its port and exits when stopped, even with a scraper holding a connection open', TIMEOUT, async () => {
    const keepAlive = new HttpAgent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/metrics', agent: keepAlive }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
    const started = Date.now();
    assert.equal(await agent.stop(20_000), 0);
    assert.ok(Date.now() - started < 15_000, 'it stopped within its grace period');
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
    keepAlive.destroy();
  });
});

describe('zensweep bot: METRICS_PORT (real bot, agent and redis-server, fake Slack)', () => {
  let redis: RedisServer;
  let slack: FakeSlack;
  let agent: AgentProcess;
  let bot: BotProcess;
  let port: number;

  before(async () => {
    assertRoot();
    redis = await startRedis();
    slack = await FakeSlack.start();
    agent = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/16' });
    port = await freePort();
    bot = await startBot({ redisUrl: redis.url, slack, env: { METRICS_PORT: String(port) } });
  });

  after(async () => {
    await bot?.stop();
    await agent?.kill();
    await slack?.close();
    await redis?.destroy();
  });

  it('counts the sweep it ran and its Slack calls, errors and retries by method; shows agent health', TIMEOUT, async () => {
    const before = await scrape(port);
    assert.equal(valueOf(before, 'zensweep_sweeps_started_total'), 0);
    assert.equal(valueOf(before, 'zensweep_agents', { group: 'lo' }), 1);
    const age = valueOf(before, 'zensweep_agent_heartbeat_age_seconds', { group: 'lo', agent: agent.id });
    assert.ok(age !== undefined && age < 30, `heartbeat age ${age}`);

    const ack = await postSigned(bot.eventsUrl, commandFields('127.0.0.0/28', { response_url: slack.responseUrl() }));
    assert.match(ack.body, /Sweeping/);
    await slack.waitFor('the parent', () => slack.callsOf('chat.postMessage')[0]);
    slack.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    await slack.waitFor('the report', () => slack.callsOf('chat.postMessage').find((c) => c.args.thread_ts !== undefined));

    const samples = await waitFor('the delivery counted', async () => {
      const scraped = await scrape(port);
      return valueOf(scraped, 'zensweep_sweeps_finished_total') === 1 ? scraped : undefined;
    });
    assert.equal(valueOf(samples, 'zensweep_sweeps_started_total'), 1);
    assert.equal(valueOf(samples, 'zensweep_sweeps_failed_total'), 0);
    assert.equal(valueOf(samples, 'zensweep_sweeps_cancelled_total'), 0);
    const posts = slack.calls.filter((c) => c.method.startsWith('chat.postMessage')).length;
    assert.equal(posts, 3, 'the parent, the rate-limited report and its retry');
    assert.equal(valueOf(samples, 'zensweep_slack_api_calls_total', { method: 'chat.postMessage' }), posts);
    assert.equal(valueOf(samples, 'zensweep_slack_api_errors_total', { method: 'chat.postMessage', error: 'ratelimited' }), 1);
    assert.equal(valueOf(samples, 'zensweep_slack_api_retries_total', { method: 'chat.postMessage' }), 1);
    assert.equal(valueOf(samples, 'zensweep_slack_api_calls_total', { method: 'chat.update' }), slack.callsOf('chat.update').length);
    assert.equal(valueOf(samples, 'zensweep_redis_up'), 1);
    assertConventions(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());

    const agents = JSON.parse((await postSigned(bot.eventsUrl, commandFields('agents', { response_url: slack.responseUrl() }))).body) as { text: string };
    assert.match(agents.text, new RegExp(`• \`${agent.id}\` 127\\.0\\.0\\.0/16 · ICMP\\+TCP\\n    as of its heartbeat [\\d.]+ (ms|s) ago: 0 of 2 chunks running · 0 probes in flight · \\d+/10,000 pkt/s`));
  });

  it('is ready only while it reaches both Redis and Slack', TIMEOUT, async () => {
    const ready = await probe(port, '/readyz');
    assert.equal(ready.status, 200, ready.body);
    assert.deepEqual(JSON.parse(ready.body), { ready: true, checks: { redis: 'ok', slack: 'ok' } });

    await redis.stop();
    await until('/readyz failing on Redis', async () => (await probe(port, '/readyz')).status === 503);
    assert.notEqual((JSON.parse((await probe(port, '/readyz')).body) as { checks: { redis: string } }).checks.redis, 'ok');
    assert.equal((await probe(port, '/healthz')).status, 200);
    await redis.restart();
    await until('/readyz passing again', async () => (await probe(port, '/readyz')).status === 200);

    slack.failNext('auth.test', { error: 'invalid_auth' }, 1000);
    const down = await waitFor('/readyz failing on Slack', async () => {
      const answer = await probe(port, '/readyz');
      return answer.status === 503 ? answer : undefined;
    });
    assert.deepEqual(JSON.parse(down.body), { ready: false, checks: { redis: 'ok', slack: 'auth.test answered invalid_auth' } });
  });
});

describe('countingFetch: a failed Web API request is one log line with the method and URL, never the token', () => {
  const API = 'http://slack.test/api/';
  const TOKEN = 'xoxb-never-in-a-log-0000';

  function harness(inner: FetchFunction): { fetch: FetchFunction; lines: Record<string, unknown>[] } {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const metrics = new BotMetrics({ connections: () => [], agents: async () => [], queueOf: () => assert.fail('no queue') });
    return { fetch: countingFetch(metrics, API, { log: pino(sink), inner }), lines };
  }
  const init = { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: `token=${TOKEN}&channel=C1` };

  it('names the method, the URL and the network error; an upload URL only by its origin', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') });
    const { fetch, lines } = harness(async () => Promise.reject(refused));
    await assert.rejects(fetch(`${API}chat.postMessage`, init), /fetch failed/);
    await assert.rejects(fetch('https://files.slack.test/upload/v1/CAPABILITY-SECRET?x=1', init), /fetch failed/);
    assert.deepEqual(
      lines.map(({ event, method, url, error }) => ({ event, method, url, error })),
      [
        { event: 'slack_api_failed', method: 'chat.postMessage', url: `${API}chat.postMessage`, error: 'fetch failed (connect ECONNREFUSED 127.0.0.1:9)' },
        { event: 'slack_api_failed', method: 'file_upload', url: 'https://files.slack.test/…', error: 'fetch failed (connect ECONNREFUSED 127.0.0.1:9)' },
      ],
    );
    assert.doesNotMatch(JSON.stringify(lines), new RegExp(`${TOKEN}|CAPABILITY-SECRET`));
  });

  it('names the HTTP status of a 5xx and a 429 (with its Retry-After); an answer of 200 is no line', async () => {
    const answers = [
      new Response('{"ok":false,"error":"internal_error"}', { status: 503 }),
      new Response('{"ok":false,"error":"ratelimited"}', { status: 429, headers: { 'retry-after': '30' } }),
      new Response('{"ok":false,"error":"not_in_channel"}', { status: 200 }),
      new Response('{"ok":true}', { status: 200 }),
    ];
    const { fetch, lines } = harness(async () => answers.shift() ?? assert.fail('no more answers'));
    for (const method of ['chat.update', 'auth.test', 'chat.postMessage', 'chat.postMessage']) await fetch(`${API}${method}`, init);
    assert.deepEqual(
      lines.map(({ method, url, status, retryAfter }) => ({ method, url, status, retryAfter })),
      [
        { method: 'chat.update', url: `${API}chat.update`, status: 503, retryAfter: undefined },
        { method: 'auth.test', url: `${API}auth.test`, status: 429, retryAfter: '30' },
      ],
    );
    assert.doesNotMatch(JSON.stringify(lines), new RegExp(TOKEN));
  });
});
