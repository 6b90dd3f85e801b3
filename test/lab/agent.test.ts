/**
 * An agent inside the lab, as inside a VPC: it runs in the sweeper namespace (no default route), reaches the test's
 * redis-server through the lab's Unix-socket bridge, and sweeps the mostly empty routed range, where the router
 * drops every packet to an empty address without a word. `zensweep submit` runs in the host namespace: it only
 * talks to Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DistributedReport } from '../../src/core/report.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { zensweep } from '../support/cli.js';
import { createLab, type Lab } from '../support/lab.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';

describe('zensweep submit through an agent in the network lab', () => {
  let lab: Lab;
  let redis: RedisServer;
  let agent: AgentProcess;

  before(async () => {
    assertRoot();
    lab = await createLab();
    redis = await startRedis({ unixSocket: true });
    await lab.bridgeToHost(redis.port, redis.socketPath ?? '');
    agent = await startAgent({ redisUrl: redis.url, group: 'vpc', cidrs: lab.addresses.routed.v4Cidr, netns: lab.sweeperNs });
  });
  after(async () => {
    await agent?.stop();
    await redis?.destroy();
    await lab?.destroy();
  });

  it('finds the live addresses of the routed range and reports every other one silent, each once', { timeout: 120_000 }, async () => {
    const { live, empty } = lab.addresses.routed;
    // A /20 holding the first live address and the empty one, and the /24 of the other live address.
    const targets = ['198.19.0.0/20', `${live[1]?.replace(/\.\d+$/, '')}.0/24`];
    const result = await zensweep(['submit', ...targets, 'timeout:500', '--json'], {
      env: { PATH: process.env.PATH, REDIS_URL: redis.url },
      timeoutMs: 110_000,
    });
    assert.equal(result.code, 0, `submit exited ${result.code}:\n${result.stderr}\nagent:\n${agent.log()}`);
    const report = JSON.parse(result.stdout) as DistributedReport;
    assert.equal(report.complete, true);
    assert.equal(report.summary.total, 4094 + 254);
    assert.equal(new Set(report.hosts.map((h) => h.ip)).size, report.hosts.length, 'an address is reported twice');
    assert.deepEqual(report.hosts.filter((h) => h.state !== 'silent').map((h) => [h.ip, h.state]), live.map((ip) => [ip, 'alive']));
    const silent = report.hosts.find((h) => h.ip === empty);
    assert.deepEqual([silent?.state, silent?.icmp.sent, silent?.icmp.received], ['silent', 2, 0]);
    assert.ok(report.chunks.every((c) => c.agentId === agent.id));
  });
});
