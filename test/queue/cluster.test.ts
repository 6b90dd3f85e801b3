/**
 * ZenSweep on a Redis Cluster (three masters, real redis-servers with `cluster-enabled`, REDIS_CLUSTER_NODES): two
 * agent groups whose queues live on different masters (a hash tag per group), one sweep across both groups put
 * back together as one report, the commands that read Redis (`agents`, `history`, a second sweep that says what
 * changed), and no CROSSSLOT or other error anywhere in what the agents and the commands write.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DistributedReport } from '../../src/core/report.js';
import { partQueueName, sweepQueueName } from '../../src/queue/names.js';
import { startAgentOn, type AgentProcess } from '../support/agents.js';
import { zensweep } from '../support/cli.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { assertRefusedAtStart, WRONG_PASSWORD } from '../support/refused.js';
import { notJsonLines } from '../support/service.js';

const TIMEOUT = { timeout: 120_000 };
const PASSWORD = 'zs-cluster-s3cret';

describe('Redis Cluster: groups spread over masters, one sweep across them (real 3-master cluster, agents)', () => {
  let cluster: RedisCluster;
  let env: NodeJS.ProcessEnv;
  const agents: AgentProcess[] = [];
  const groups: string[] = [];

  before(async () => {
    cluster = await startRedisCluster({ masters: 3, password: PASSWORD });
    env = { PATH: process.env.PATH, ...cluster.env };
    // Two group names whose hash tags fall on different masters (fixed slots: the same two every run).
    const masters = new Map<number, string>();
    for (const name of ['east', 'west', 'north', 'south', 'core', 'edge', 'lab', 'dmz']) {
      const master = await cluster.masterOf(`bull:${sweepQueueName(name)}:id`);
      if (!masters.has(master)) masters.set(master, name);
      if (masters.size === 2) break;
    }
    groups.push(...masters.values());
    assert.equal(groups.length, 2);
    const [first, second] = groups as [string, string];
    agents.push(await startAgentOn(cluster.env, first, '127.0.0.0/25'));
    agents.push(await startAgentOn(cluster.env, second, '127.0.0.128/25'));
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await cluster?.destroy();
  });

  async function submit(...args: string[]): Promise<DistributedReport> {
    const result = await zensweep(['submit', ...args, '--json'], { env, timeoutMs: 60_000 });
    assert.equal(result.code, 0, `submit exited ${String(result.code)}:\n${result.stderr}\n${agents.map((a) => a.log()).join('\n')}`);
    assert.doesNotMatch(result.stderr, /CROSSSLOT|error/i);
    return JSON.parse(result.stdout) as DistributedReport;
  }

  it('sweeps across two groups on different masters and puts the report together once', TIMEOUT, async () => {
    const report = await submit('127.0.0.0/24');
    assert.equal(report.complete, true, JSON.stringify(report.failures));
    assert.equal(report.summary.alive, 254);
    assert.deepEqual([...report.groups].sort(), [...groups].sort());
    assert.deepEqual([...new Set(report.chunks.map((c) => c.agentId))].sort(), agents.map((a) => a.id).sort());
    // Each address once.
    assert.equal(new Set(report.hosts.map((h) => h.ip)).size, 254);

    // Each group's chunks and parts are on its own master; the two masters differ.
    const [first, second] = groups as [string, string];
    const masterOfFirst = await cluster.masterOf(`bull:${sweepQueueName(first)}:${report.sweepId}.0`);
    const masterOfSecond = await cluster.masterOf(`bull:${sweepQueueName(second)}:${report.sweepId}.1`);
    assert.notEqual(masterOfFirst, masterOfSecond);
    assert.equal(await cluster.masterOf(`bull:${partQueueName(first)}:x`), masterOfFirst);
    // What each master holds: a group's queue keys on its own master only.
    for (const [group, master] of [[first, masterOfFirst], [second, masterOfSecond]] as const) {
      for (const port of cluster.masters.map((m) => m.port)) {
        const held = await cluster.keysOn(port, `bull:sweep.{${group}}*`);
        if (port === master) assert.ok(held.length > 0, `master ${port} holds group ${group}'s queue`);
        else assert.deepEqual(held, [], `master ${port} holds none of group ${group}'s queue`);
      }
    }
  });

  it('answers agents and history, and says what changed on the next sweep', TIMEOUT, async () => {
    const listed = await zensweep(['agents'], { env, timeoutMs: 30_000 });
    assert.equal(listed.code, 0, listed.stderr);
    for (const agent of agents) assert.ok(listed.stdout.includes(agent.id), listed.stdout);
    const again = await submit('127.0.0.0/24');
    assert.ok(again.changes, 'compared with the sweep before');
    assert.equal(again.changes?.diff.changed.length ?? -1, 0);
    const history = await zensweep(['history'], { env, timeoutMs: 30_000 });
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /127\.0\.0\.0\/24/);
  });

  it('says a wrong password in one line and exits 2 (agent, bot, submit), not "Failed to refresh slots cache."', TIMEOUT, async () => {
    await assertRefusedAtStart({ ...env, REDIS_PASSWORD: 'not-the-password' }, /the cluster of [\d.:,]+/, WRONG_PASSWORD, [PASSWORD]);
  });

  it('writes only JSON lines, with no error, on the agents', () => {
    for (const agent of agents) {
      assert.deepEqual(notJsonLines(agent), [], agent.log());
      assert.doesNotMatch(agent.log(), /CROSSSLOT|"level":50/, agent.log());
    }
  });
});
