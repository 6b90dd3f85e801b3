/**
 * `BENCH_ONLY=failover npm run bench` (or `tsx bench/redis-failover.ts`): a rate-capped /16 (4,000 addresses a second,
 * about 16 s) through one agent, with and without a failover in its middle, on the same machine in the same run,
 * alternating, BENCH_RUNS times (default 3), medians:
 *
 *  - Sentinels (a master, a replica, three Sentinels, down-after 1 s), and a Redis Cluster (three masters, each with a
 *    replica, node timeout 2 s): without a failover, the sweep's time; with one (the replica stopped 2.5 s so that it
 *    falls behind, then the master killed: test/support/failover.ts), the sweep's time, the time from the master's
 *    death to the report, and what was lost, doubled and run again.
 */
import { startAgentOn } from '../test/support/agents.js';
import { sweepThroughFailover, sweepAccount, FAILOVER_SWEEP } from '../test/support/failover.js';
import { startRedisCluster } from '../test/support/redis-cluster.js';
import { startSentinelSet } from '../test/support/redis-sentinel.js';
import { zensweep } from '../test/support/cli.js';
import type { DistributedReport } from '../src/core/report.js';
import { sweepQueueName } from '../src/queue/names.js';

const PASSWORD = 'zs-bench-failover';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

interface Row {
  sweepMs: number;
  killedToEndMs?: number;
  lostBytes?: number;
  missing: number;
  doubled: number;
  reRun: number;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

/** One run on a fresh set of servers: `failover` or not. */
async function once(kind: 'sentinel' | 'cluster', failover: boolean): Promise<Row> {
  const sentinels = kind === 'sentinel' ? await startSentinelSet({ password: PASSWORD }) : undefined;
  const cluster = kind === 'cluster' ? await startRedisCluster({ masters: 3, replicasPerMaster: 1, password: PASSWORD }) : undefined;
  const env = { PATH: process.env.PATH, ...(sentinels?.env ?? cluster?.env) };
  const agent = await startAgentOn(env, 'ha', '127.0.0.0/16');
  try {
    if (!failover) {
      const result = await zensweep(['submit', ...FAILOVER_SWEEP, '--json'], { env, timeoutMs: 180_000 });
      if (result.code !== 0) throw new Error(result.stderr);
      const report = JSON.parse(result.stdout) as DistributedReport;
      return { sweepMs: report.durationMs, ...sweepAccount(report) };
    }
    let run;
    if (sentinels) {
      run = await sweepThroughFailover(env, agent, 'ha', {
        masterPort: sentinels.master.port,
        password: PASSWORD,
        freezeReplica: (ms) => sentinels.replica.freeze(ms),
        killMaster: () => sentinels.master.kill(),
        promoted: () => sentinels.failedOverFrom(sentinels.master.port, 60_000),
      });
    } else if (cluster) {
      const key = `bull:${sweepQueueName('ha')}:id`;
      const masterPort = await cluster.masterOf(key);
      const master = cluster.masters.find((m) => m.port === masterPort);
      const replica = await cluster.replicaOf(masterPort);
      if (!master) throw new Error('no master');
      run = await sweepThroughFailover(env, agent, 'ha', {
        masterPort,
        password: PASSWORD,
        freezeReplica: (ms) => replica.freeze(ms),
        killMaster: () => master.kill(),
        promoted: () => cluster.failedOverFrom(masterPort, key, 60_000),
      });
    } else throw new Error('no servers');
    return { sweepMs: run.report.durationMs, killedToEndMs: run.killedToEndMs, lostBytes: run.lostBytes, missing: run.missing, doubled: run.doubled, reRun: run.reRun };
  } finally {
    await agent.stop();
    await sentinels?.destroy();
    await cluster?.destroy();
  }
}

export async function benchRedisFailover(): Promise<void> {
  console.log(`\nFailover in the middle of a rate-capped /16 (${FAILOVER_SWEEP.join(' ')}), one agent; medians of ${RUNS}, alternating`);
  for (const kind of ['sentinel', 'cluster'] as const) {
    const without: Row[] = [];
    const withFailover: Row[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      without.push(await once(kind, false));
      withFailover.push(await once(kind, true));
    }
    const w = median(without.map((r) => r.sweepMs));
    const f = median(withFailover.map((r) => r.sweepMs));
    const sum = (rows: Row[], k: 'missing' | 'doubled' | 'reRun'): number => rows.reduce((n, r) => n + r[k], 0);
    console.log(
      `  ${kind.padEnd(8)} sweep ${(w / 1000).toFixed(1)} s without, ${(f / 1000).toFixed(1)} s with a failover (×${(f / w).toFixed(2)}); ` +
        `master's death → report ${(median(withFailover.map((r) => r.killedToEndMs ?? NaN)) / 1000).toFixed(1)} s; ` +
        `replica behind by ${Math.round(median(withFailover.map((r) => r.lostBytes ?? NaN)) / 1000)} kB; ` +
        `over ${RUNS} runs: ${sum(withFailover, 'missing')} addresses lost, ${sum(withFailover, 'doubled')} doubled, ` +
        `${withFailover.map((r) => r.reRun).join('/')} chunks of 256 run again (without: ${without.map((r) => r.reRun).join('/')})`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) await benchRedisFailover();
