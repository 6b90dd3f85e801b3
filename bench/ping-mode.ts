/**
 * `BENCH_ONLY=ping npm run bench` (or `tsx bench/ping-mode.ts`): a loopback /16 swept three ways, in a network
 * namespace of its own (lo only; its net.ipv4.ping_group_range opened to every group):
 *
 *   raw    zensweep as root: raw ICMP sockets (the default where permitted)
 *   ping   zensweep as nobody without any capability: ping sockets (ZENSWEEP_ICMP=auto falls back to them)
 *   fping  fping -i 0 as root, the reference
 *
 * 1 echo, no retries, timeout 1000 ms, unlimited rate; the three alternate, BENCH_RUNS times each (default 5), and the
 * medians of the wall times (the whole command, process start included) are printed with every run.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EVERY_GROUP, UNPRIVILEGED, createPingNamespace } from '../test/support/ping-netns.js';
import { median } from './stats.js';

const CLI = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CIDR = '127.0.0.0/16';


/** Runs argv to the end: its wall time in ms and its stdout. */
function timed(argv: readonly string[]): Promise<{ wallMs: number; stdout: string; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ wallMs: performance.now() - started, stdout, code, stderr }));
  });
}

export async function benchPingMode(): Promise<Record<'raw' | 'ping' | 'fping', number>> {
  const ns = await createPingNamespace('zsb');
  try {
    await ns.pingGroups(EVERY_GROUP);
    const inNs = ['ip', 'netns', 'exec', ns.name];
    const sweep = [CLI, 'sweep', CIDR, 'count:1', 'retries:0', 'timeout:1000', 'rate:0', '--json', '--no-progress'];
    const ways = {
      raw: [...inNs, ...sweep],
      ping: [...inNs, ...UNPRIVILEGED, ...sweep],
      fping: [...inNs, 'fping', '-g', CIDR, '-a', '-q', '-r', '0', '-t', '1000', '-i', '0'],
    } as const;
    const walls: Record<keyof typeof ways, number[]> = { raw: [], ping: [], fping: [] };
    const alive: Record<keyof typeof ways, number> = { raw: 0, ping: 0, fping: 0 };
    for (let run = 0; run < RUNS; run++) {
      for (const way of Object.keys(ways) as (keyof typeof ways)[]) {
        const result = await timed(ways[way]);
        if (way !== 'fping' && result.code !== 0) throw new Error(`${way}: exit ${String(result.code)}: ${result.stderr}`);
        walls[way].push(result.wallMs);
        if (way === 'fping') {
          alive.fping = result.stdout.split('\n').filter(Boolean).length;
        } else {
          const report = JSON.parse(result.stdout) as { summary: { alive: number }; icmp: { mode?: string } };
          if (report.icmp.mode !== way) throw new Error(`${way}: the sweep ran with ICMP ${String(report.icmp.mode)}`);
          alive[way] = report.summary.alive;
        }
      }
    }
    console.log(`\nloopback ${CIDR}, 1 echo, no retries, unlimited rate: raw socket, ping socket (nobody), fping -i 0`);
    const medians = { raw: median(walls.raw), ping: median(walls.ping), fping: median(walls.fping) };
    for (const way of Object.keys(ways) as (keyof typeof ways)[]) {
      console.log(
        `  ${way.padEnd(5)} ${medians[way].toFixed(0).padStart(5)} ms median of ${RUNS} (runs ${walls[way].map((w) => w.toFixed(0)).join(', ')}), ${alive[way]} alive`,
      );
    }
    console.log(`  ratio ping/raw ${(medians.ping / medians.raw).toFixed(2)}, ping/fping ${(medians.ping / medians.fping).toFixed(2)}`);
    return medians;
  } finally {
    await ns.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) await benchPingMode();
