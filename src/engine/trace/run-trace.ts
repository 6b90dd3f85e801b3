import { icmpSetting } from '../../config.js';
import { InvalidTargetError, OutOfScopeError } from '../../core/errors.js';
import type { Scope } from '../../core/scope.js';
import { addressToBigInt } from '../../core/targets.js';
import { concludeTrace } from '../../core/trace.js';
import type { TraceMode, TracePath, TraceReport, TraceRequest } from '../../core/trace.js';
import { REVERSE_TIMEOUT_MS, reverseNames } from '../reverse-names.js';
import type { ReverseResolver } from '../reverse-names.js';
import type { IcmpSetting } from '../icmp/raw-transport.js';
import { defaultResolver, resolveNames } from '../sweep.js';
import type { NameResolver } from '../sweep.js';
import { sourceAddressFor } from './endpoints.js';
import { IcmpOffError, TraceUnavailableError } from './raw-socket.js';
import { PathTracer } from './tracer.js';

export type { ReverseResolver } from '../reverse-names.js';

export interface TraceDependencies {
  signal?: AbortSignal;
  /** Forward resolution where the probes run; default getaddrinfo. */
  resolve?: NameResolver;
  /** Reverse resolution for `dns:on`; default the system's resolver (node:dns reverse). */
  reverse?: ReverseResolver;
  /** The only addresses this process may probe (an agent's CIDRs), checked after the name is resolved. */
  scope?: Scope;
  /** The networks the policy lets the requester probe (a job's scope), checked likewise. */
  requesterScope?: Scope;
  /** Time allowed to resolve the name, and to the reverse lookups (all of them), in milliseconds; default 5000. */
  resolveTimeoutMs?: number;
  /**
   * Which sockets the probes go through (ZENSWEEP_ICMP, read from the environment when absent): auto (raw where
   * permitted, else without privilege), raw, ping or off (without privilege, and no ICMP trace: see transports.ts).
   */
  sockets?: IcmpSetting;
}

/** The target's address: itself, or its name's first address where the probes run. */
export async function resolveTarget(
  target: TraceRequest['target'],
  deps: Pick<TraceDependencies, 'resolve' | 'resolveTimeoutMs' | 'scope' | 'requesterScope'>,
): Promise<{ address: string; family: 4 | 6 }> {
  let address: string;
  if (target.kind === 'name') {
    const [resolution] = await resolveNames([target.name], deps.resolve ?? defaultResolver, deps.resolveTimeoutMs ?? 5000);
    // IPv4 first when the name has both: what people mean by a host's address, and what its ACLs name.
    const addresses = resolution?.addresses ?? [];
    const first = addresses.find((a) => !a.includes(':')) ?? addresses[0];
    if (!first) throw new InvalidTargetError(`${target.name} does not resolve here (${resolution?.error ?? 'ENOTFOUND'}): nothing was probed`);
    address = first;
  } else {
    address = target.text;
  }
  const { family } = addressToBigInt(address);
  if (deps.scope && !deps.scope.contains(address)) {
    throw new OutOfScopeError(`${address} is outside the networks this agent may probe (${deps.scope.toString()}); nothing was probed`);
  }
  if (deps.requesterScope && !deps.requesterScope.contains(address)) {
    const named = target.kind === 'name' ? `${address} (${target.name})` : address;
    throw new OutOfScopeError(
      `${named} is outside the networks the policy lets the requester sweep (${deps.requesterScope.toString()}); nothing was probed`,
    );
  }
  return { address, family };
}

/** Each hop's responder gets its PTR name (`dns:on`), every address looked up once, in parallel. */
async function nameResponders(paths: TracePath[], reverse: ReverseResolver | undefined, timeoutMs: number): Promise<void> {
  const responders = paths.flatMap((p) => p.hops.flatMap((h) => h.responders));
  const names = await reverseNames(
    responders.map((r) => r.address),
    { reverse, timeoutMs },
  );
  for (const responder of responders) {
    const name = names.get(responder.address)?.name;
    if (name) responder.name = name;
  }
}

/**
 * Traces the path to one host where this process runs: resolves it, checks the scope, traces in the mode asked
 * (auto: ICMP, then TCP to the port when ICMP did not reach the host), and says what to conclude.
 */
export async function runTrace(request: TraceRequest, deps: TraceDependencies = {}): Promise<TraceReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const { options } = request;
  const { address, family } = await resolveTarget(request.target, deps);
  const origin = await sourceAddressFor(address, family);
  const paths: TracePath[] = [];
  let warning: string | undefined;
  if ('reporter' in origin) {
    const mode: TraceMode = options.mode === 'auto' ? 'icmp' : options.mode;
    paths.push({ mode, end: 'local', hops: [], reporter: origin.reporter, probes: 0, durationMs: 0 });
  } else {
    const modes: TraceMode[] = options.mode === 'auto' ? ['icmp', 'tcp'] : [options.mode];
    const sockets = deps.sockets ?? icmpSetting(process.env);
    for (const mode of modes) {
      let tracer: PathTracer;
      try {
        tracer = new PathTracer(address, family, origin.source, { ...options, mode, signal: deps.signal, sockets });
      } catch (error) {
        // auto: no socket for ICMP (no raw socket, no ping socket), or no ICMP echo at all (ZENSWEEP_ICMP=off), still
        // leaves TCP, which needs neither privilege nor echo.
        const noIcmp = error instanceof TraceUnavailableError || error instanceof IcmpOffError;
        if (!noIcmp || options.mode !== 'auto' || mode !== 'icmp') throw error;
        warning = `ICMP not traced: ${error.message}`;
        continue;
      }
      const path = await tracer.run();
      paths.push(path);
      if (path.end === 'reached' || path.end === 'local' || deps.signal?.aborted) break;
    }
  }
  if (options.dns) {
    await nameResponders(paths, deps.reverse, deps.resolveTimeoutMs ?? REVERSE_TIMEOUT_MS);
  }
  const report: TraceReport = {
    target: request.target.text,
    address,
    family,
    options,
    startedAt,
    durationMs: Math.round((performance.now() - started) * 10) / 10,
    paths,
    conclusion: concludeTrace(paths, address),
  };
  if ('source' in origin) report.source = origin.source;
  if (warning) report.warning = warning;
  return report;
}
