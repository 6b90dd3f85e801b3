/**
 * `npm run bench`: ZenSweep against fping, measured in the same run, same timeout, retries and pacing.
 *
 * 1. loopback 127.0.0.0/16, 1 echo, no retries, unlimited rate (fping -i 0)   target: ratio ≤ 1.0, peak RSS ≤ 150 MB
 * 2. the lab /24, mostly empty addresses, timeout 1000 ms, no retries         target: wall ≤ timeout + 150 ms + a bare
 *    `node -e 0` start, measured in the same run (Node's own start is not ZenSweep's to cut)
 * 3. and 4. through Redis and agents: see distributed.ts; 5. the Slack bot: see slack.ts; trace and diag against
 *    mtr and traceroute: see trace.ts, run alone with BENCH_ONLY=trace
 * 6. to 8. the routed, mostly empty /17 of the lab ("a VPC") at the defaults: sweep, submit through 1 and 4 agents,
 *    fping at the same pacing, the lower bound; 4 agents where the rate is the limit; a /16 from Slack: see vpc.ts
 *
 * BENCH_ONLY=ping: a loopback /16 through raw sockets, ping sockets (unprivileged) and fping -i 0 (ping-mode.ts).
 * BENCH_ONLY=redis: what a /16 and 1,000 sweeps leave in Redis (redis-footprint.ts).
 * BENCH_ONLY=failover: a /16 with and without a Redis failover in its middle, Sentinels and Cluster (redis-failover.ts).
 * BENCH_ONLY=engine runs 1 and 2; BENCH_ONLY=vpc runs 6 to 9 alone (BENCH_VPC_SKIP=scaling,slack,ping trims them).
 * BENCH_RUNS (default 5) runs of cases 1 to 5, BENCH_VPC_RUNS (default 3) of cases 6 to 8. Run it on an idle
 * machine: another process's CPU use shows in every figure.
 *
 * Each case runs several times, alternating the tools; medians are printed. Wall time is that of the whole
 * command, process start included, for both tools. Peak RSS is ZenSweep's whole footprint: its own process
 * (GNU time's %M) plus the peak of every process it starts, added up (it starts none since the sender thread
 * replaced the send helper process; kept so that one would show).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab } from '../test/support/lab.js';
import { benchDistributed } from './distributed.js';
import { benchRedisFootprint } from './redis-footprint.js';
import { benchRedisFailover } from './redis-failover.js';
import { benchPingMode } from './ping-mode.js';
import { benchSlack } from './slack.js';
import { median } from './stats.js';
import { benchVpc, type VpcFigures } from './vpc.js';
import { benchTrace, traceTargets } from './trace.js';

const CLI = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));
const TIME = '/usr/bin/time';
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

interface Measure {
  wallMs: number;
  /** Peak RSS of the command's own process (GNU time's %M). */
  rssKb: number;
  /** Peak RSS of each process it started, from /proc, polled every few ms. */
  descendantsKb: number;
  stdout: string;
}

function childrenOf(pid: number): number[] {
  try {
    const tasks = readdirSync(`/proc/${pid}/task`);
    return tasks.flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

function peakKb(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Watches the processes below `root` (time → the tool → its helpers) and keeps each one's peak RSS. */
function watchDescendants(root: number): () => Map<number, number> {
  const peaks = new Map<number, number>();
  const timer = setInterval(() => {
    const tool = childrenOf(root);
    const below = tool.flatMap((pid) => childrenOf(pid));
    for (const pid of below) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, peakKb(pid)));
  }, 10);
  return () => {
    clearInterval(timer);
    return peaks;
  };
}

/**
 * Runs a command with its stdout going to a file (as fast for both tools: a pipe read by this process would
 * slow fping, which flushes every line) and returns its wall time, peak RSS and output.
 */
function measure(argv: string[], wrap: string[] = []): Promise<Measure> {
  return new Promise((resolve, reject) => {
    const full = [...wrap, TIME, '-f', '%M', ...argv];
    const outPath = join(tmpdir(), `zensweep-bench-${process.pid}.out`);
    const out = openSync(outPath, 'w');
    const started = performance.now();
    const child = spawn(full[0] as string, full.slice(1), { stdio: ['ignore', out, 'pipe'] });
    const stopWatching = watchDescendants(child.pid ?? 0);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', () => {
      const wallMs = performance.now() - started;
      const descendantsKb = [...stopWatching().values()].reduce((sum, kb) => sum + kb, 0);
      closeSync(out);
      const stdout = readFileSync(outPath, 'utf8');
      rmSync(outPath, { force: true });
      const rssLine = stderr.trim().split('\n').at(-1) ?? '';
      const rssKb = Number(rssLine);
      if (!Number.isFinite(rssKb)) reject(new Error(`no RSS figure from ${full.join(' ')}: ${stderr}`));
      else resolve({ wallMs, rssKb, descendantsKb, stdout });
    });
  });
}


/** Median wall time of a bare `node -e 0` (RUNS runs), the floor of any Node command's start on this machine. */
async function bareNodeStartMs(): Promise<number> {
  const walls: number[] = [];
  for (let i = 0; i < RUNS; i++) walls.push((await measure([process.execPath, '-e', '0'])).wallMs);
  const start = median(walls);
  console.log(`\nnode -e 0: ${start.toFixed(0)} ms (median of ${RUNS}; runs ${walls.map((w) => w.toFixed(0)).join(', ')})`);
  return start;
}

async function compare(
  title: string,
  zensweep: string[],
  fping: string[],
  wrap: string[] = [],
): Promise<{ zs: number; fp: number; rssMb: number; zsAlive: number; fpAlive: number }> {
  const zsWall: number[] = [];
  const fpWall: number[] = [];
  const rss: number[] = [];
  const mainRss: number[] = [];
  const helperRss: number[] = [];
  let zsAlive = 0;
  let fpAlive = 0;
  for (let i = 0; i < RUNS; i++) {
    // Run as installed (`npx zensweep`): the executable itself, so its shebang's Node flags apply.
    const z = await measure([CLI, ...zensweep, '--json', '--no-progress'], wrap);
    const report = JSON.parse(z.stdout) as { summary: { alive: number } };
    zsAlive = report.summary.alive;
    zsWall.push(z.wallMs);
    rss.push(z.rssKb + z.descendantsKb);
    mainRss.push(z.rssKb);
    helperRss.push(z.descendantsKb);
    const f = await measure(['fping', ...fping], wrap);
    fpAlive = f.stdout.split('\n').filter(Boolean).length;
    fpWall.push(f.wallMs);
  }
  const zs = median(zsWall);
  const fp = median(fpWall);
  const rssMb = Math.max(...rss) / 1024;
  console.log(`\n${title}`);
  console.log(`  zensweep ${zensweep.join(' ')}`);
  console.log(`  fping    ${fping.join(' ')}`);
  console.log(`  wall     zensweep ${zs.toFixed(0)} ms   fping ${fp.toFixed(0)} ms   ratio ${(zs / fp).toFixed(2)}  (median of ${RUNS})`);
  console.log(`  runs     zensweep ${zsWall.map((w) => w.toFixed(0)).join(', ')}   fping ${fpWall.map((w) => w.toFixed(0)).join(', ')}`);
  const mb = (kb: number[]): string => (Math.max(...kb) / 1024).toFixed(0);
  console.log(
    `  peak RSS zensweep ${rssMb.toFixed(0)} MB in all: main process ${mb(mainRss)} MB + processes it started ${mb(helperRss)} MB (max of runs)`,
  );
  console.log(`  alive    zensweep ${zsAlive}   fping ${fpAlive}`);
  return { zs, fp, rssMb, zsAlive, fpAlive };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (raw sockets, network namespaces)');
  if (process.env.BENCH_ONLY === 'trace') {
    const trace = await benchTrace(Number(process.env.BENCH_RUNS ?? 3), median);
    console.log('\nTargets (trace and diag)');
    for (const line of traceTargets(trace)) console.log(line);
    return;
  }
  for (const tool of [TIME, '/usr/bin/fping', CLI]) {
    if (!existsSync(tool)) throw new Error(`${tool} is missing (apt-get install time fping; npm run build)`);
  }

  const only = process.env.BENCH_ONLY;
  if (only === 'ping') {
    await benchPingMode();
    return;
  }
  if (only === 'redis') {
    await benchRedisFootprint();
    return;
  }
  if (only === 'failover') {
    await benchRedisFailover();
    return;
  }
  if (only === 'vpc') {
    printVpcTargets(await benchVpc(median));
    return;
  }
  const loopback = await compare(
    '1. loopback 127.0.0.0/16, 1 echo, no retries, unlimited rate',
    ['sweep', '127.0.0.0/16', 'count:1', 'retries:0', 'timeout:1000', 'rate:0'],
    ['-g', '127.0.0.0/16', '-a', '-q', '-r', '0', '-t', '1000', '-i', '0'],
  );

  const nodeStart = await bareNodeStartMs();
  const lab = await createLab();
  let labResult;
  try {
    const wrap = ['ip', 'netns', 'exec', lab.sweeperNs];
    const cidr = lab.addresses.lan.v4Cidr;
    labResult = await compare(
      `2. lab ${cidr} (mostly empty, on-link), timeout 1000 ms, no retries, unlimited rate`,
      ['sweep', cidr, 'retries:0', 'timeout:1000', 'rate:0'],
      ['-g', cidr, '-a', '-q', '-r', '0', '-t', '1000', '-i', '0'],
      wrap,
    );
  } finally {
    await lab.destroy();
  }

  const distributed = only === 'engine' ? undefined : await benchDistributed(RUNS, median);
  const slack = only === 'engine' ? undefined : await benchSlack(RUNS, median);
  const vpc = only === 'engine' ? undefined : await benchVpc(median);

  console.log('\nTargets');
  console.log(`  (1) ratio ${(loopback.zs / loopback.fp).toFixed(2)} ≤ 1.00: ${mark(loopback.zs <= loopback.fp)}`);
  console.log(`  (1) peak RSS ${loopback.rssMb.toFixed(0)} MB ≤ 150 MB: ${mark(loopback.rssMb <= 150)}`);
  const labTarget = 1150 + nodeStart;
  console.log(
    `  (2) wall ${labResult.zs.toFixed(0)} ms ≤ 1000 ms timeout + 150 ms + node -e 0 ${nodeStart.toFixed(0)} ms = ` +
      `${labTarget.toFixed(0)} ms: ${mark(labResult.zs <= labTarget)}`,
  );
  if (distributed) {
    const one = distributed.scaling.get(1) ?? 0;
    const speedups = [2, 4].map((n) => `${n} agents ${(one / (distributed.scaling.get(n) ?? one)).toFixed(2)}×`);
    console.log(`  (3) speed-up over 1 agent: ${speedups.join(', ')} (no fixed target)`);
    const overhead = distributed.submitMs - distributed.sweepMs;
    console.log(`  (4) submit overhead ${overhead.toFixed(0)} ms ≤ 100 ms: ${mark(overhead <= 100)}`);
  }
  if (slack !== undefined) console.log(`  (5) Slack overhead ${slack.toFixed(0)} ms ≤ 300 ms: ${mark(slack <= 300)}`);
  if (vpc) printVpcTargets(vpc);
}

const mark = (ok: boolean): string => (ok ? 'met' : 'NOT met');

function printVpcTargets(vpc: VpcFigures): void {
  if (process.env.BENCH_ONLY === 'vpc') console.log('\nTargets');
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  console.log(`  (6) sweep ${s(vpc.sweepMs)} ≤ fping ${s(vpc.fpingMs)}: ${mark(vpc.sweepMs <= vpc.fpingMs)}`);
  const bound = vpc.sweepMs / vpc.lowerBoundMs;
  console.log(`  (6) sweep ${bound.toFixed(2)} × the lower bound ${s(vpc.lowerBoundMs)} ≤ 1.30: ${mark(bound <= 1.3)}`);
  const submit = vpc.submitMs / vpc.sweepMs;
  console.log(`  (6) submit through 1 agent ${submit.toFixed(2)} × sweep ≤ 1.25: ${mark(submit <= 1.25)}`);
  console.log(`  (6) 4 agents at the defaults: ${(vpc.submitMs / vpc.fourAgentsMs).toFixed(2)}× over 1`);
  if (vpc.rateBoundSpeedup !== undefined) {
    console.log(`  (7) 4 agents where the rate is the limit ${vpc.rateBoundSpeedup.toFixed(2)}× ≥ 3.5×: ${mark(vpc.rateBoundSpeedup >= 3.5)}`);
  }
  if (vpc.slackMs !== undefined) console.log(`  (8) a /16 from Slack ${s(vpc.slackMs)} ≤ 20 s: ${mark(vpc.slackMs <= 20_000)}`);
  if (vpc.pingMode !== undefined) {
    const { sweepRawMs, sweepPingMs, submitRawMs, submitPingMs } = vpc.pingMode;
    const sweep = sweepPingMs / sweepRawMs;
    const submit = submitPingMs / submitRawMs;
    console.log(`  (9) ping mode: sweep ${sweep.toFixed(2)} × raw ≤ 1.15: ${mark(sweep <= 1.15)}; submit ${submit.toFixed(2)} × raw ≤ 1.15: ${mark(submit <= 1.15)}`);
    console.log(`  (9) ping-mode sweep ${s(sweepPingMs)} ≤ 1.3 × the lower bound ${s(vpc.lowerBoundMs)}: ${mark(sweepPingMs <= 1.3 * vpc.lowerBoundMs)}`);
  }
}

await main();
