/**
 * An agent that runs where teams run them: as nobody, without any capability (Kubernetes' restricted profile,
 * Fargate), inside the lab's sweeper namespace whose net.ipv4.ping_group_range covers it. It sends ICMP through ping
 * sockets and says so: once in its log at start, in its heartbeat (`zensweep agents`), on /metrics
 * (zensweep_icmp_mode{mode="ping"} 1) and in the reports of the sweeps it runs.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { DistributedReport } from '../../src/core/report.js';
import { AgentRegistry } from '../../src/queue/registry.js';
import { renderText } from '../../src/views/text.js';
import { cliCommand, zensweep } from '../support/cli.js';
import { createLab, type Lab } from '../support/lab.js';
import { EVERY_GROUP, UNPRIVILEGED } from '../support/ping-netns.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { until } from '../support/wait.js';

describe('an unprivileged agent in the lab: ICMP through ping sockets, said everywhere', () => {
  let lab: Lab;
  let redis: RedisServer;
  let agent: ChildProcess;
  let log = '';
  const id = `ping-agent-${process.pid}`;
  // The lab's sweeper namespace has a port space of its own: only the bridge to Redis listens there.
  const metricsPort = 9464;

  before(async () => {
    assertRoot();
    lab = await createLab();
    const set = await lab.exec(['sysctl', '-q', '-w', `net.ipv4.ping_group_range=${EVERY_GROUP}`]);
    assert.equal(set.code, 0, set.stderr);
    redis = await startRedis({ unixSocket: true });
    await lab.bridgeToHost(redis.port, redis.socketPath ?? '');
    const { lan, behind } = lab.addresses;
    agent = lab.spawn([...UNPRIVILEGED, ...cliCommand(), 'agent'], {
      env: {
        LOG_LEVEL: 'info',
        REDIS_URL: redis.url,
        ZENSWEEP_VPC: 'vpc',
        ZENSWEEP_CIDRS: [lan.v4Cidr, behind.v4Cidr].join(','),
        ZENSWEEP_AGENT_ID: id,
        METRICS_PORT: String(metricsPort),
        METRICS_HOST: '127.0.0.1',
      },
    });
    agent.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));
    agent.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    try {
      const registry = new AgentRegistry(connection);
      await until('the agent to be listed', async () => (await registry.list()).some((a) => a.id === id), { timeoutMs: 20_000, show: () => log });
    } finally {
      connection.disconnect();
    }
  });
  after(async () => {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await new Promise((resolve) => agent.once('exit', resolve));
    }
    await redis?.destroy();
    await lab?.destroy();
  });

  it('says once at start how it sends ICMP, and lists itself with it', async () => {
    const events = log
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const said = events.filter((event) => event.event === 'icmp_mode' || event.event === 'icmp_unavailable');
    assert.deepEqual(
      said.map((event) => [event.event, event.mode, event.msg]),
      [['icmp_mode', 'ping', 'ICMP through a ping socket (no privilege)']],
      log,
    );
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    try {
      const listed = (await new AgentRegistry(connection).list()).find((a) => a.id === id);
      assert.deepEqual([listed?.icmp, listed?.icmpMode], [true, 'ping']);
    } finally {
      connection.disconnect();
    }
    const agents = await zensweep(['agents'], { env: { PATH: process.env.PATH, REDIS_URL: redis.url } });
    assert.equal(agents.code, 0, agents.stderr);
    assert.match(agents.stdout, new RegExp(`${id}.*ICMP \\(ping socket\\)\\+TCP`));
  });

  it('serves zensweep_icmp_mode{mode="ping"} 1 on /metrics', async () => {
    const script = `const r = await fetch('http://127.0.0.1:${metricsPort}/metrics'); console.log(await r.text());`;
    const result = await lab.exec([process.execPath, '--input-type=module', '-e', script]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n').filter((line) => line.startsWith('zensweep_icmp_mode{'));
    assert.deepEqual(lines.sort(), ['zensweep_icmp_mode{mode="off"} 0', 'zensweep_icmp_mode{mode="ping"} 1', 'zensweep_icmp_mode{mode="raw"} 0']);
  });

  it('runs a sweep through ping sockets: alive, prohibited said the router, silent; the report says ping', { timeout: 120_000 }, async () => {
    const { lan, behind, router } = lab.addresses;
    const targets = [...lan.alive.v4, lan.silent.v4, behind.alive.v4, behind.prohibitedByRouter.v4, behind.droppedByRouter.v4];
    const result = await zensweep(['submit', ...targets, 'timeout:500', '--json'], {
      env: { PATH: process.env.PATH, REDIS_URL: redis.url },
      timeoutMs: 110_000,
    });
    assert.equal(result.code, 0, `submit exited ${String(result.code)}:\n${result.stderr}\nagent:\n${log}`);
    const report = JSON.parse(result.stdout) as DistributedReport;
    assert.deepEqual(report.icmp, { available: true, mode: 'ping' });
    const state = (ip: string): string | undefined => report.hosts.find((h) => h.ip === ip)?.state;
    for (const ip of [...lan.alive.v4, behind.alive.v4]) assert.equal(state(ip), 'alive', ip);
    assert.equal(state(lan.silent.v4), 'silent');
    assert.equal(state(behind.droppedByRouter.v4), 'silent');
    const prohibited = report.hosts.find((h) => h.ip === behind.prohibitedByRouter.v4);
    assert.deepEqual([prohibited?.state, prohibited?.reporter?.address], ['prohibited', router.lan.v4]);
    const text = renderText(report);
    assert.match(text, new RegExp(`admin prohibited, said router ${router.lan.v4.replace(/\./g, '\\.')}`));
    assert.match(text, /\n {2}ICMP: ping socket \(no privilege\)\n/);
  });
});
