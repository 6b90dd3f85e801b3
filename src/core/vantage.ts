/**
 * The view from several vantages (`from:all`, `from:each`): the same targets swept from several agents or groups,
 * put together into one combined view, and compared host by host. Pure: the report worker, the views and the
 * watches all read disagreements through these functions, so they never disagree about a disagreement.
 */
import type { HostResult, NameResolution, VantageView } from './report.js';
import { HOST_STATES } from './states.js';
import { hostFact, sameFacts } from './facts.js';

/** Whether two results of one host say the same fact, as "what changed" and watches compare them (core/facts.ts). */
export function sameFact(a: HostResult, b: HostResult): boolean {
  // An agent that sent no ICMP saw less, not otherwise: what it could see being the same is no disagreement.
  return sameFacts(hostFact(a), hostFact(b));
}

/** The fact a host's result says, as one comparable string (see `sameFact`). */
export function factOf(host: HostResult): string {
  return hostFact(host);
}

/** Lower is reached better: alive, TCP only, prohibited, unreachable, silent (the order of HOST_STATES). */
function reach(host: HostResult): number {
  return HOST_STATES.indexOf(host.state);
}

/**
 * The combined view of several vantages: each address once, as the vantage that reached it best saw it (the first
 * in the vantages' order on a tie), in address order as the vantages list them; names once each.
 */
export function combineVantages(views: readonly Pick<VantageView, 'hosts' | 'names'>[]): { hosts: HostResult[]; names: NameResolution[] } {
  const best = new Map<string, HostResult>();
  const order: string[] = [];
  for (const view of views) {
    for (const host of view.hosts) {
      const known = best.get(host.ip);
      if (!known) order.push(host.ip);
      if (!known || reach(host) < reach(known)) best.set(host.ip, host);
    }
  }
  const names = new Map<string, NameResolution>();
  for (const view of views) for (const name of view.names) if (!names.has(name.name)) names.set(name.name, name);
  return { hosts: order.map((ip) => best.get(ip) as HostResult), names: [...names.values()] };
}

/** One host the vantages saw differently: what each vantage that probed it saw, in the vantages' order. */
export interface Disagreement {
  ip: string;
  names?: string[];
  /** The PTR name of the combined view's host (dns:on). */
  ptr?: string;
  views: { vantage: string; host: HostResult }[];
}

export interface VantageComparison {
  /** Hosts whose facts differ between the vantages that probed them, in the combined view's order. */
  disagreements: Disagreement[];
  /** The combined view's hosts on which every vantage that probed them agrees. */
  agreed: HostResult[];
}

/**
 * Compares the vantages host by host. A host only some vantages probed (the others' agent left, or a name resolved
 * elsewhere to another address) is compared among those that did: a missing view is its agent's trouble, said
 * apart, never a disagreement.
 */
export function compareVantages(report: { hosts: readonly HostResult[]; vantages?: readonly VantageView[] }): VantageComparison {
  const vantages = report.vantages ?? [];
  const byIp = vantages.map((view) => new Map(view.hosts.map((host) => [host.ip, host])));
  const disagreements: Disagreement[] = [];
  const agreed: HostResult[] = [];
  for (const combined of report.hosts) {
    const views: Disagreement['views'] = [];
    vantages.forEach((view, i) => {
      const host = byIp[i]?.get(combined.ip);
      if (host) views.push({ vantage: view.name, host });
    });
    const first = views[0]?.host;
    if (first && views.some((v) => !sameFact(v.host, first))) {
      disagreements.push({ ip: combined.ip, ...(combined.names ? { names: combined.names } : {}), ...(combined.ptr ? { ptr: combined.ptr } : {}), views });
    } else {
      agreed.push(combined);
    }
  }
  return { disagreements, agreed };
}

/** A host some vantage saw otherwise than the watch's accepted state, while another vantage saw it otherwise. */
export interface VantageDissent {
  vantage: string;
  ip: string;
  /** What this vantage saw (a signature). */
  seen: string;
  /** The watch's accepted signature of the host. */
  accepted: string;
}

/**
 * What a run of a watch that needs agreement (`confirm:agents`) observed: each host's signature where every vantage
 * that probed it agrees; where they disagree, its accepted signature (a change counts once every vantage sees it),
 * and, as dissent, what each vantage that saw it otherwise than accepted saw: its own view, not the host's.
 */
export function agreedObservation(
  report: { hosts: readonly HostResult[]; vantages?: readonly VantageView[] },
  accepted: (ip: string) => string,
): { observed: Map<string, string>; dissent: VantageDissent[] } {
  const observed = new Map<string, string>();
  const dissent: VantageDissent[] = [];
  const { disagreements } = compareVantages(report);
  const disputed = new Map(disagreements.map((d) => [d.ip, d]));
  for (const host of report.hosts) {
    const disagreement = disputed.get(host.ip);
    if (!disagreement) {
      observed.set(host.ip, factOf(host));
      continue;
    }
    const before = accepted(host.ip);
    observed.set(host.ip, before);
    for (const view of disagreement.views) {
      const seen = factOf(view.host);
      if (!sameFacts(seen, before)) dissent.push({ vantage: view.vantage, ip: host.ip, seen, accepted: before });
    }
  }
  return { observed, dissent };
}

/**
 * Which dissents to say now: those not said before (in `said`, the watch state's record), once each while they
 * last; and the record of those now current (a dissent that ended is forgotten, and said again if it comes back).
 */
export function newDissent(
  said: Readonly<Record<string, Readonly<Record<string, string>>>> | undefined,
  current: readonly VantageDissent[],
): { toSay: VantageDissent[]; record: Record<string, Record<string, string>> } {
  const record: Record<string, Record<string, string>> = {};
  const toSay: VantageDissent[] = [];
  for (const d of current) {
    (record[d.vantage] ??= {})[d.ip] = d.seen;
    if (said?.[d.vantage]?.[d.ip] !== d.seen) toSay.push(d);
  }
  return { toSay, record };
}
