import { readFileSync } from 'node:fs';
import { AddressSet, addressToBigInt } from '../core/targets.js';

/**
 * Which targets are on-link, read from the kernel's main routing table (/proc/net/route, /proc/net/ipv6_route: no
 * `ip` binary needed). An on-link target costs an entry in the kernel's neighbour table (ARP/ND) while it is
 * resolved, about 3 s for an address nobody holds, and that table is small (net.ipv4.neigh.default.gc_thresh3,
 * 1,024 by default): past it, sends fail. A routed target costs one entry, the gateway's, whatever the number
 * of targets. So the engine caps on-link targets in progress, and lets routed ones go as fast as the rate allows.
 */

/** One route of the main table. */
export interface Route {
  family: 4 | 6;
  start: bigint;
  end: bigint;
  prefix: number;
  /** No gateway: the destination is resolved on the link itself. */
  onLink: boolean;
}

const RTF_UP = 0x0001;
const RTF_GATEWAY = 0x0002;
const RTF_REJECT = 0x0200;
/** An IPv6 route of the local table (the host's own addresses): no neighbour entry. */
const RTF_LOCAL = 0x80000000;

/** How long the kernel takes to give up on an address nobody answers ARP/ND for: 3 probes, 1 s apart. */
export const NEIGHBOUR_RESOLVE_MS = 3000;
/** The kernel's default neighbour table limit (gc_thresh3), when /proc cannot be read. */
const DEFAULT_NEIGHBOUR_LIMIT = 1024;

function hexToBigInt(hex: string): bigint {
  return BigInt(`0x${hex}`);
}

/** /proc/net/route: little-endian hex words (on the little-endian machines Node runs on). */
export function parseIpv4Routes(text: string): Route[] {
  const routes: Route[] = [];
  for (const line of text.split('\n').slice(1)) {
    const [, destination, gateway, flagsText, , , , mask] = line.trim().split(/\s+/);
    if (!destination || !gateway || !flagsText || !mask) continue;
    const flags = parseInt(flagsText, 16);
    if (!(flags & RTF_UP) || flags & RTF_REJECT) continue;
    const swap = (hex: string): bigint => hexToBigInt(hex.match(/../g)?.reverse().join('') ?? '0');
    const network = swap(destination);
    const maskValue = swap(mask);
    const prefix = maskValue.toString(2).replace(/0+$/, '').length;
    const size = 1n << BigInt(32 - prefix);
    routes.push({ family: 4, start: network, end: network + size - 1n, prefix, onLink: (flags & RTF_GATEWAY) === 0 && hexToBigInt(gateway) === 0n });
  }
  return routes;
}

/** /proc/net/ipv6_route: destination, prefix length, source, source length, next hop, metric, …, flags, device. */
export function parseIpv6Routes(text: string): Route[] {
  const routes: Route[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const [destination, prefixText, , , nextHop, , , , flagsText] = fields;
    if (!destination || !prefixText || !nextHop || !flagsText || destination.length !== 32) continue;
    const flags = parseInt(flagsText, 16);
    if (!(flags & RTF_UP) || flags & RTF_REJECT || flags & RTF_LOCAL) continue;
    const prefix = parseInt(prefixText, 16);
    const start = hexToBigInt(destination);
    const size = 1n << BigInt(128 - prefix);
    routes.push({ family: 6, start, end: start + size - 1n, prefix, onLink: hexToBigInt(nextHop) === 0n && !(flags & RTF_GATEWAY) });
  }
  return routes;
}

/** Tells on-link targets from routed ones by the longest matching route, as the kernel does. */
export class RouteTable {
  private readonly routes: Route[];

  constructor(routes: readonly Route[]) {
    this.routes = [...routes].sort((a, b) => b.prefix - a.prefix);
  }

  /** The table of the network namespace this process runs in; empty when /proc cannot be read. */
  static read(): RouteTable {
    const read = (path: string): string => {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return '';
      }
    };
    return new RouteTable([...parseIpv4Routes(read('/proc/net/route')), ...parseIpv6Routes(read('/proc/net/ipv6_route'))]);
  }

  /**
   * A test for the addresses of `set`: true for an on-link one. Undefined when none of them can be on-link (a
   * routed VPC range, loopback), so such a sweep pays nothing per address.
   */
  onLinkTest(set: AddressSet): ((address: string) => boolean) | undefined {
    const relevant = this.routes.filter((route) => set.intersect(new AddressSet().add(route.family, route.start, route.end)).size > 0n);
    if (!relevant.some((route) => route.onLink)) return undefined;
    return (address) => {
      const { family, value } = addressToBigInt(address);
      for (const route of relevant) {
        if (route.family === family && value >= route.start && value <= route.end) return route.onLink;
      }
      return false;
    };
  }
}

/** The kernel's neighbour table limit (the smaller of IPv4's and IPv6's gc_thresh3). */
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
