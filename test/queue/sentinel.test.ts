/**
 * ZenSweep on Redis with Sentinels (a master, a replica, three Sentinels, all real, on 127.0.0.1): an agent and the
 * command line find the master through the Sentinels (REDIS_SENTINELS, REDIS_SENTINEL_MASTER, with a password); after
 * a planned failover (SENTINEL FAILOVER, the old master still up) and after the master is killed (SIGKILL), the same
 * agent process takes new work without a restart — a sweep submitted after the failover runs on it at once — and
 * writes only JSON lines meanwhile, the outage said once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { redisTargetFromEnv } from '../../src/config-redis.js';
import { ioredisOptions } from '../../src/queue/connect.js';
import type { DistributedReport } from '../../src/core/report.js';
import { sentinelsWithAgent } from '../support/failover.js';
import { zensweep } from '../support/cli.js';
import { SENTINEL_MASTER } from '../support/redis-sentinel.js';
import { assertRefusedAtStart, WRONG_PASSWORD } from '../support/refused.js';

const PASSWORD = 'zs-sentinel-s3cret';

describe('Redis through Sentinels: a failover, and the same agent takes the next sweep (real redis-server and Sentinels)', () => {
  const lab = sentinelsWithAgent(PASSWORD, 'ha', '127.0.0.0/24');

  /** How long the sweep's first chunk waited in the queue before an agent took it, in ms (BullMQ's own stamps). */
  async function chunkWait(sweepId: string): Promise<number> {
    const redis = new Redis({ ...ioredisOptions(redisTargetFromEnv(lab.set.env)), lazyConnect: true });
    try {
      await redis.connect();
      const [queued, taken] = await redis.hmget(`bull:sweep.{ha}:${sweepId}.0`, 'timestamp', 'processedOn');
      assert.ok(queued && taken, `no stamps on the chunk of ${sweepId}`);
      return Number(taken) - Number(queued);
    } finally {
      redis.disconnect();
    }
  }

  async function submit(): Promise<DistributedReport> {
    const result = await zensweep(['submit', '127.0.0.0/29', '--json'], { env: lab.env, timeoutMs: 60_000 });
    assert.equal(result.code, 0, `submit exited ${String(result.code)}:\n${result.stderr}\nagent:\n${lab.agent.log()}`);
    return JSON.parse(result.stdout) as DistributedReport;
  }

  it('says a wrong password in one line and exits 2 (agent, bot, submit)', { timeout: 90_000 }, async () => {
    await assertRefusedAtStart({ ...lab.env, REDIS_PASSWORD: 'not-the-password' }, /master zsmaster of the Sentinels [\d.:,]+/, WRONG_PASSWORD, [PASSWORD]);
  });

  it('sweeps through the master the Sentinels name', { timeout: 60_000 }, async () => {
    assert.equal(await lab.set.masterPort(), lab.set.master.port);
    const report = await submit();
    assert.equal(report.complete, true);
    assert.equal(report.summary.alive, 6);
    assert.deepEqual([...new Set(report.chunks.map((c) => c.agentId))], [lab.agent.id]);
  });

  it('takes the next sweep at once after a planned failover, the old master still up as a replica', { timeout: 120_000 }, async () => {
    const sentinel = new Redis(lab.set.sentinelPorts[0] ?? 0, '127.0.0.1');
    try {
      assert.equal(await sentinel.call('SENTINEL', 'FAILOVER', SENTINEL_MASTER), 'OK');
    } finally {
      sentinel.disconnect();
    }
    assert.equal(await lab.set.failedOverFrom(lab.set.master.port), lab.set.replica.port);
    const report = await submit();
    assert.equal(report.complete, true);
    assert.deepEqual([...new Set(report.chunks.map((c) => c.agentId))], [lab.agent.id]);
    // Not deaf: the chunk was taken as soon as it was queued. A worker still blocked on the old master (now a
    // replica, where no job comes) took it about 7 s later, measured; each connection now hears the Sentinels'
    // +switch-master and moves at once (a few ms here). The bound is generous for a loaded machine.
    const waited = await chunkWait(report.sweepId);
    assert.ok(waited < 4000, `the chunk waited ${waited} ms for the agent`);
  });

  it('takes the next sweep on the same agent process once the master is killed and the replica promoted', { timeout: 120_000 }, async () => {
    const pid = lab.agent.child.pid;
    const before = lab.agent.stdout().split('\n').length;
    const master = (await lab.set.masterPort()) === lab.set.master.port ? lab.set.master : lab.set.replica;
    const replica = master === lab.set.master ? lab.set.replica : lab.set.master;
    await master.kill();
    const promoted = await lab.set.failedOverFrom(master.port);
    assert.equal(promoted, replica.port);
    const report = await submit();
    assert.equal(report.complete, true);
    assert.equal(report.summary.alive, 6);
    assert.deepEqual([...new Set(report.chunks.map((c) => c.agentId))], [lab.agent.id]);
    assert.equal(lab.agent.child.exitCode, null, 'the agent still runs');
    assert.equal(lab.agent.child.pid, pid);
    const listed = await zensweep(['agents'], { env: lab.env, timeoutMs: 30_000 });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(lab.agent.id));
    // Through the failover: JSON lines only, the outage said once when it starts and once when it ends (never a
    // line per connection and attempt), and never the password.
    const lines = lab.agent.stdout().split('\n').slice(before - 1).filter((line) => line !== '');
    for (const line of lines) assert.match(line, /^\{.*\}$/);
    const events = lines.map((line) => (JSON.parse(line) as { event?: string }).event);
    assert.ok(events.length <= 3 && events.every((e) => e === 'redis_down' || e === 'redis_up'), `through the failover the agent wrote:\n${lines.join('\n')}`);
    assert.equal(lab.agent.stderr(), '');
    assert.ok(!lab.agent.log().includes(PASSWORD), 'the password was written');
  });
});
