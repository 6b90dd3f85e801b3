/**
 * What reading the kernel's neighbour table costs (HostResult.link, src/engine/link-watch.ts). Needs root; every
 * probe runs inside the lab's namespaces (test/support/lab.ts), nothing leaves the machine.
 *
 *   tsx bench/neighbours.ts
 *
 * 1. One dump, by table size: a namespace of its own holding 0, 254, 1,024 and 4,096 entries (permanent ones: the
 *    kernel sends nothing for them and they do not count against the machine's table limit), read 201 times in a
 *    row by the addon's netlink dump and by /proc/net/arp; the median wall time of one read, and the CPU time of all
 *    of them divided by their number (a process doing nothing else: its CPU time is the reads').
 * 2. The lab's on-link /24 swept with the reads and without them (ProbeEngine `neighbours: false`), alternating
 *    (on, off, off, on…, after a run not counted), BENCH_NEIGHBOUR_RUNS times each (default 9): medians [quartiles] of
 *    the sweep's wall time and of the process's CPU time, and the reads' own count and time (LinkWatch.cost).
 * 3. The lab's routed /16 the same way (BENCH_NEIGHBOUR_ROUTED_RUNS, default 3): no target is on-link, so the engine
 *    reads nothing; the figures show it costs nothing. An on-link /16 cannot be swept in the lab without filling the
 *    machine's neighbour table (DESIGN.md: keep on-link lab subnets small).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseSweepText } from '../src/core/grammar.js';
import { ProbeEngine, inFlightBudget, totalWaitMs } from '../src/engine/engine.js';
import { netlinkNeighbourReader, procArpReader } from '../src/engine/neighbours.js';
import { runSweep } from '../src/engine/sweep.js';
import { createLab, ipBatch, run, runOk } from '../test/support/lab.js';
import { median, spread as spreadOf } from './stats.js';

const SELF = fileURLToPath(import.meta.url);

const spread = (values: readonly number[]): string => spreadOf(values, 2);

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

/** In the namespace: reads the table `reads` times with each reader; one JSON line. */
function dumpChild(reads: number): void {
  const netlink = netlinkNeighbourReader();
  if (!netlink) throw new Error('the addon cannot be loaded');
  const readers = { netlink, proc: procArpReader() };
  const out: Record<string, { entries: number; wallMs: string; cpuMsPerRead: number }> = {};
  for (const [name, reader] of Object.entries(readers)) {
    for (let i = 0; i < 20; i += 1) reader.read(); // warm up
    const times: number[] = [];
    let entries = 0;
    const cpu = process.cpuUsage();
    for (let i = 0; i < reads; i += 1) {
      const started = performance.now();
      entries = reader.read().length;
      times.push(performance.now() - started);
    }
    out[name] = { entries, wallMs: spread(times), cpuMsPerRead: Math.round((cpuMs(cpu) / reads) * 1000) / 1000 };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/** In the lab's sweeper namespace: sweeps `text` `runs` times with the reads and without, alternating; one JSON line. */
async function sweepsChild(text: string, runs: number): Promise<void> {
  const request = parseSweepText(text);
  const families = new Set(request.targets.flatMap((t) => (t.kind === 'name' ? [] : [t.family])));
  const figures: Record<'on' | 'off', { wallMs: number[]; cpuMs: number[]; reads: number[]; readMs: number[]; entries: number[]; empty: number[] }> = {
    on: { wallMs: [], cpuMs: [], reads: [], readMs: [], entries: [], empty: [] },
    off: { wallMs: [], cpuMs: [], reads: [], readMs: [], entries: [], empty: [] },
  };
  // One run first that is not counted (the process's first sweep pays for compiling the code), then the two kinds in
  // the order on, off, off, on, on, off…: whatever a run leaves to the next falls on both alike.
  for (let i = -1; i < runs * 2; i += 1) {
    const mode = i < 0 ? 'warm-up' : Math.floor((i + 1) / 2) % 2 === 0 ? 'on' : 'off';
    const engine = new ProbeEngine({
      families,
      rate: 0,
      maxInFlight: inFlightBudget(request.options.rate, totalWaitMs(request.options)),
      ...(mode === 'on' ? {} : { neighbours: false as const }),
    });
    const cpu = process.cpuUsage();
    const started = performance.now();
    const report = await runSweep(request, { engine });
    const wall = performance.now() - started;
    const used = cpuMs(cpu);
    const cost = engine.links.cost;
    engine.close();
    // Let the kernel's entries of this sweep settle before the next one (ARP gives up after about 3 s).
    await new Promise((resolve) => setTimeout(resolve, 3500));
    if (mode === 'warm-up') continue;
    const f = figures[mode];
    f.wallMs.push(wall);
    f.cpuMs.push(used);
    f.reads.push(cost.reads);
    f.readMs.push(cost.ms);
    f.entries.push(cost.reads > 0 ? cost.entries / cost.reads : 0);
    f.empty.push(report.hosts.filter((h) => h.link === 'no_answer').length);
  }
  const summary = Object.fromEntries(
    Object.entries(figures).map(([mode, f]) => [
      mode,
      {
        wallMs: spread(f.wallMs),
        cpuMs: spread(f.cpuMs),
        reads: median(f.reads),
        readMs: spread(f.readMs),
        entriesPerRead: median(f.entries),
        noAnswer: median(f.empty),
        runs: f.wallMs.length,
      },
    ]),
  );
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

async function inNamespace(namespace: string, args: string[]): Promise<unknown> {
  const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '--import', 'tsx', SELF, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`${args.join(' ')} in ${namespace} exited ${code}`);
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_NEIGHBOUR_RUNS ?? 9);
  const routedRuns = Number(process.env.BENCH_NEIGHBOUR_ROUTED_RUNS ?? 3);

  // 1. One dump, by table size.
  const namespace = `zsnbench${randomBytes(2).toString('hex')}`;
  await runOk(['ip', 'netns', 'add', namespace]);
  try {
    await ipBatch(namespace, ['link set lo up', 'link add n0 type veth peer name n1', 'addr add 198.18.32.1/19 dev n0', 'link set n0 up', 'link set n1 up']);
    let added = 0;
    for (const size of [0, 254, 1024, 4096]) {
      const commands: string[] = [];
      for (; added < size; added += 1) {
        const host = added + 2;
        commands.push(`neigh add 198.18.${32 + (host >> 8)}.${host & 255} dev n0 lladdr 02:00:00:00:${((host >> 8) & 255).toString(16).padStart(2, '0')}:${(host & 255).toString(16).padStart(2, '0')} nud permanent`);
      }
      if (commands.length > 0) await ipBatch(namespace, commands);
      console.log(`dump, ${size} entries: ${JSON.stringify(await inNamespace(namespace, ['dump', '201']))}`);
    }
  } finally {
    await run(['ip', 'netns', 'del', namespace]);
  }

  // 2. and 3. Sweeps with and without the reads.
  const lab = await createLab();
  try {
    const a = lab.addresses;
    console.log(`lab /24 on-link, ${a.lan.v4Cidr} tcp:${a.lan.rds.openPort}, ${runs} runs each: ${JSON.stringify(await inNamespace(lab.sweeperNs, ['sweeps', String(runs), a.lan.v4Cidr, `tcp:${a.lan.rds.openPort}`]))}`);
    console.log(`lab /16 routed, ${a.routed.v4Cidr}, ${routedRuns} runs each: ${JSON.stringify(await inNamespace(lab.sweeperNs, ['sweeps', String(routedRuns), a.routed.v4Cidr, 'timeout:500']))}`);
  } finally {
    await lab.destroy();
  }
}

const [mode, count, ...rest] = process.argv.slice(2);
if (mode === 'dump') {
  dumpChild(Number(count));
} else if (mode === 'sweeps') {
  await sweepsChild(rest.join(' '), Number(count));
} else {
  await main();
}
