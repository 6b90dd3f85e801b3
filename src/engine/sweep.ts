import { availableParallelism } from 'node:os';
import { OutOfScopeError, SweepTooLargeError } from '../core/errors.js';
import { summarize } from '../core/report.js';
import type { HostResult, NameResolution, SweepReport } from '../core/report.js';
import type { SweepRequest } from '../core/request.js';
import type { Scope } from '../core/scope.js';
import { AddressSet, addressToBigInt, canonicalAddress } from '../core/targets.js';
import { DEFAULT_MAX_ADDRESSES } from '../core/grammar.js';
import { dnsModule } from './builtins.js';
import { reverseNames } from './reverse-names.js';
import type { ReverseResolver } from './reverse-names.js';
import type { ProbeKit, SweepProgress } from './scheduler.js';
import type { IcmpSetting } from './icmp/raw-transport.js';
import { ProbeEngine, inFlightBudget, totalWaitMs } from './engine.js';
import type { TokenBucket } from './budget.js';
import type { ProbeMeter } from './meter.js';
import { addressCount, formatCount } from '../core/format.js';

/** The real probers (engine.ts), for tests that watch them. */
export { openProbeKit } from './engine.js';

/** What a sweep is about to do, once its names are resolved. */
export interface SweepPlan {
  addresses: number;
  /** Milliseconds the probing may take (SweepDependencies.timeBoundMs). */
  timeBoundMs: number;
}

export const DEFAULT_RESOLVE_TIMEOUT_MS = 5000;

/** Resolves a host name to every address it has (A and AAAA). */
export type NameResolver = (name: string) => Promise<string[]>;

export interface SweepDependencies {
  /** Most addresses one sweep may probe (after names are resolved), default 65,536. */
  maxAddresses?: number;
  /**
   * Probes outstanding at once; default sized from the rate and the timeouts (inFlightBudget): 4096 at an unlimited
   * rate, 31,250 at 10,000/s with a 1 s timeout and 1 retry. With `engine`, at most the engine's.
   */
  maxInFlight?: number;
  /**
   * The engine to run on (an agent's, shared by its chunks); default one opened for this sweep and closed after it,
   * paced by the request's rate.
   */
  engine?: ProbeEngine;
  /** The request's pace, shared with other sweeps on the same engine (the chunks of one sweep on one agent). */
  bucket?: TokenBucket;
  signal?: AbortSignal;
  onProgress?: (progress: SweepProgress) => void;
  /** Called once with a warning a person should see, e.g. that ICMP cannot be used (why, and the fix). */
  onWarning?: (message: string) => void;
  /** Called once with how ICMP is sent when it is not the usual raw socket (a ping socket). */
  onNotice?: (message: string) => void;
  /** How ICMP echo is sent (ZENSWEEP_ICMP), default auto: raw, else a ping socket, else TCP only. */
  icmp?: IcmpSetting;
  /** Name resolution where the probes run; default getaddrinfo (hosts file, private DNS zones). */
  resolve?: NameResolver;
  /** Probers to use instead of real sockets (tests of the scheduler's logic). */
  kit?: ProbeKit;
  /** Time allowed to resolve all names, in milliseconds, default 5000 (DEFAULT_RESOLVE_TIMEOUT_MS). */
  resolveTimeoutMs?: number;
  /**
   * Wall time of the probing, in milliseconds, past which the sweep stops and reports what it has
   * (`complete: false`, `stopped.code` `over_time`); default from its own arithmetic (sweepTimeBoundMs).
   */
  timeBoundMs?: number;
  /** Called once the addresses are known, before the first probe: how many, and the time bound of the probing. */
  onPlan?: (plan: SweepPlan) => void;
  /**
   * Send echoes from a sender thread, on another core (ZENSWEEP_SEND_HELPER): `auto` (default) on a machine with
   * more than one core; true or false to force it.
   */
  sendHelper?: boolean | 'auto';
  /**
   * The only addresses this process may probe (an agent's declared CIDRs), with their text for messages. Checked
   * after names are resolved: anything outside is refused before a packet leaves.
   */
  scope?: Scope;
  /**
   * The only addresses the person who asked may sweep (their policy's CIDRs), checked the same way. The refusal
   * names the addresses outside, with the host names they came from.
   */
  requesterScope?: Scope;
  /** Told of every probe sent and settled (an agent's metrics). */
  meter?: ProbeMeter;
  /** Reverse DNS for `dns:on`; default the system's name servers (PTR queries). */
  reverse?: ReverseResolver;
}

export const defaultResolver: NameResolver = async (name) => {
  const records = await dnsModule().lookup(name, { all: true, verbatim: true });
  return records.map((r) => r.address);
};

/** Resolves every name within `timeoutMs`; a name that fails keeps its error code (ENOTFOUND, ETIMEOUT…). */
export async function resolveNames(
  names: string[],
  resolve: NameResolver,
  timeoutMs: number,
): Promise<NameResolution[]> {
  return Promise.all(
    names.map(async (name): Promise<NameResolution> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })), timeoutMs);
      });
      try {
        const addresses = [...new Set(await Promise.race([resolve(name), timeout]))];
        return addresses.length > 0 ? { name, addresses } : { name, addresses, error: 'ENODATA' };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'ENOTFOUND';
        return { name, addresses: [], error: code };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

/**
 * `dns:on`: the PTR name of every host that answered, looked up once the probes have ended (a sweep without it
 * never waits on DNS), at most REVERSE_CONCURRENCY at once and all within `timeoutMs`.
 */
async function namePtr(hosts: HostResult[], reverse: ReverseResolver | undefined, timeoutMs: number): Promise<void> {
  const answered = hosts.filter((h) => h.state === 'alive' || h.state === 'alive_tcp_only');
  const names = await reverseNames(
    answered.map((h) => h.ip),
    { reverse, timeoutMs },
  );
  for (const host of answered) {
    const found = names.get(host.ip);
    if (found?.name) host.ptr = found.name;
    else if (found?.error) host.ptrError = found.error;
  }
}

/**
 * Sweeps every address of the request where this process runs: resolves names, checks the size cap, probes with
 * ICMP echo and TCP connects, and returns the report model shared by the CLI, JSON and Slack.
 */
export async function runSweep(request: SweepRequest, deps: SweepDependencies = {}): Promise<SweepReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const maxAddresses = deps.maxAddresses ?? DEFAULT_MAX_ADDRESSES;

  const nameTargets = request.targets.flatMap((t) => (t.kind === 'name' ? [t.name] : []));
  const names = await resolveNames(
    [...new Set(nameTargets)],
    deps.resolve ?? defaultResolver,
    deps.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS,
  );

  const set = AddressSet.fromSpecs(request.targets);
  const namesByAddress = new Map<string, string[]>();
  for (const resolution of names) {
    for (const address of resolution.addresses) {
      const { family, value } = addressToBigInt(address);
      set.add(family, value, value);
      const list = namesByAddress.get(address) ?? [];
      list.push(resolution.name);
      namesByAddress.set(address, list);
    }
  }
  if (deps.scope && !deps.scope.covers(set)) {
    const first = deps.scope.outside(set).toTargets()[0] ?? '';
    throw new OutOfScopeError(`${first} is outside the networks this agent may probe (${deps.scope.toString()}); nothing was probed`);
  }
  if (deps.requesterScope && !deps.requesterScope.covers(set)) {
    const outside = deps.requesterScope.outside(set).toTargets();
    const namesOf = new Map([...namesByAddress].map(([address, from]) => [canonicalAddress(address), from]));
    const named = (range: string): string => {
      const from = namesOf.get(range);
      return from ? `${range} (${from.join(', ')})` : range;
    };
    const listed = `${outside.slice(0, 5).map(named).join(', ')}${outside.length > 5 ? ` and ${outside.length - 5} more ranges` : ''}`;
    throw new OutOfScopeError(
      `${listed} ${outside.length === 1 && !outside[0]?.includes('-') ? 'is' : 'are'} outside the networks the policy lets ` +
        `the requester sweep (${deps.requesterScope.toString()}); nothing was probed`,
    );
  }
  if (set.size > BigInt(maxAddresses)) {
    throw new SweepTooLargeError(
      `these targets come to ${addressCount(set.size)}; a sweep may probe at most ` +
        `${formatCount(maxAddresses)}`,
    );
  }
  const total = Number(set.size);

  const families = new Set<4 | 6>();
  for (const range of set.ranges()) families.add(range.family);
  const engine =
    deps.engine ??
    new ProbeEngine({
      families,
      // The request's rate paces the sweep itself (its scheduler's bucket); the engine adds no second limit.
      rate: 0,
      maxInFlight: deps.maxInFlight ?? inFlightBudget(request.options.rate, totalWaitMs(request.options)),
      kit: deps.kit,
      sendHelper:
        deps.sendHelper === 'auto' || deps.sendHelper === undefined
          ? availableParallelism() > 1
          : deps.sendHelper,
      onWarning: deps.onWarning,
      onNotice: deps.onNotice,
      icmp: deps.icmp,
    });

  try {
    const scheduler = engine.scheduler(set, total, request.options, {
      maxInFlight: deps.maxInFlight,
      signal: deps.signal,
      onProgress: deps.onProgress,
      names: namesByAddress,
      bucket: deps.bucket,
      meter: deps.meter,
      timeBoundMs: deps.timeBoundMs,
    });
    deps.onPlan?.({ addresses: total, timeBoundMs: scheduler.timeBoundMs });
    const { hosts, complete, stopped } = await scheduler.run();
    if (request.options.dns && !deps.signal?.aborted) {
      await namePtr(hosts, deps.reverse, deps.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS);
    }
    const report: SweepReport = {
      targets: request.targets.map((t) => t.text),
      options: request.options,
      startedAt,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      complete,
      planned: total,
      icmp: engine.icmp,
      summary: summarize(hosts),
      names,
      hosts,
    };
    if (stopped) report.stopped = stopped;
    return report;
  } finally {
    if (!deps.engine) engine.close();
  }
}
