/**
 * Trace and diag against mtr and traceroute, on the path lab (test/support/path-lab.ts), in the same run:
 * `zensweep trace` in each mode against `mtr --report -n -c 3` (ICMP, and `-T -P 443`) and `traceroute -n` (`-I`,
 * default UDP, `-T -p 443`). For each: the wall time (median), whether it reached the host, and which hop it names
 * as the end of the path (the host when reached, else the last hop that answered). Then a full `zensweep diag`.
 *
 * Paths: (a) every hop answers, to a host that answers everything; (b) one silent router on the way (r2 sends no
 * time-exceeded); (c) a host whose ICMP a firewall drops but TCP 443 is open; (d) a host nothing reaches past r3.
 *
 * Each `zensweep trace` runs twice: as root (raw sockets) and as nobody without any capability (`(nobody)`: a ping
 * socket for ICMP, a UDP socket, the kernel's connects for TCP; the sweeper namespace's net.ipv4.ping_group_range
 * covers every group), each run checked to have gone through the sockets it is named for.
 *
 * Run alone: BENCH_ONLY=trace npm run bench (BENCH_RUNS, default 3). Needs root, mtr-tiny and traceroute.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DiagReport } from '../src/core/diag.js';
import type { TraceReport } from '../src/core/trace.js';
import { EVERY_GROUP, UNPRIVILEGED } from '../test/support/ping-netns.js';
import { createPathLab } from '../test/support/path-lab.js';
import type { PathLab } from '../test/support/path-lab.js';

const CLI = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));

interface Outcome {
  wallMs: number;
  reached: boolean;
  /** The address named as the end of the path. */
  end: string;
}

function run(wrap: string[], argv: string[]): Promise<{ wallMs: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const [command, ...args] = [...wrap, ...argv];
    const started = performance.now();
    const child = spawn(command as string, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('error', reject);
    child.on('close', () => resolve({ wallMs: performance.now() - started, stdout }));
  });
}

const ADDRESS = /\b(\d{1,3}(?:\.\d{1,3}){3})\b/g;

/** The addresses on each line of mtr's or traceroute's table, the first line (the header) left out. */
function hopAddresses(stdout: string, skipHeader: boolean): string[][] {
  const lines = stdout.split('\n').slice(skipHeader ? 1 : 0);
  return lines.filter((l) => /^\s*\d+\.?(\|--)?\s/.test(l)).map((l) => [...l.matchAll(ADDRESS)].map((m) => m[1] ?? ''));
}

function fromTable(stdout: string, target: string, skipHeader: boolean): Omit<Outcome, 'wallMs'> {
  const hops = hopAddresses(stdout, skipHeader);
  const reached = hops.some((addresses) => addresses.includes(target));
  const answered = hops.filter((addresses) => addresses.length > 0);
  return { reached, end: reached ? target : (answered.at(-1)?.[0] ?? '—') };
}

type Tool = { name: string; argv: (target: string) => string[]; read: (stdout: string, target: string) => Omit<Outcome, 'wallMs'> };

/** `zensweep trace` as root (raw sockets) or as nobody without any capability (the unprivileged sockets). */
function zensweepTool(mode: string, unprivileged = false): Tool {
  return {
    name: `zensweep${unprivileged ? ' (nobody)' : ''} trace ${mode}`,
    argv: (target) => [...(unprivileged ? UNPRIVILEGED : []), process.execPath, CLI, 'trace', target, mode, '--json'],
    read: (stdout) => {
      const report = JSON.parse(stdout) as TraceReport;
      const path = report.paths[0];
      if ((path?.sockets === 'raw') === unprivileged) throw new Error(`trace ${mode}${unprivileged ? ' as nobody' : ''} went through ${String(path?.sockets)} sockets`);
      const reached = path?.end === 'reached';
      return { reached, end: reached ? report.address : (path?.lastAnswer?.address ?? '—') };
    },
  };
}

const TOOLS: Tool[] = [
  zensweepTool('icmp'),
  zensweepTool('icmp', true),
  { name: 'mtr --report -c 3 (ICMP)', argv: (t) => ['mtr', '--report', '-n', '-c', '3', t], read: (s, t) => fromTable(s, t, true) },
  { name: 'traceroute -I', argv: (t) => ['traceroute', '-n', '-I', t], read: (s, t) => fromTable(s, t, true) },
  zensweepTool('udp'),
  zensweepTool('udp', true),
  { name: 'traceroute (UDP)', argv: (t) => ['traceroute', '-n', t], read: (s, t) => fromTable(s, t, true) },
  zensweepTool('tcp:443'),
  zensweepTool('tcp:443', true),
  { name: 'mtr --report -c 3 -T -P 443', argv: (t) => ['mtr', '--report', '-n', '-c', '3', '-T', '-P', '443', t], read: (s, t) => fromTable(s, t, true) },
  { name: 'traceroute -T -p 443', argv: (t) => ['traceroute', '-n', '-T', '-p', '443', t], read: (s, t) => fromTable(s, t, true) },
];

async function measureTool(lab: PathLab, tool: Tool, target: string, runs: number, median: (v: number[]) => number): Promise<Outcome> {
  const wrap = ['ip', 'netns', 'exec', lab.sweeperNs];
  const walls: number[] = [];
  let last: Omit<Outcome, 'wallMs'> = { reached: false, end: '—' };
  for (let i = 0; i < runs; i++) {
    const result = await run(wrap, tool.argv(target));
    walls.push(result.wallMs);
    last = tool.read(result.stdout, target);
  }
  return { wallMs: median(walls), ...last };
}

export interface TraceBenchResult {
  /** Median wall of `node -e 0` in the namespace: Node's bare start. */
  nodeStartMs: number;
  rows: { path: string; tool: string; outcome: Outcome }[];
  diagMs: number;
  /** The same diag as nobody without any capability. */
  diagUnprivilegedMs: number;
}

export async function benchTrace(runs: number, median: (values: number[]) => number): Promise<TraceBenchResult> {
  for (const tool of ['/usr/bin/mtr', '/usr/sbin/traceroute', CLI]) {
    if (!existsSync(tool)) throw new Error(`${tool} is missing (apt-get install mtr-tiny traceroute; npm run build)`);
  }
  const rows: TraceBenchResult['rows'] = [];
  let nodeStartMs = 0;
  let diagMs = 0;
  let diagUnprivilegedMs = 0;
  const answering = await createPathLab({ silentHop: false });
  const lab = await createPathLab();
  try {
    for (const where of [answering, lab]) {
      const set = await where.exec(['sysctl', '-q', '-w', `net.ipv4.ping_group_range=${EVERY_GROUP}`]);
      if (set.code !== 0) throw new Error(`ping_group_range in the sweeper namespace: ${set.stderr}`);
    }
    const starts: number[] = [];
    for (let i = 0; i < runs; i++) starts.push((await run(['ip', 'netns', 'exec', lab.sweeperNs], [process.execPath, '-e', '0'])).wallMs);
    nodeStartMs = median(starts);
    const a = lab.addresses;
    const paths: [string, PathLab, string][] = [
      ['(a) every hop answers', answering, a.fragNeeded.v4],
      ['(b) hop 2 silent', lab, a.fragNeeded.v4],
      ['(c) ICMP dropped after hop 3, TCP 443 open', lab, a.icmpFiltered.v4],
      ['(d) nothing past hop 3', lab, a.dropped.v4],
    ];
    for (const [title, where, target] of paths) {
      console.log(`\ntrace ${title}: ${target}`);
      // Not measured: the first packets of a fresh lab wait for ARP on every link, whichever tool sends them.
      await run(['ip', 'netns', 'exec', where.sweeperNs], [process.execPath, CLI, 'trace', target, 'udp', '--json']);
      for (const tool of TOOLS) {
        const outcome = await measureTool(where, tool, target, runs, median);
        rows.push({ path: title, tool: tool.name, outcome });
        console.log(
          `  ${tool.name.padEnd(34)} ${outcome.wallMs.toFixed(0).padStart(6)} ms   ${outcome.reached ? 'reached' : 'not reached'.padEnd(7)}   ends at ${outcome.end}`,
        );
      }
    }
    const diags: number[] = [];
    let diag: DiagReport | undefined;
    for (let i = 0; i < runs; i++) {
      const result = await run(['ip', 'netns', 'exec', lab.sweeperNs], [process.execPath, CLI, 'diag', a.blackHole.v4, '--json']);
      diags.push(result.wallMs);
      diag = JSON.parse(result.stdout) as DiagReport;
    }
    diagMs = median(diags);
    console.log(`\ndiag ${a.blackHole.v4} (a PMTU black hole, hop 2 silent): ${diagMs.toFixed(0)} ms; ${diag?.summary.join(' | ') ?? ''}`);
    const unprivileged: number[] = [];
    for (let i = 0; i < runs; i++) {
      const result = await run(['ip', 'netns', 'exec', lab.sweeperNs, ...UNPRIVILEGED], [process.execPath, CLI, 'diag', a.blackHole.v4, '--json']);
      unprivileged.push(result.wallMs);
      diag = JSON.parse(result.stdout) as DiagReport;
    }
    diagUnprivilegedMs = median(unprivileged);
    console.log(`the same as nobody, no capability: ${diagUnprivilegedMs.toFixed(0)} ms; ${diag?.summary.join(' | ') ?? ''}`);
    console.log(`Node's bare start in the namespace: ${nodeStartMs.toFixed(0)} ms`);
  } finally {
    await Promise.all([lab.destroy(), answering.destroy()]);
  }
  return { nodeStartMs, rows, diagMs, diagUnprivilegedMs };
}

/** The issue's targets, checked on the figures. */
export function traceTargets(result: TraceBenchResult): string[] {
  const lines: string[] = [];
  const mark = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  const byPath = new Map<string, TraceBenchResult['rows']>();
  for (const row of result.rows) byPath.set(row.path, [...(byPath.get(row.path) ?? []), row]);
  let correct = true;
  for (const [path, rows] of byPath) {
    const best = rows.filter((r) => !r.tool.startsWith('zensweep'));
    for (const z of rows.filter((r) => r.tool.startsWith('zensweep'))) {
      // A peer in the same mode: ICMP with ICMP, UDP with UDP, TCP with TCP.
      const mode = z.tool.split(' ').at(-1) ?? '';
      const peers = best.filter((p) => (mode === 'icmp' ? /ICMP|-I/.test(p.tool) : mode === 'udp' ? /UDP/.test(p.tool) : /-T/.test(p.tool)));
      for (const peer of peers) {
        if ((peer.outcome.reached && !z.outcome.reached) || (!peer.outcome.reached && peer.outcome.end !== '—' && peer.outcome.end !== z.outcome.end)) {
          correct = false;
          lines.push(`  ${path}: ${z.tool} less correct than ${peer.tool}`);
        }
      }
    }
  }
  lines.push(`  never less correct than a peer in the same mode: ${mark(correct)}`);
  const wall = (path: string, tool: string): number => result.rows.find((r) => r.path.startsWith(path) && r.tool === tool)?.outcome.wallMs ?? NaN;
  for (const [z, mtr] of [
    ['zensweep trace icmp', 'mtr --report -c 3 (ICMP)'],
    ['zensweep (nobody) trace icmp', 'mtr --report -c 3 (ICMP)'],
    ['zensweep trace tcp:443', 'mtr --report -c 3 -T -P 443'],
    ['zensweep (nobody) trace tcp:443', 'mtr --report -c 3 -T -P 443'],
  ] as const) {
    const slower = ['(a)', '(b)', '(c)', '(d)'].filter((p) => !(wall(p, z) < wall(p, mtr)));
    lines.push(`  ${z} faster than ${mtr} (same 3 probes per hop) on every path: ${mark(slower.length === 0)}${slower.length ? ` (not on ${slower.join(', ')})` : ''}`);
  }
  for (const [z, tr] of [
    ['zensweep trace icmp', 'traceroute -I'],
    ['zensweep (nobody) trace icmp', 'traceroute -I'],
    ['zensweep trace udp', 'traceroute (UDP)'],
    ['zensweep (nobody) trace udp', 'traceroute (UDP)'],
    ['zensweep trace tcp:443', 'traceroute -T -p 443'],
    ['zensweep (nobody) trace tcp:443', 'traceroute -T -p 443'],
  ] as const) {
    const allowed = wall('(a)', tr) + result.nodeStartMs + 100;
    lines.push(`  (a) ${z} ${wall('(a)', z).toFixed(0)} ms ≤ ${tr} + Node's start + 100 ms = ${allowed.toFixed(0)} ms: ${mark(wall('(a)', z) <= allowed)}`);
    lines.push(`  (d) ${z} ${wall('(d)', z).toFixed(0)} ms < ${tr} ${wall('(d)', tr).toFixed(0)} ms (silent hops): ${mark(wall('(d)', z) < wall('(d)', tr))}`);
  }
  lines.push(`  full diag ${result.diagMs.toFixed(0)} ms ≤ 15 s: ${mark(result.diagMs <= 15_000)}`);
  lines.push(`  full diag as nobody ${result.diagUnprivilegedMs.toFixed(0)} ms ≤ 15 s: ${mark(result.diagUnprivilegedMs <= 15_000)}`);
  return lines;
}
