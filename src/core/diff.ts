/**
 * What changed between two sweeps of the same targets: which hosts came up, which went quiet, which changed their
 * fact (state or ports). Works on facts (core/facts.ts), the form history keeps too, so a sweep from last week
 * compares with one from now, and the diff, the watches and every other comparison mean the same by "changed".
 */
import type { CompactHost, DiffContext, FactHost, PortChange, SweepDiff } from './diff-model.js';
import { QUIET_FACT, differsOnlyByEcho, echoNotSent, hostFact, readFact } from './facts.js';
import type { ReadFact } from './facts.js';
import type { HostResult } from './report.js';
import type { HostState } from './states.js';
import { addressToBigInt, type AddressFamily } from './targets.js';

function answers(state: HostState): boolean {
  return state === 'alive' || state === 'alive_tcp_only';
}

/**
 * The facts of a report's hosts, in the report's order (address order). A host the sweep stopped probing before
 * its probes ended (`unfinished`) and that had not answered has no verdict yet: it is left out, as a host not swept.
 */
export function compactHosts(hosts: readonly HostResult[]): FactHost[] {
  const facts: FactHost[] = [];
  for (const host of hosts) {
    if (host.unfinished && !answers(host.state)) continue;
    facts.push([host.ip, hostFact(host)]);
  }
  return facts;
}

/** The addresses of a report's hosts to which no ICMP echo was sent (DiffContext `noEchoNow`). */
export function noEchoTo(hosts: readonly HostResult[]): Set<string> {
  return new Set(hosts.filter(echoNotSent).map((host) => host.ip));
}

/** The ports both facts name (both sweeps probed them, to a verdict) whose state differs, in port order. */
function portChanges(before: ReadFact, after: ReadFact): PortChange[] {
  const changes: PortChange[] = [];
  for (const [port, to] of after.ports) {
    const from = before.ports.get(port);
    if (from !== undefined && from !== to) changes.push({ port, from, to });
  }
  return changes.sort((a, b) => a.port - b.port);
}

/**
 * Compares two sweeps host by host, by address text (reports hold canonical text), fact by fact.
 *
 * - A host of `after` that `before` does not list counts as `silent` before: it was not seen answering.
 * - A host of `before` that `after` does not list is not compared at all: the two sweeps covered different
 *   targets, and a host that was not probed has no state now. So it is in no list and not counted.
 * - Each host of `after` lands in exactly one of `appeared`, `wentSilent`, `changed`, `notCompared`,
 *   `echoNotCompared` or the `unchanged` count.
 * - A port counts only where both facts name it: a port one sweep did not probe (or a record of before facts were
 *   kept, which names none) is no change.
 * - Lists are sorted by address: IPv4 numerically, then IPv6 numerically.
 * - When an address is listed twice in one input, its last entry counts.
 * - With a `context`, a host that answered before only on TCP ports not probed now, and does not answer now, is in
 *   `notCompared` instead of `wentSilent`.
 * - A host one of the two sweeps sent no ICMP echo (`icmp/unsent` in its fact, or `context.noEchoNow`) whose TCP
 *   reads as before is in `echoNotCompared`, not `changed`, `appeared` or `wentSilent`: ICMP was not asked, so its
 *   state could not be told apart; where TCP answered both times, only its ports are compared.
 */
export function diffSweeps(before: readonly FactHost[], after: readonly FactHost[], context?: DiffContext): SweepDiff {
  const previous = new Map<string, string>(before);
  const current = new Map<string, string>(after);
  const appeared: CompactHost[] = [];
  const wentSilent: CompactHost[] = [];
  const changed: SweepDiff['changed'] = [];
  const notCompared: NonNullable<SweepDiff['notCompared']> = [];
  const echoNotCompared: NonNullable<SweepDiff['echoNotCompared']> = [];
  let unchanged = 0;
  for (const [ip, fact] of current) {
    const was = readFact(previous.get(ip) ?? QUIET_FACT);
    const now = readFact(fact);
    if (now.echo && context?.noEchoNow?.has(ip)) now.echo = false;
    const from = was.state;
    const to = now.state;
    const ports = context?.answeredOn.get(ip) ?? [];
    const moved = portChanges(was, now);
    if (context && from === 'alive_tcp_only' && !answers(to) && !ports.some((port) => context.portsNow.includes(port))) {
      notCompared.push({ ip, ports: [...ports] });
    } else if (from !== to && differsOnlyByEcho(was, now)) {
      echoNotCompared.push({ ip, then: from, now: to, unsent: now.echo ? 'then' : 'now' });
    } else if ((!was.echo || !now.echo) && from !== to && answers(from) && answers(to)) {
      // Both answered TCP and one sweep sent no echo: only its ports can have changed, not its state.
      changed.push({ ip, from: to, to, ...(moved.length > 0 ? { ports: moved } : {}) });
    } else if (!answers(from) && answers(to)) {
      appeared.push([ip, to]);
    } else if (answers(from) && !answers(to)) {
      wentSilent.push([ip, to]);
    } else {
      if (from !== to || moved.length > 0) changed.push({ ip, from, to, ...(moved.length > 0 ? { ports: moved } : {}) });
      else unchanged += 1;
    }
  }
  return {
    appeared: sortByAddress(appeared, (host) => host[0]),
    wentSilent: sortByAddress(wentSilent, (host) => host[0]),
    changed: sortByAddress(changed, (change) => change.ip),
    unchanged,
    ...(context ? { notCompared: sortByAddress(notCompared, (host) => host.ip) } : {}),
    ...(echoNotCompared.length > 0 ? { echoNotCompared: sortByAddress(echoNotCompared, (host) => host.ip) } : {}),
  };
}

/** The items sorted by address; each address is parsed once, not once per comparison. */
function sortByAddress<T>(items: T[], ipOf: (item: T) => string): T[] {
  if (items.length < 2) {
    return items;
  }
  const keyed = items.map((item) => {
    const { family, value } = addressToBigInt(ipOf(item));
    return { item, family, value };
  });
  keyed.sort((a, b) => compareAddresses(a.family, a.value, b.family, b.value));
  return keyed.map((entry) => entry.item);
}

function compareAddresses(familyA: AddressFamily, a: bigint, familyB: AddressFamily, b: bigint): number {
  if (familyA !== familyB) {
    return familyA - familyB;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
