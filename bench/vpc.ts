/**
 * The VPC part of `npm run bench` (BENCH_ONLY=vpc runs it alone): the product's main path, "check every instance
 * in this VPC", on the lab's routed, mostly empty range (198.19.0.0/17 behind the router, whose blackhole route
 * drops every packet to an empty address silently; 2 addresses answer), at the defaults (timeout 1000 ms,
 * retries 1, rate 10,000/s), side by side in one run:
 *
 * 6. `zensweep sweep` (the engine in the lab's sweeper namespace); `zensweep submit` through 1 agent, then through
 *    4 agents of one group, each capped at ZENSWEEP_RATE (default 10,000), all in the sweeper namespace and
 *    reaching Redis through the lab's Unix-socket bridge; fping at the same pacing (-r 1 -t 1000 -i 0.1, 1.5×
 *    backoff). The lower bound: every address sent twice at the rate, plus the last timeout and retry waits.
 * 7. the speed-up of 4 agents over 1 where the rate is the limit: the same /17 with timeout:100, each agent
 *    capped at BENCH_VPC_AGENT_RATE (default 2000) packets/s. What does not scale with agents (the CLI's start,
 *    the report put together once the last chunk is in, the last timeout) is about 0.7 s here: at 4000/s it holds
 *    the speed-up near 3.3×; at 2000/s the rate is most of the time.
 * 8. `/sweep 198.19.0.0/16` from the (fake) Slack through 1 agent at the defaults: signed POST → threaded summary.
 * 9. case 6 in ping mode: `zensweep sweep` and `submit` through 1 agent, each as nobody without any capability (ping
 *    sockets: the sweeper namespace's net.ipv4.ping_group_range covers every group), alternating run by run with the
 *    same as root (raw sockets); the ping agent is a group of its own (`vpc:ping`) beside the raw one.
 *
 * BENCH_VPC_RUNS (default 3) runs of each, medians printed. BENCH_VPC_SKIP=scaling,slack,ping leaves cases out.
 */
import { spawn } from 'node:child_process';
import { DEFAULT_OPTIONS } from '../src/core/request.js';
import { totalWaitMs } from '../src/engine/engine.js';
import { startAgent, type AgentProcess } from '../test/support/agents.js';
import { commandFields, postSigned, startBot } from '../test/support/bot.js';
import { FakeSlack } from '../test/support/fake-slack.js';
import { createLab, type Lab } from '../test/support/lab.js';
import { EVERY_GROUP, UNPRIVILEGED } from '../test/support/ping-netns.js';
import { startRedis, type RedisServer } from '../test/support/redis.js';
import { timed } from './distributed.js';

const RUNS = Number(process.env.BENCH_VPC_RUNS ?? 3);
const SCALING_RATE = Number(process.env.BENCH_VPC_AGENT_RATE ?? 2000);
const SKIP = new Set((process.env.BENCH_VPC_SKIP ?? '').split(',').filter(Boolean));

export interface VpcFigures {
  sweepMs: number;
  submitMs: number;
  fourAgentsMs: number;
  fpingMs: number;
  lowerBoundMs: number;
  /** Speed-up of 4 agents over 1 where the rate is the limit (case 7). */
  rateBoundSpeedup?: number;
  /** /16 from Slack at the defaults, signed POST → threaded summary (case 8). */
  slackMs?: number;
  /** Case 9: the /17 in ping mode against raw, alternating (sweep, and submit through 1 agent). */
  pingMode?: { sweepRawMs: number; sweepPingMs: number; submitRawMs: number; submitPingMs: number };
}

type Median = (values: number[]) => number;

function fping(lab: Lab, args: string[]): Promise<{ wallMs: number; alive: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('ip', ['netns', 'exec', lab.sweeperNs, 'fping', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', () => resolve({ wallMs: performance.now() - started, alive: out.split('\n').filter(Boolean).length }));
  });
}

async function series(runs: number, median: Median, run: () => Promise<{ wallMs: number; alive: number }>): Promise<{ wall: number; alive: number; walls: number[] }> {
  const walls: number[] = [];
  let alive = 0;
  for (let i = 0; i < runs; i += 1) {
    const result = await run();
    walls.push(result.wallMs);
    alive = result.alive;
  }
  return { wall: median(walls), alive, walls };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const line = (label: string, s: { wall: number; alive: number; walls: number[] }): string =>
  `  ${label.padEnd(22)} ${seconds(s.wall).padStart(7)}   alive ${s.alive}   runs ${s.walls.map((w) => (w / 1000).toFixed(1)).join(', ')}`;

export async function benchVpc(median: Median): Promise<VpcFigures> {
  const lab = await createLab();
  const redis: RedisServer = await startRedis({ unixSocket: true });
  const agents: AgentProcess[] = [];
  const env = { PATH: process.env.PATH, REDIS_URL: redis.url };
  const { v4Half: cidr, v4Cidr, live } = lab.addresses.routed;
  const startAgents = async (count: number, rate?: number): Promise<void> => {
    while (agents.length > 0) await agents.pop()?.stop();
    for (let i = 0; i < count; i += 1) {
      agents.push(await startAgent({ redisUrl: redis.url, group: 'vpc', cidrs: v4Cidr, netns: lab.sweeperNs, rate }));
    }
  };
  try {
    await lab.bridgeToHost(redis.port, redis.socketPath ?? '');
    const { timeoutMs, retries, rate } = DEFAULT_OPTIONS;
    const addresses = 2 ** (32 - Number(cidr.split('/')[1])) - 2;
    const waitMs = totalWaitMs({ timeoutMs, retries });
    const lowerBoundMs = ((addresses + (addresses - live.length) * retries) / rate) * 1000 + waitMs;

    console.log(`\n6. the routed, mostly empty ${cidr} at the defaults (timeout ${timeoutMs} ms, retries ${retries}, rate ${rate}/s), ${live.length} addresses answer`);
    const sweep = await series(RUNS, median, () => timed(['sweep', cidr], env, lab.sweeperNs));
    console.log(line('zensweep sweep', sweep));
    await startAgents(1);
    const one = await series(RUNS, median, () => timed(['submit', cidr], env));
    console.log(line('submit, 1 agent', one));
    await startAgents(4);
    const four = await series(RUNS, median, () => timed(['submit', cidr], env));
    console.log(line('submit, 4 agents', four));
    const fp = await series(RUNS, median, () => fping(lab, ['-g', cidr, '-a', '-q', '-r', String(retries), '-t', String(timeoutMs), '-i', String(1000 / rate)]));
    console.log(line(`fping -i ${1000 / rate}`, fp));
    console.log(`  lower bound            ${seconds(lowerBoundMs).padStart(7)}   (${addresses} + ${addresses - live.length} sends at ${rate}/s, then ${waitMs} ms of waits)`);
    console.log(
      `  ratios                 sweep/fping ${(sweep.wall / fp.wall).toFixed(2)}   sweep/lower bound ${(sweep.wall / lowerBoundMs).toFixed(2)}   ` +
        `submit/sweep ${(one.wall / sweep.wall).toFixed(2)}   1 agent/4 agents ${(one.wall / four.wall).toFixed(2)}×`,
    );
    const figures: VpcFigures = { sweepMs: sweep.wall, submitMs: one.wall, fourAgentsMs: four.wall, fpingMs: fp.wall, lowerBoundMs };

    if (!SKIP.has('scaling')) {
      console.log(`\n7. the same ${cidr}, timeout:100, each agent capped at ZENSWEEP_RATE=${SCALING_RATE}: the rate is the limit`);
      await startAgents(1, SCALING_RATE);
      const slow = await series(RUNS, median, () => timed(['submit', cidr, 'timeout:100'], env));
      console.log(line('submit, 1 agent', slow));
      await startAgents(4, SCALING_RATE);
      const fast = await series(RUNS, median, () => timed(['submit', cidr, 'timeout:100'], env));
      console.log(line('submit, 4 agents', fast));
      figures.rateBoundSpeedup = slow.wall / fast.wall;
      console.log(`  speed-up               ${figures.rateBoundSpeedup.toFixed(2)}×`);
    }

    if (!SKIP.has('ping')) {
      console.log(`\n9. the same ${cidr} at the defaults in ping mode (nobody, no capability) and raw (root), alternating`);
      figures.pingMode = await pingMode(lab, redis, env, cidr, median, startAgents);
    }

    if (!SKIP.has('slack')) {
      console.log(`\n8. /sweep ${v4Cidr} from Slack at the defaults, 1 agent: signed POST → threaded summary at the fake Slack`);
      await startAgents(1);
      figures.slackMs = await slackSweep(redis, v4Cidr, median);
    }
    return figures;
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await redis.destroy();
    await lab.destroy();
  }
}

/** Case 9: raw and ping sockets alternating run by run, for `sweep` and for `submit` through 1 agent of each. */
async function pingMode(
  lab: Lab,
  redis: RedisServer,
  env: NodeJS.ProcessEnv,
  cidr: string,
  median: Median,
  startAgents: (count: number) => Promise<void>,
): Promise<NonNullable<VpcFigures['pingMode']>> {
  const set = await lab.exec(['sysctl', '-q', '-w', `net.ipv4.ping_group_range=${EVERY_GROUP}`]);
  if (set.code !== 0) throw new Error(`ping_group_range in the sweeper namespace: ${set.stderr}`);
  await startAgents(1);
  const { v4Cidr } = lab.addresses.routed;
  const pingAgent = await startAgent({ redisUrl: redis.url, group: 'ping', cidrs: v4Cidr, netns: lab.sweeperNs, wrapper: UNPRIVILEGED });
  try {
    const ways = {
      'sweep, raw': () => timed(['sweep', cidr], env, lab.sweeperNs),
      'sweep, ping': () => timed(['sweep', cidr], env, lab.sweeperNs, UNPRIVILEGED),
      'submit, raw agent': () => timed(['submit', cidr, 'vpc:vpc'], env),
      'submit, ping agent': () => timed(['submit', cidr, 'vpc:ping'], env),
    } as const;
    const expected: Record<keyof typeof ways, string> = { 'sweep, raw': 'raw', 'sweep, ping': 'ping', 'submit, raw agent': 'raw', 'submit, ping agent': 'ping' };
    const results = Object.fromEntries(Object.keys(ways).map((k) => [k, { walls: [] as number[], alive: 0 }])) as Record<
      keyof typeof ways,
      { walls: number[]; alive: number }
    >;
    for (let i = 0; i < RUNS; i += 1) {
      for (const way of Object.keys(ways) as (keyof typeof ways)[]) {
        const result = await ways[way]();
        if (result.icmpModes.join() !== expected[way]) throw new Error(`${way}: the sweep ran with ICMP ${result.icmpModes.join(' and ')}`);
        results[way].walls.push(result.wallMs);
        results[way].alive = result.alive;
      }
    }
    const wall = (way: keyof typeof ways): number => median(results[way].walls);
    for (const way of Object.keys(ways) as (keyof typeof ways)[]) console.log(line(way, { wall: wall(way), ...results[way] }));
    console.log(
      `  ratios                 sweep ping/raw ${(wall('sweep, ping') / wall('sweep, raw')).toFixed(2)}   ` +
        `submit ping/raw ${(wall('submit, ping agent') / wall('submit, raw agent')).toFixed(2)}`,
    );
    return { sweepRawMs: wall('sweep, raw'), sweepPingMs: wall('sweep, ping'), submitRawMs: wall('submit, raw agent'), submitPingMs: wall('submit, ping agent') };
  } finally {
    await pingAgent.stop();
  }
}

async function slackSweep(redis: RedisServer, cidr: string, median: Median): Promise<number> {
  const slack = await FakeSlack.start();
  const bot = await startBot({ redisUrl: redis.url, slack });
  const totals: number[] = [];
  try {
    const replies = (): number => slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts !== undefined).length;
    for (let i = 0; i < RUNS; i += 1) {
      const before = replies();
      const started = performance.now();
      const ack = await postSigned(bot.eventsUrl, commandFields(cidr, { response_url: slack.responseUrl() }));
      if (ack.status !== 200) throw new Error(`the bot answered ${ack.status}: ${ack.body}`);
      await slack.waitFor('the threaded summary', () => (replies() > before ? true : undefined), 600_000);
      totals.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    await bot.stop();
    await slack.close();
  }
  const total = median(totals);
  console.log(`  total ${seconds(total)} (median)   runs ${totals.map((t) => (t / 1000).toFixed(1)).join(', ')}`);
  return total;
}
