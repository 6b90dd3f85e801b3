/**
 * `zensweep submit trace|diag` through Redis and a real agent process, on loopback (the host namespace may only be
 * probed at 127.0.0.0/8): routed to the group that covers the host, refused where no agent covers it, and refused
 * by the agent itself outside its CIDRs or outside the requester's scope that travels with the job.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { DiagReport } from '../../src/core/diag.js';
import type { TraceReport } from '../../src/core/trace.js';
import { parseTraceTokens } from '../../src/core/trace-grammar.js';
import { HostJobFailedError, HostJobs } from '../../src/queue/host-jobs.js';
import { sweepQueueName } from '../../src/queue/names.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { zensweep } from '../support/cli.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';

const TIMEOUT = { timeout: 120_000 };

describe('trace and diag through the agents (real redis-server, real agent process)', () => {
  let redis: RedisServer;
  let client: Redis;
  let agent: AgentProcess;
  const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, REDIS_URL: redis.url });

  before(async () => {
    assertRoot();
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    agent = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/16' });
  });
  after(async () => {
    await agent?.kill();
    client?.disconnect();
    await redis?.destroy();
  });

  it('runs submit trace on the agent that covers the host and prints its report, naming the agent', TIMEOUT, async () => {
    const result = await zensweep(['submit', 'trace', '127.0.0.1', 'icmp', '--json'], { env: env() });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /trace trace-\S+ of 127\.0\.0\.1 on lo/);
    const report = JSON.parse(result.stdout) as TraceReport;
    assert.deepEqual(report.agent, { group: 'lo', id: agent.id });
    assert.equal(report.paths[0]?.end, 'reached');
    assert.deepEqual(report.paths[0]?.hops.map((h) => h.responders[0]?.address), ['127.0.0.1']);

    const tcp = JSON.parse((await zensweep(['submit', 'trace', '127.0.0.1', 'tcp:1', '--json'], { env: env() })).stdout) as TraceReport;
    assert.equal(tcp.paths[0]?.tcpState, 'closed', 'RST from a port nobody listens on');
  });

  it('runs submit diag on the agent: a local route, pings, the port, the trace and a path MTU', TIMEOUT, async () => {
    const result = await zensweep(['submit', 'diag', '127.0.0.1', 'tcp:1', '--json'], { env: env() });
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as DiagReport;
    assert.deepEqual(report.agent, { group: 'lo', id: agent.id });
    assert.equal(report.route?.local, true);
    assert.equal(report.route?.device, 'lo');
    assert.equal(report.source?.cidr, '127.0.0.1/8');
    assert.equal(report.host?.icmp.received, 10);
    assert.equal(report.host?.ports[0]?.state, 'closed');
    assert.equal(report.pathMtu?.interfaceMtu, 65_536);
    assert.ok((report.pathMtu?.pathMtu ?? 0) >= 9001, '1500, 8500 and 9001 pass on lo');
    const text = await zensweep(['submit', 'diag', '127.0.0.1', 'tcp:1'], { env: env() });
    assert.match(text.stdout, new RegExp(`^ZenSweep diag: 127\\.0\\.0\\.1 from agent ${agent.id} \\(group lo\\)`));
  });

  it('refuses a host no agent covers with exit 2, and enqueues nothing', TIMEOUT, async () => {
    const queue = new Queue(sweepQueueName('lo'), { connection: client });
    const before = await queue.getJobCounts();
    const result = await zensweep(['submit', 'trace', '198.18.0.1'], { env: env() });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no live agent covers 198\.18\.0\.1/);
    assert.deepEqual(await queue.getJobCounts(), before);
    const bad = await zensweep(['submit', 'trace', '127.0.0.0/24'], { env: env() });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /one host/);
    await queue.close();
  });

  it('has the agent refuse a job outside its CIDRs or outside the requester scope it carries', TIMEOUT, async () => {
    const jobs = new HostJobs(client);
    try {
      const outside = await jobs.submit({ kind: 'trace', request: parseTraceTokens(['127.1.0.1', 'icmp']) }, { group: 'lo' }, 'test');
      await assert.rejects(jobs.wait(outside, 30_000), (error: unknown) => {
        assert.ok(error instanceof HostJobFailedError);
        assert.match(error.message, /127\.1\.0\.1 is outside the networks this agent may probe \(127\.0\.0\.0\/16\)/);
        return true;
      });
      const scoped = await jobs.submit(
        { kind: 'trace', request: parseTraceTokens(['localhost', 'icmp']) },
        { group: 'lo', scope: ['127.0.0.2/32'] },
        'test',
      );
      await assert.rejects(jobs.wait(scoped, 30_000), /127\.0\.0\.1 \(localhost\) is outside the networks the policy lets the requester sweep \(127\.0\.0\.2\/32\)/);
    } finally {
      await jobs.close();
    }
  });
});

describe('trace and diag through an agent with ZENSWEEP_ICMP=off (real redis-server, real agent process, as root)', () => {
  let redis: RedisServer;
  let agent: AgentProcess;
  const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, REDIS_URL: redis.url });

  before(async () => {
    assertRoot();
    redis = await startRedis();
    agent = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/16', env: { ZENSWEEP_ICMP: 'off' } });
  });
  after(async () => {
    await agent?.kill();
    await redis?.destroy();
  });

  it('refuses an ICMP trace naming the setting; auto traces TCP and says why; a diag sends no echo and says why', TIMEOUT, async () => {
    const icmp = await zensweep(['submit', 'trace', '127.0.0.1', 'icmp'], { env: env() });
    assert.notEqual(icmp.code, 0, icmp.stdout);
    assert.equal(icmp.stdout, '');
    assert.match(icmp.stderr, /an ICMP trace sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here/);
    assert.doesNotMatch(icmp.stderr, /ping_group_range|NET_RAW|raw socket/);

    const auto = JSON.parse((await zensweep(['submit', 'trace', '127.0.0.1', '--json'], { env: env() })).stdout) as TraceReport;
    assert.deepEqual(auto.paths.map((p) => [p.mode, p.sockets]), [['tcp', 'connect']]);
    assert.equal(auto.warning, 'ICMP not traced: an ICMP trace sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here');

    const result = await zensweep(['submit', 'diag', '127.0.0.1', 'tcp:1', '--json'], { env: env() });
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as DiagReport;
    assert.deepEqual(report.agent, { group: 'lo', id: agent.id });
    assert.deepEqual([report.host?.icmp.sent, report.host?.ports[0]?.state], [0, 'closed']);
    assert.deepEqual([report.icmp?.mode, report.icmp?.reason], ['off', 'setting']);
    assert.equal(report.pathMtu, undefined);
    assert.equal(report.pathMtuNotMeasured, 'the path MTU search sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here');
    const text = (await zensweep(['submit', 'diag', '127.0.0.1', 'tcp:1'], { env: env() })).stdout;
    assert.match(text, /\nPing \(no echo\)\n {2}ICMP not sent: ZENSWEEP_ICMP=off\n/);
    assert.match(text, /\nPath MTU to 127\.0\.0\.1: not measured: the path MTU search sends ICMP echo, and ZENSWEEP_ICMP=off sends none from here\n/);
    assert.doesNotMatch(text, /ping_group_range|NET_RAW/);
  });
});
