/**
 * A sweep through a failover, for the failover tests and the benchmark (bench/redis-failover.ts): a rate-capped /16
 * through one agent; mid-sweep the replica is stopped (SIGSTOP) and its link to the master cut, so that it falls
 * behind, then the master is killed (SIGKILL) and the replica, resumed, is promoted having missed the master's last
 * writes. Returns the report and what
 * the failover cost: the bytes of the master's writes the promoted replica never had, and the time from the master's
 * death to the report.
 */
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import type { DistributedReport } from '../../src/core/report.js';
import { sweepQueueName } from '../../src/queue/names.js';
import { startAgentOn, type AgentProcess } from './agents.js';
import { zensweep } from './cli.js';
import { startSentinelSet, type SentinelSet } from './redis-sentinel.js';
import { until } from './wait.js';

/** 65,534 addresses at 4,000 a second: about 16 s, time to fail over in the middle. */
export const FAILOVER_SWEEP = ['127.0.0.0/16', 'count:1', 'retries:0', 'rate:4000'];
/** How long the replica is stopped before the master dies, in ms: what the master writes meanwhile is lost. */
const BEHIND_MS = 2500;

function info(text: string, field: string): number {
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}

export interface Failover {
  /** The master that holds the group's queue, where its chunks' ends are counted. */
  masterPort: number;
  password: string;
  /** Stops its replica for `ms` (it falls behind by what the master writes meanwhile). */
  freezeReplica(ms: number): Promise<void>;
  /** SIGKILL the master. */
  killMaster(): Promise<void>;
  /** Waits for the failover; the promoted replica's port. */
  promoted(): Promise<number>;
}

export interface FailoverRun {
  report: DistributedReport;
  /** Bytes of the master's replication stream the promoted replica never applied. */
  lostBytes: number;
  /** From the master's death to the report, in ms. */
  killedToEndMs: number;
  /** Addresses planned and not in the report, addresses in it more than once, chunks that ran more than once. */
  missing: number;
  doubled: number;
  reRun: number;
}

/** What a report of the /16 says of lost, doubled and re-run work. */
export function sweepAccount(report: DistributedReport): Pick<FailoverRun, 'missing' | 'doubled' | 'reRun'> {
  const unique = new Set(report.hosts.map((h) => h.ip)).size;
  return {
    missing: 65_534 - unique,
    doubled: report.hosts.length - unique,
    reRun: report.chunks.filter((c) => c.attempt > 1 || c.stalled > 0).length,
  };
}

/** Runs the /16 through `agent` (group `group`) and, when `failover` is given, fails over in its middle. */
export async function sweepThroughFailover(env: NodeJS.ProcessEnv, agent: AgentProcess, group: string, failover: Failover): Promise<FailoverRun> {
  const master = new Redis({ port: failover.masterPort, host: '127.0.0.1', password: failover.password });
  try {
    const submitted = zensweep(['submit', ...FAILOVER_SWEEP, '--json'], { env, timeoutMs: 180_000 });
    // Mid-sweep: some chunks done, most not.
    await until('a tenth of the chunks done', async () => (await master.zcard(`bull:${sweepQueueName(group)}:completed`)) >= 25, {
      timeoutMs: 60_000,
      show: () => agent.log(),
    });
    const frozen = failover.freezeReplica(BEHIND_MS + 1000);
    // The link to the stopped replica cut too (a partition between them): what the master writes from here on stays in
    // its backlog, sent nowhere, not in the replica's socket buffer, where it would still be applied on resume.
    await master.call('CLIENT', 'KILL', 'TYPE', 'replica');
    await new Promise((resolve) => setTimeout(resolve, BEHIND_MS));
    const written = info(await master.info('replication'), 'master_repl_offset');
    master.disconnect();
    await failover.killMaster();
    const killedAt = Date.now();
    await frozen;
    const promotedPort = await failover.promoted();
    const replica = new Redis({ port: promotedPort, host: '127.0.0.1', password: failover.password });
    let lostBytes: number;
    try {
      // What the promoted replica had applied when it became master: second_repl_offset is the next byte.
      lostBytes = written - (info(await replica.info('replication'), 'second_repl_offset') - 1);
    } finally {
      replica.disconnect();
    }
    const result = await submitted;
    const killedToEndMs = Date.now() - killedAt;
    if (result.code !== 0) throw new Error(`submit exited ${String(result.code)}:\n${result.stderr}\nagent:\n${agent.log()}`);
    const report = JSON.parse(result.stdout) as DistributedReport;
    return { report, lostBytes, killedToEndMs, ...sweepAccount(report) };
  } finally {
    master.disconnect();
  }
}

/** A Sentinel set and one agent on it, for a suite. */
export interface SentinelLab {
  readonly set: SentinelSet;
  readonly agent: AgentProcess;
  /** What the command line is given to reach the set. */
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Registers, in the calling suite, the making of a Sentinel set (master, replica, three Sentinels, `password`) with one
 * agent of `group` on it before its tests, and their end after them. Its fields are there once the tests run.
 */
export function sentinelsWithAgent(password: string, group: string, cidrs: string): SentinelLab {
  let made: SentinelLab | undefined;
  let set: SentinelSet | undefined;
  let agent: AgentProcess | undefined;
  before(async () => {
    set = await startSentinelSet({ password });
    agent = await startAgentOn(set.env, group, cidrs);
    made = { set, agent, env: { PATH: process.env.PATH, ...set.env } };
  });
  after(async () => {
    await agent?.stop();
    await set?.destroy();
  });
  const field = <K extends keyof SentinelLab>(key: K): SentinelLab[K] => {
    if (!made) throw new Error('the Sentinel lab is made before the suite’s tests: read it inside a test');
    return made[key];
  };
  return {
    get set() {
      return field('set');
    },
    get agent() {
      return field('agent');
    },
    get env() {
      return field('env');
    },
  };
}
