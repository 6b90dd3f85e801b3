/**
 * What changed between two sweeps of the same targets: which hosts came up, which went quiet, which changed their
 * diagnosis. Works on the compact form that history keeps (address and state only), so a sweep from last week
 * compares with one from now.
 */
import type { CompactHost, DiffContext, SweepDiff } from './diff-model.js';
import type { HostResult } from './report.js';
import type { HostState } from './states.js';
import { addressToBigInt, type AddressFamily } from './targets.js';

/** The compact form of a report's hosts, in the report's order (address order). */
export function compactHosts(hosts: readonly HostResult[]): CompactHost[] {
  return hosts.map((host): CompactHost => [host.ip, host.state]);
}

function answers(state: HostState): boolean {
  return state === 'alive' || state === 'alive_tcp_only';
}

/**
 * Compares two sweeps host by host, by address text (reports hold canonical text).
 *
 * - A host of `after` that `before` does not list counts as `silent` before: it was not seen answering.
 * - A host of `before` that `after` does not list is not compared at all: the two sweeps covered different
 *   targets, and a host that was not probed has no state now. So it is in no list and not counted.
 * - Each host of `after` lands in exactly one of `appeared`, `wentSilent`, `changed` or the `unchanged` count.
 * - Lists are sorted by address: IPv4 numerically, then IPv6 numerically.
 * - When an address is listed twice in one input, its last entry counts.
 * - With a `context`, a host that answered before only on TCP ports not probed now, and does not answer now, is in
 *   `notCompared` instead of `wentSilent`.
 */
export function diffSweeps(before: readonly CompactHost[], after: readonly CompactHost[], context?: DiffContext): SweepDiff {
  const previous = new Map<string, HostState>(before);
  const current = new Map<string, HostState>(after);
  const appeared: CompactHost[] = [];
  const wentSilent: CompactHost[] = [];
  const changed: SweepDiff['changed'] = [];
  const notCompared: NonNullable<SweepDiff['notCompared']> = [];
  let unchanged = 0;
  for (const [ip, to] of current) {
    const from = previous.get(ip) ?? 'silent';
    const ports = context?.answeredOn.get(ip) ?? [];
    if (context && from === 'alive_tcp_only' && !answers(to) && !ports.some((port) => context.portsNow.includes(port))) {
      notCompared.push({ ip, ports: [...ports] });
    } else if (!answers(from) && answers(to)) {
      appeared.push([ip, to]);
    } else if (answers(from) && !answers(to)) {
      wentSilent.push([ip, to]);
    } else if (from !== to) {
      changed.push({ ip, from, to });
    } else {
      unchanged += 1;
    }
  }
  return {
    appeared: sortByAddress(appeared, (host) => host[0]),
    wentSilent: sortByAddress(wentSilent, (host) => host[0]),
    changed: sortByAddress(changed, (change) => change.ip),
    unchanged,
    ...(context ? { notCompared: sortByAddress(notCompared, (host) => host.ip) } : {}),
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
