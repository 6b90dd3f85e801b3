/**
 * The distributed part of `npm run bench`, on loopback with a redis-server of its own and real agent processes:
 *
 * 3. 127.0.0.0/16 through `zensweep submit` with 1, 2 and 4 agents of one group, each capped at the same
 *    ZENSWEEP_RATE: wall time and speed-up against 1 agent.
 * 4. the overhead of `zensweep submit` against `zensweep sweep` for a /24 (median of each, whole commands).
 */
import { spawn } from 'node:child_process';
import { startAgent, type AgentProcess } from '../test/support/agents.js';
import { cliCommand } from '../test/support/cli.js';
import { startRedis } from '../test/support/redis.js';

const AGENT_RATE = Number(process.env.BENCH_AGENT_RATE ?? 20_000);

export interface Timed {
  wallMs: number;
  alive: number;
  /** How the sweep sent ICMP echo, as its report says (raw, ping, off): each agent's chunks, or the local sweep's. */
  icmpModes: string[];
}

/**
 * Runs `zensweep ARGS --json` to the end (inside `netns` if given, through `wrapper` if given, e.g. as nobody) and
 * returns its wall time, alive count and ICMP mode.
 */
export function timed(args: string[], env: NodeJS.ProcessEnv, netns?: string, wrapper: readonly string[] = []): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const argv = [...wrapper, ...cliCommand(), ...args, '--json', '--no-progress'];
    const [command, ...rest] = netns === undefined ? argv : ['ip', 'netns', 'exec', netns, ...argv];
    const child = spawn(command as string, rest, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited ${code}: ${stderr}`));
      const report = JSON.parse(Buffer.concat(out).toString('utf8')) as {
        summary: { alive: number };
        icmp?: { mode?: string };
        chunks?: { icmpMode?: string }[];
      };
      const modes = report.chunks ? report.chunks.map((c) => String(c.icmpMode)) : [String(report.icmp?.mode)];
      resolve({ wallMs, alive: report.summary.alive, icmpModes: [...new Set(modes)] });
    });
  });
}

export interface DistributedFigures {
  /** Agents → median wall time of a /16 submit, in ms. */
  scaling: Map<number, number>;
  submitMs: number;
  sweepMs: number;
}

export async function benchDistributed(runs: number, median: (values: number[]) => number): Promise<DistributedFigures> {
  const redis = await startRedis();
  const env = { PATH: process.env.PATH, REDIS_URL: redis.url };
  const agents: AgentProcess[] = [];
  const scaling = new Map<number, number>();
  try {
    console.log(`\n3. loopback 127.0.0.0/16 through zensweep submit, each agent capped at ZENSWEEP_RATE=${AGENT_RATE}`);
    for (const count of [1, 2, 4]) {
      while (agents.length < count) {
        agents.push(await startAgent({ redisUrl: redis.url, group: 'bench', cidrs: '127.0.0.0/16', rate: AGENT_RATE }));
      }
      const walls: number[] = [];
      let alive = 0;
      for (let i = 0; i < runs; i += 1) {
        const result = await timed(['submit', '127.0.0.0/16', 'count:1', 'retries:0', 'rate:0'], env);
        walls.push(result.wallMs);
        alive = result.alive;
      }
      const wall = median(walls);
      scaling.set(count, wall);
      const base = scaling.get(1) ?? wall;
      console.log(
        `  ${count} agent${count > 1 ? 's' : ' '}  wall ${wall.toFixed(0)} ms   speed-up ${(base / wall).toFixed(2)}×   ` +
          `alive ${alive}   runs ${walls.map((w) => w.toFixed(0)).join(', ')}`,
      );
    }
    while (agents.length > 1) await agents.pop()?.stop();

    console.log('\n4. overhead of zensweep submit against zensweep sweep, 127.0.0.0/24, 1 agent');
    const submitWalls: number[] = [];
    const sweepWalls: number[] = [];
    for (let i = 0; i < Math.max(runs, 7); i += 1) {
      submitWalls.push((await timed(['submit', '127.0.0.0/24'], env)).wallMs);
      sweepWalls.push((await timed(['sweep', '127.0.0.0/24'], env)).wallMs);
    }
    const submitMs = median(submitWalls);
    const sweepMs = median(sweepWalls);
    console.log(`  submit ${submitMs.toFixed(0)} ms   sweep ${sweepMs.toFixed(0)} ms   overhead ${(submitMs - sweepMs).toFixed(0)} ms (medians)`);
    console.log(`  runs   submit ${submitWalls.map((w) => w.toFixed(0)).join(', ')}   sweep ${sweepWalls.map((w) => w.toFixed(0)).join(', ')}`);
    return { scaling, submitMs, sweepMs };
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await redis.destroy();
  }
}
