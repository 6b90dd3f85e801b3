/**
 * The kernel's own tables, read from /proc and /sys (no `ip` or `arp` binary, which an agent image may not have, and
 * no netlink socket, which Node cannot open): routes, interface MTUs, the ARP table, the resolver's configuration.
 * Parsers take the text, so tests can feed them any table; the readers add the file.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { addressToBigInt, bigIntToAddress } from '../../core/targets.js';

export interface KernelRoute {
  family: 4 | 6;
  /** `198.19.0.0/16`, `0.0.0.0/0`. */
  destination: string;
  prefix: number;
  /** Next hop; absent for a route on the link. */
  gateway?: string;
  device: string;
  metric: number;
  /** A reject route (`unreachable`, `prohibit`, `blackhole`): no packet leaves by it. */
  reject: boolean;
  /** An address of this machine (the local table, which /proc/net/route does not show): it goes over `lo`. */
  local?: boolean;
}

const RTF_UP = 0x0001;
const RTF_GATEWAY = 0x0002;
const RTF_REJECT = 0x0200;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A 32-bit word of /proc/net/route: hexadecimal in the machine's byte order (little-endian on x86 and arm64). */
function hexToIpv4(hex: string): bigint {
  const value = parseInt(hex, 16);
  return BigInt(((value & 0xff) << 24) | ((value >>> 8) & 0xff) << 16 | ((value >>> 16) & 0xff) << 8 | (value >>> 24)) & 0xffffffffn;
}

function prefixOfMask(mask: bigint): number {
  let prefix = 0;
  for (let bit = 31n; bit >= 0n && (mask & (1n << bit)) !== 0n; bit--) prefix++;
  return prefix;
}

/** /proc/net/route (the main table of IPv4). */
export function parseRoutes4(text: string): KernelRoute[] {
  const routes: KernelRoute[] = [];
  for (const line of text.split('\n').slice(1)) {
    const [device, destination, gateway, flags, , , metric, mask] = line.trim().split(/\s+/);
    if (!device || !destination || !gateway || !flags || !mask) continue;
    const flagBits = parseInt(flags, 16);
    if (!(flagBits & RTF_UP)) continue;
    const prefix = prefixOfMask(hexToIpv4(mask));
    const route: KernelRoute = {
      family: 4,
      destination: `${bigIntToAddress(hexToIpv4(destination), 4)}/${prefix}`,
      prefix,
      device,
      metric: Number(metric ?? 0),
      reject: (flagBits & RTF_REJECT) !== 0,
    };
    if (flagBits & RTF_GATEWAY) route.gateway = bigIntToAddress(hexToIpv4(gateway), 4);
    routes.push(route);
  }
  return routes;
}

function hexToIpv6(hex: string): bigint {
  return BigInt(`0x${hex}`);
}

/** /proc/net/ipv6_route (every table: local addresses and multicast routes are left out). */
export function parseRoutes6(text: string): KernelRoute[] {
  const routes: KernelRoute[] = [];
  for (const line of text.split('\n')) {
    const [destination, prefixHex, , , nextHop, metric, , , flags, device] = line.trim().split(/\s+/);
    if (!destination || !prefixHex || !nextHop || !flags || !device) continue;
    const flagBits = parseInt(flags, 16);
    const prefix = parseInt(prefixHex, 16);
    if (!(flagBits & RTF_UP) || destination.startsWith('ff')) continue;
    // Local addresses live in the local table on `lo`; a reject route shows `lo` too, and keeps its flag.
    const reject = (flagBits & RTF_REJECT) !== 0;
    if (device === 'lo' && !reject) continue;
    const route: KernelRoute = {
      family: 6,
      destination: `${bigIntToAddress(hexToIpv6(destination), 6)}/${prefix}`,
      prefix,
      device,
      metric: parseInt(metric ?? '0', 16),
      reject,
    };
    if (flagBits & RTF_GATEWAY) route.gateway = bigIntToAddress(hexToIpv6(nextHop), 6);
    routes.push(route);
  }
  return routes;
}

/** The route the kernel takes to `address`: longest prefix, then lowest metric (main table; no policy rules). */
export function lookupRoute(routes: readonly KernelRoute[], address: string): KernelRoute | undefined {
  const { family, value } = addressToBigInt(address);
  const bits = family === 4 ? 32n : 128n;
  let best: KernelRoute | undefined;
  for (const route of routes) {
    if (route.family !== family) continue;
    const base = addressToBigInt(route.destination.split('/')[0] ?? '').value;
    const shift = bits - BigInt(route.prefix);
    if (value >> shift !== base >> shift && route.prefix > 0) continue;
    if (!best || route.prefix > best.prefix || (route.prefix === best.prefix && route.metric < best.metric)) best = route;
  }
  return best;
}

/** The routes of this process's network namespace, of one family. */
export function readRoutes(family: 4 | 6): KernelRoute[] {
  const text = readText(family === 4 ? '/proc/net/route' : '/proc/net/ipv6_route') ?? '';
  return family === 4 ? parseRoutes4(text) : parseRoutes6(text);
}

/** The route to `address` from this process's network namespace; an address of its own goes over `lo`. */
export function routeTo(address: string): KernelRoute | undefined {
  const { family, value } = addressToBigInt(address);
  const loopback = family === 4 ? value >> 24n === 127n : value === 1n;
  const own = Object.values(networkInterfaces()).some((entries) => entries?.some((e) => e.address === address));
  if (loopback || own) {
    return { family, destination: `${address}/${family === 4 ? 32 : 128}`, prefix: family === 4 ? 32 : 128, device: 'lo', metric: 0, reject: false, local: true };
  }
  return lookupRoute(readRoutes(family), address);
}

/** The gateway of the default route, if there is one. */
export function defaultGateway(family: 4 | 6): string | undefined {
  return readRoutes(family).find((route) => route.prefix === 0 && route.gateway)?.gateway;
}

/** /sys/class/net/DEVICE/mtu. */
export function interfaceMtu(device: string): number | undefined {
  if (!/^[\w.@:-]{1,15}$/.test(device)) return undefined;
  const text = readText(`/sys/class/net/${device}/mtu`);
  return text ? Number(text.trim()) : undefined;
}

/** One row of the IPv4 neighbour (ARP) table. */
export interface ArpEntry {
  address: string;
  device: string;
  /** The link-layer address; absent while unresolved. */
  lladdr?: string;
  /**
   * From the row's flags (ATF_COM, ATF_PERM): `complete` (resolved: the kernel's REACHABLE, STALE, DELAY or PROBE;
   * /proc does not tell them apart), `permanent`, or `incomplete` (being resolved, or FAILED: no answer to ARP).
   */
  state: 'complete' | 'permanent' | 'incomplete';
}

/** /proc/net/arp. */
export function parseArp(text: string): ArpEntry[] {
  const entries: ArpEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const [address, , flags, lladdr, , device] = line.trim().split(/\s+/);
    if (!address || !flags || !device) continue;
    const bits = parseInt(flags, 16);
    const entry: ArpEntry = { address, device, state: bits & 0x4 ? 'permanent' : bits & 0x2 ? 'complete' : 'incomplete' };
    if (lladdr && lladdr !== '00:00:00:00:00:00') entry.lladdr = lladdr;
    entries.push(entry);
  }
  return entries;
}

export function arpEntry(address: string): ArpEntry | undefined {
  return parseArp(readText('/proc/net/arp') ?? '').find((entry) => entry.address === address);
}

/** The name servers of /etc/resolv.conf, in order. */
export function parseResolvConf(text: string): string[] {
  return text
    .split('\n')
    .map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1])
    .filter((server): server is string => server !== undefined);
}

export function nameServers(): string[] {
  return parseResolvConf(readText('/etc/resolv.conf') ?? '');
}
