import { readFileSync } from 'node:fs';
import { AddressSet, knownAddressToBigInt } from '../core/targets.js';
import { readRoutes } from './diag/kernel-tables.js';
import type { KernelRoute } from './diag/kernel-tables.js';

/**
 * Which targets are on-link, read from the kernel's main routing table (/proc/net/route, /proc/net/ipv6_route: no
 * `ip` binary needed). An on-link target costs an entry in the kernel's neighbour table (ARP/ND) while it is
 * resolved, about 3 s for an address nobody holds, and that table is small (net.ipv4.neigh.default.gc_thresh3,
 * 1,024 by default): past it, sends fail. A routed target costs one entry, the gateway's, whatever the number
 * of targets. So the engine caps on-link targets in progress, and lets routed ones go as fast as the rate allows.
 */

/** A route as the on-link test needs it: its range, and whether it leads to the link itself. */
interface Route {
  family: 4 | 6;
  start: bigint;
  end: bigint;
  prefix: number;
  /** No gateway (and not a reject route): the destination is resolved on the link itself. */
  onLink: boolean;
}

/** How long the kernel takes to give up on an address nobody answers ARP/ND for: 3 probes, 1 s apart. */
export const NEIGHBOUR_RESOLVE_MS = 3000;
/** The kernel's default neighbour table limit (gc_thresh3), when /proc cannot be read. */
const DEFAULT_NEIGHBOUR_LIMIT = 1024;

function rangeOf(route: KernelRoute): Route {
  const value = knownAddressToBigInt(route.family, route.destination.split('/')[0] ?? '');
  const size = 1n << BigInt((route.family === 4 ? 32 : 128) - route.prefix);
  const start = (value / size) * size;
  return { family: route.family, start, end: start + size - 1n, prefix: route.prefix, onLink: !route.gateway && !route.reject };
}

/** Tells on-link targets from routed ones by the longest matching route, as the kernel does. */
export class RouteTable {
  private readonly routes: Route[];

  /** @param routes the main table, as diag/kernel-tables.ts reads it. */
  constructor(routes: readonly KernelRoute[]) {
    this.routes = routes.map(rangeOf).sort((a, b) => b.prefix - a.prefix);
  }

  /** The table of the network namespace this process runs in; empty when /proc cannot be read. */
  static read(): RouteTable {
    return new RouteTable([...readRoutes(4), ...readRoutes(6)]);
  }

  /**
   * A test for the addresses of `set`: true for an on-link one. Undefined when none of them can be on-link (a
   * routed VPC range, loopback), so such a sweep pays nothing per address.
   */
  onLinkTest(set: AddressSet): ((address: string) => boolean) | undefined {
    const relevant = this.routes.filter((route) => set.intersect(new AddressSet().add(route.family, route.start, route.end)).size > 0n);
    if (!relevant.some((route) => route.onLink)) return undefined;
    return (address) => {
      // The sweep's own addresses, as AddressSet wrote them: valid, the family told by a colon.
      const family = address.includes(':') ? 6 : 4;
      const value = knownAddressToBigInt(family, address);
      for (const route of relevant) {
        if (route.family === family && value >= route.start && value <= route.end) return route.onLink;
      }
      return false;
    };
  }
}

/**
 * The kernel's neighbour table limit (the smaller of IPv4's and IPv6's gc_thresh3). The table and its limits are
 * the machine's, shared by every network namespace, and readable only in the host's: in any other (a container, the
 * test lab) /proc/sys/net/ipv4/neigh/ has no `default`, so this is the kernel's default, 1,024, whatever the host
 * set, and other namespaces' entries count against it too (seen on Linux 6.18).
 */
export function neighbourTableLimit(): number {
  const limits = ['ipv4', 'ipv6'].map((family) => {
    try {
      const value = Number(readFileSync(`/proc/sys/net/${family}/neigh/default/gc_thresh3`, 'utf8').trim());
      return Number.isInteger(value) && value > 0 ? value : DEFAULT_NEIGHBOUR_LIMIT;
    } catch {
      return DEFAULT_NEIGHBOUR_LIMIT;
    }
  });
  return Math.min(...limits);
}
