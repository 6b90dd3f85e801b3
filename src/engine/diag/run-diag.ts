import { networkInterfaces } from 'node:os';
import { DIAG_ECHOES, DIAG_ECHO_INTERVAL_MS, diagCommands, summarizeDiag } from '../../core/diag.js';
import type { DiagInterface, DiagNeighbour, DiagReport, DiagResolution } from '../../core/diag.js';
import { isZenSweepError } from '../../core/errors.js';
import { DEFAULT_OPTIONS } from '../../core/request.js';
import type { DiagRequest } from '../../core/trace-grammar.js';
import { parseTargetToken } from '../../core/targets.js';
import { DEFAULT_TRACE_OPTIONS } from '../../core/trace.js';
import { dnsModule } from '../builtins.js';
import { runSweep } from '../sweep.js';
import { sourceAddressFor } from '../trace/endpoints.js';
import { icmpSetting } from '../../config.js';
import type { PathMtuReport } from '../../core/path-mtu.js';
import type { IcmpSetting } from '../icmp/raw-transport.js';
import { findPathMtu } from '../trace/pmtu.js';
import { IcmpOffError, TraceUnavailableError } from '../trace/raw-socket.js';
import { resolveTarget, runTrace } from '../trace/run-trace.js';
import type { TraceDependencies } from '../trace/run-trace.js';
import { arpEntry, defaultGateway, interfaceMtu, nameServers, routeTo } from './kernel-tables.js';

export type DiagDependencies = Pick<TraceDependencies, 'signal' | 'scope' | 'requesterScope' | 'sockets'> & {
  /** Time allowed to each DNS question, in milliseconds; default 2000. */
  dnsTimeoutMs?: number;
};

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? 'ERROR';
}

async function resolveForReport(target: DiagRequest['target'], address: string | undefined, timeoutMs: number): Promise<DiagResolution> {
  const dns = dnsModule();
  const resolution: DiagResolution = { servers: nameServers() };
  const unroutable = resolution.servers.filter((server) => {
    const route = routeTo(server);
    return route === undefined || route.reject;
  });
  if (unroutable.length > 0) resolution.unroutable = unroutable;
  const resolver = new dns.Resolver({ timeout: timeoutMs, tries: 1 });
  if (target.kind === 'name') {
    resolution.name = target.name;
    const [a, aaaa, system] = await Promise.allSettled([
      resolver.resolve4(target.name),
      resolver.resolve6(target.name),
      dns.lookup(target.name, { all: true, verbatim: true }),
    ]);
    if (a.status === 'fulfilled') resolution.a = a.value;
    if (aaaa.status === 'fulfilled') resolution.aaaa = aaaa.value;
    if (a.status === 'rejected' && aaaa.status === 'rejected') resolution.dnsError = codeOf(a.reason);
    if (system.status === 'fulfilled') resolution.system = system.value.map((r) => r.address);
    else resolution.systemError = codeOf(system.reason);
  } else if (address) {
    try {
      resolution.ptr = await resolver.reverse(address);
    } catch (error) {
      resolution.ptrError = codeOf(error);
    }
  }
  return resolution;
}

function interfaceOf(device: string, source: string): DiagInterface | undefined {
  const entry = networkInterfaces()[device]?.find((e) => e.address === source);
  if (!entry) return undefined;
  const found: DiagInterface = { device, cidr: entry.cidr ?? entry.address, mac: entry.mac };
  const mtu = interfaceMtu(device);
  if (mtu !== undefined) found.mtu = mtu;
  return found;
}

function neighbourOf(address: string, family: 4 | 6, device: string | undefined): DiagNeighbour {
  if (family === 6) return { address, ...(device ? { device } : {}), state: 'unknown' };
  const entry = arpEntry(address);
  if (!entry) return { address, ...(device ? { device } : {}), state: 'none' };
  return entry.lladdr ? { address, device: entry.device, lladdr: entry.lladdr, state: entry.state } : { address, device: entry.device, state: entry.state };
}

/**
 * The path MTU, or why it cannot be measured from here (ZENSWEEP_ICMP=off, or no socket for its echoes): one part of
 * the report that cannot be gathered leaves the others standing.
 */
async function measurePathMtu(address: string, family: 4 | 6, sockets: IcmpSetting, signal: AbortSignal | undefined): Promise<PathMtuReport | string> {
  try {
    return await findPathMtu(address, family, { signal, sockets });
  } catch (error) {
    if (error instanceof IcmpOffError || error instanceof TraceUnavailableError) return error.message;
    throw error;
  }
}

/**
 * Gathers the escalation report for one host where this process runs. The ping with its TCP connects, the trace
 * and the path MTU search run at once (the MTU search is the longest, about 10 s at most); the neighbour entry is
 * read after them, when the probes have made the kernel resolve the next hop.
 */
export async function runDiag(request: DiagRequest, deps: DiagDependencies = {}): Promise<DiagReport> {
  const started = performance.now();
  const start = new Date().toISOString();
  const ports = request.options.ports;
  let target: { address: string; family: 4 | 6 } | undefined;
  try {
    target = await resolveTarget(request.target, { scope: deps.scope, requesterScope: deps.requesterScope });
  } catch (error) {
    // A name that does not resolve is a finding, not a failure: the report says what the resolver answered.
    if (!(isZenSweepError(error) && error.code === 'invalid_target' && request.target.kind === 'name')) throw error;
  }
  const resolutionWork = resolveForReport(request.target, target?.address, deps.dnsTimeoutMs ?? 2000);
  const report: DiagReport = {
    target: request.target.text,
    window: { start, end: start },
    resolution: { servers: [] },
    commands: [],
    summary: [],
    durationMs: 0,
  };
  if (target) {
    const { address, family } = target;
    report.address = address;
    report.family = family;
    const routeFound = routeTo(address);
    const origin = await sourceAddressFor(address, family);
    if (routeFound) {
      const { destination, gateway, device, metric, reject, local } = routeFound;
      report.route = { destination, device, metric, reject, ...(gateway ? { gateway } : {}), ...(local ? { local } : {}) };
    }
    if ('reporter' in origin) report.routeError = `${origin.reporter.reason} (${origin.reporter.errno ?? 'error'})`;
    else if (routeFound) {
      const source = interfaceOf(routeFound.device, origin.source);
      if (source) report.source = source;
    }
    const gateway = defaultGateway(family);
    if (gateway) report.defaultGateway = gateway;
    const spec = parseTargetToken(address);
    if (spec.kind !== 'address') throw new Error(`${address} did not parse as one address`);
    // One ZENSWEEP_ICMP for the three: under off, no part sends an echo (the ping part is TCP only, the trace TCP).
    const sockets = deps.sockets ?? icmpSetting(process.env);
    const [sweep, trace, pathMtu] = await Promise.all([
      runSweep(
        {
          targets: [spec],
          options: { ...DEFAULT_OPTIONS, ports, count: DIAG_ECHOES, intervalMs: DIAG_ECHO_INTERVAL_MS, timeoutMs: 1000, retries: 0, rate: 0 },
        },
        { signal: deps.signal, scope: deps.scope, requesterScope: deps.requesterScope, icmp: sockets },
      ),
      runTrace(
        { target: spec, options: { ...DEFAULT_TRACE_OPTIONS, port: ports[0] ?? DEFAULT_TRACE_OPTIONS.port } },
        { signal: deps.signal, scope: deps.scope, requesterScope: deps.requesterScope, sockets },
      ),
      'reporter' in origin ? Promise.resolve(undefined) : measurePathMtu(address, family, sockets, deps.signal),
    ]);
    report.host = sweep.hosts[0];
    report.icmp = sweep.icmp;
    report.trace = trace;
    if (typeof pathMtu === 'string') report.pathMtuNotMeasured = pathMtu;
    else if (pathMtu) report.pathMtu = pathMtu;
    if (!('reporter' in origin) && !routeFound?.local) report.neighbour = neighbourOf(routeFound?.gateway ?? address, family, routeFound?.device);
  }
  report.resolution = await resolutionWork;
  report.commands = diagCommands(report);
  report.summary = summarizeDiag(report);
  report.window.end = new Date().toISOString();
  report.durationMs = Math.round(performance.now() - started);
  return report;
}
