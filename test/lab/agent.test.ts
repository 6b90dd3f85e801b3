/**
 * An agent inside the lab, as inside a VPC: it runs in the sweeper namespace (no default route), reaches the test's
 * redis-server through the lab's Unix-socket bridge, and sweeps the mostly empty routed range, where the router
 * drops every packet to an empty address without a word. `zensweep submit` runs in the host namespace: it only
 * talks to Redis.
 *
 * As root (raw sockets), and again with the agent as nobody without any capability in a sweeper namespace whose
 * net.ipv4.ping_group_range covers it (ping sockets, the addon's connects): the same answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DistributedReport } from '../../src/core/report.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { zensweep } from '../support/cli.js';
import { createLab, type Lab } from '../support/lab.js';
import { EVERY_GROUP, UNPRIVILEGED } from '../support/ping-netns.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';

for (const privilege of ['root', 'unprivileged'] as const) describe(`zensweep submit through an agent in the network lab (${privilege})`, () => {
  let lab: Lab;
  let redis: RedisServer;
  let agent: AgentProcess;

  before(async () => {
    assertRoot();
    lab = await createLab();
    redis = await startRedis({ unixSocket: true });
    await lab.bridgeToHost(redis.port, redis.socketPath ?? '');
    // Per namespace: the sweeper's only, never the host's.
    const set = await lab.exec(['sysctl', '-q', '-w', `net.ipv4.ping_group_range=${EVERY_GROUP}`]);
    assert.equal(set.code, 0, set.stderr);
    const { routed, lan } = lab.addresses;
    const wrapper = privilege === 'root' ? [] : UNPRIVILEGED;
    agent = await startAgent({ redisUrl: redis.url, group: 'vpc', cidrs: [routed.v4Cidr, lan.v4Cidr, lan.v6Cidr].join(','), netns: lab.sweeperNs, wrapper });
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
    assert.deepEqual([...new Set(report.chunks.map((c) => c.icmpMode))], [privilege === 'root' ? 'raw' : 'ping']);
    assert.equal(report.summary.total, 4094 + 254);
    assert.equal(new Set(report.hosts.map((h) => h.ip)).size, report.hosts.length, 'an address is reported twice');
    assert.deepEqual(report.hosts.filter((h) => h.state !== 'silent').map((h) => [h.ip, h.state]), live.map((ip) => [ip, 'alive']));
    const silent = report.hosts.find((h) => h.ip === empty);
    assert.deepEqual([silent?.state, silent?.icmp.sent, silent?.icmp.received], ['silent', 2, 0]);
    assert.ok(report.chunks.every((c) => c.agentId === agent.id));
    // Routed: nothing of layer 2 is known of these, and nothing is said.
    assert.deepEqual(report.hosts.filter((h) => 'link' in h || 'mac' in h), []);
  });

  it('tells, for the chunks of an on-link LAN, the host that answers ARP/ND and drops everything from the empty addresses', { timeout: 120_000 }, async () => {
    const { lan } = lab.addresses;
    const result = await zensweep(['submit', lan.v4Cidr, lan.v6Cidr, `tcp:${lan.rds.openPort}`, 'timeout:500', '--json'], {
      env: { PATH: process.env.PATH, REDIS_URL: redis.url },
      timeoutMs: 110_000,
    });
    assert.equal(result.code, 0, `submit exited ${result.code}:\n${result.stderr}\nagent:\n${agent.log()}`);
    const report = JSON.parse(result.stdout) as DistributedReport;
    assert.equal(report.complete, true);
    assert.deepEqual([...new Set(report.chunks.map((c) => c.icmpMode))], [privilege === 'root' ? 'raw' : 'ping']);
    const linkOf = (ip: string): [string | undefined, string | undefined, string | undefined] => {
      const found = report.hosts.find((h) => h.ip === ip);
      return [found?.state, found?.link, found?.mac];
    };
    const bridge = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
    for (const ip of [lan.silent.v4, lan.silent.v6]) {
      const [state, link, mac] = linkOf(ip);
      assert.deepEqual([state, link], ['silent', 'answered'], ip);
      assert.match(mac ?? '', bridge, ip);
    }
    for (const ip of [lan.empty.v4, lan.empty.v6]) assert.deepEqual(linkOf(ip).slice(1), ['no_answer', undefined], ip);
    assert.deepEqual(linkOf(lan.alive.v4[0] ?? '').slice(0, 2), ['alive', 'answered']);
    // The agent's engine read its own namespace's table: the MAC is the LAN bridge's, the same for every LAN host.
    assert.equal(linkOf(lan.alive.v4[0] ?? '')[2], linkOf(lan.silent.v4)[2]);
    assert.equal(report.hosts.filter((h) => h.link === 'no_answer' && !h.ip.includes(':')).length, 245);
  });
});
