/**
 * A failover in the middle of a sweep loses nothing and doubles nothing (real redis-servers, a real agent): a
 * rate-capped /16 through one agent; mid-sweep the replica is stopped so that it falls behind, then the master is
 * killed and the replica promoted having missed the master's last writes — chunk ends, progress, results, as
 * asynchronous replication loses them (test/support/failover.ts). The sweep finishes on the promoted replica with
 * every one of the 65,534 addresses reported exactly once, each of the 256 chunks once, on the same agent process,
 * which writes only JSON lines throughout. Through Sentinels, and on a Redis Cluster (three masters, each with a
 * replica: the master of the group's slot is killed and the cluster promotes its replica).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { DistributedReport } from '../../src/core/report.js';
import { partQueueName, sweepQueueName } from '../../src/queue/names.js';
import { startAgentOn, type AgentProcess } from '../support/agents.js';
import { zensweep } from '../support/cli.js';
import { sentinelsWithAgent, sweepThroughFailover, type Failover } from '../support/failover.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { notJsonLines } from '../support/service.js';
import { until } from '../support/wait.js';

const PASSWORD = 'zs-failover-s3cret';

/** Runs the /16 through a failover and checks every address and chunk came back once on the same agent process. */
async function checkedFailover(t: { diagnostic(message: string): void }, env: NodeJS.ProcessEnv, agent: AgentProcess, failover: Failover): Promise<void> {
  const pid = agent.child.pid;
  const run = await sweepThroughFailover(env, agent, 'ha', failover);
  const { report } = run;
  // The failover really lost writes: otherwise this test proves nothing.
  assert.ok(run.lostBytes > 0, `the promoted replica missed no write (lost ${run.lostBytes} bytes)`);
  assert.equal(report.complete, true, JSON.stringify(report.failures));
  assert.equal(report.hosts.length, 65_534);
  assert.deepEqual([run.missing, run.doubled], [0, 0], 'addresses missing, doubled');
  assert.equal(report.summary.alive, 65_534);
  assert.deepEqual(
    report.chunks.map((c) => c.index).sort((a, b) => a - b),
    Array.from({ length: 256 }, (_, i) => i),
    'each chunk once',
  );
  assert.deepEqual([...new Set(report.chunks.map((c) => c.agentId))], [agent.id]);
  assert.equal(agent.child.pid, pid);
  assert.equal(agent.child.exitCode, null, 'the agent still runs');
  t.diagnostic(
    `failover mid-/16: the promoted replica missed ${run.lostBytes} bytes of the master's writes; ${run.reRun} of 256 ` +
      `chunks ran again; the report came ${(run.killedToEndMs / 1000).toFixed(1)} s after the master died, the sweep took ` +
      `${(report.durationMs / 1000).toFixed(1)} s`,
  );
  // Only JSON lines, nothing on stderr, never the password.
  assert.deepEqual(notJsonLines(agent), []);
  assert.equal(agent.stderr(), '');
  assert.ok(!agent.log().includes(PASSWORD), 'the password was written');
}

describe('a failover in the middle of a /16 through Sentinels: every address once (real redis-servers, Sentinels, agent)', () => {
  const lab = sentinelsWithAgent(PASSWORD, 'ha', '127.0.0.0/16');

  it('finishes on the promoted replica with each of the 65,534 addresses and 256 chunks once', { timeout: 240_000 }, async (t) => {
    const { set, agent, env } = lab;
    await checkedFailover(t, env, agent, {
      masterPort: set.master.port,
      password: PASSWORD,
      freezeReplica: (ms) => set.replica.freeze(ms),
      killMaster: () => set.master.kill(),
      promoted: async () => {
        const port = await set.failedOverFrom(set.master.port, 60_000);
        assert.equal(port, set.replica.port);
        return port;
      },
    });
  });
});

describe('a failover in the middle of a /16 on a cluster: every address once (real 3 masters with replicas, agent)', () => {
  let cluster: RedisCluster;
  let agent: AgentProcess;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, password: PASSWORD });
    env = { PATH: process.env.PATH, ...cluster.env };
    agent = await startAgentOn(cluster.env, 'ha', '127.0.0.0/16');
  });
  after(async () => {
    await agent?.stop();
    await cluster?.destroy();
  });

  it('kills the master of the group’s slot; the sweep finishes on its promoted replica with each address once', { timeout: 240_000 }, async (t) => {
    const key = `bull:${sweepQueueName('ha')}:id`;
    const masterPort = await cluster.masterOf(key);
    const master = cluster.masters.find((m) => m.port === masterPort);
    assert.ok(master);
    const replica = await cluster.replicaOf(masterPort);
    await checkedFailover(t, env, agent, {
      masterPort,
      password: PASSWORD,
      freezeReplica: (ms) => replica.freeze(ms),
      killMaster: () => master.kill(),
      promoted: async () => {
        const port = await cluster.failedOverFrom(masterPort, key, 60_000);
        assert.equal(port, replica.port);
        return port;
      },
    });
  });
});

describe('a sweep lost whole right after it was submitted is submitted again by its waiter (real redis-servers, Sentinels, agent)', () => {
  const lab = sentinelsWithAgent(PASSWORD, 'ha', '127.0.0.0/24');

  it('finds its part gone with no report after the failover, submits the same jobs again, and reports every address once', { timeout: 240_000 }, async () => {
    const { set, agent, env } = lab;
    const master = new Redis({ port: set.master.port, host: '127.0.0.1', password: PASSWORD });
    try {
      // The replica cut off first: the sweep, from its submission on, lives only on the master that dies.
      const frozen = set.replica.freeze(8000);
      await master.call('CLIENT', 'KILL', 'TYPE', 'replica');
      // Four echoes a second apart: its chunk takes about 3 s, so the master dies before the sweep ends.
      const submitted = zensweep(['submit', '127.0.0.0/28', 'count:4', 'interval:1000', '--json'], { env, timeoutMs: 180_000 });
      const partPattern = `bull:${partQueueName('ha')}:*.ha`;
      await until('the sweep enqueued on the master', async () => (await master.keys(partPattern)).length === 1, { show: () => agent.log() });
      const [partKey] = await master.keys(partPattern);
      assert.equal(await master.hget(partKey ?? '', 'finishedOn'), null, 'killed before the sweep ended');
      master.disconnect();
      await set.master.kill();
      await frozen;
      const promotedPort = await set.failedOverFrom(set.master.port, 60_000);
      assert.equal(promotedPort, set.replica.port);

      const result = await submitted;
      assert.equal(result.code, 0, `submit exited ${String(result.code)}:\n${result.stderr}\nagent:\n${agent.log()}`);
      // It was really lost: its waiter found the part gone with no report, and said so on stderr.
      assert.match(result.stderr, /zensweep: sweep \S+ was lost by Redis \(a failover\?\) on ha: submitted again\n/);
      const report = JSON.parse(result.stdout) as DistributedReport;
      assert.equal(report.complete, true, JSON.stringify(report.failures));
      assert.equal(`bull:${partQueueName('ha')}:${report.sweepId}.ha`, partKey);
      assert.deepEqual(report.hosts.map((h) => h.ip), Array.from({ length: 14 }, (_, i) => `127.0.0.${i + 1}`));
      assert.equal(report.summary.alive, 14);
      assert.deepEqual([...new Set(report.chunks.map((c) => c.agentId))], [agent.id]);
      assert.deepEqual(notJsonLines(agent), []);
      assert.equal(agent.stderr(), '');
      assert.ok(!agent.log().includes(PASSWORD) && !result.stderr.includes(PASSWORD), 'the password was written');
    } finally {
      master.disconnect();
    }
  });
});
