/**
 * The path MTU model: the largest packet that crosses the whole path with Don't Fragment, beside the interface MTU,
 * and who said "fragmentation needed" (IPv4) or "packet too big" (IPv6) — or that nobody did (a black hole).
 */

/** What one probe size came to. */
export interface MtuProbe {
  /** Whole IP packet, in bytes (as `ping -M do -s SIZE-28` sends it in IPv4). */
  size: number;
  outcome: 'passed' | 'too-big' | 'silent' | 'refused' | 'local';
  /** `too-big`: the next-hop MTU the router gave (0 when it did not say). */
  mtu?: number;
  /** `too-big`, `refused`: who said so. */
  from?: string;
  /** `local`: the sweeper's own error (EMSGSIZE above the interface MTU). */
  errno?: string;
}

export interface PathMtuReport {
  address: string;
  family: 4 | 6;
  /** The interface the route to the host leaves by, and its MTU. */
  device?: string;
  interfaceMtu?: number;
  /** The largest size that reached the host and came back; absent when nothing did. */
  pathMtu?: number;
  /** The smallest size that failed (when one did). */
  failedAt?: MtuProbe;
  /** Fragmentation needed / packet too big, as the first router that said it gave it. */
  fragNeeded?: { from: string; mtu: number };
  /** Sizes above pathMtu were lost without a word: a PMTU black hole. */
  blackHole: boolean;
  /**
   * What the echoes went through: a raw socket, or a ping socket (no privilege); absent from reports made before it
   * was recorded (raw then).
   */
  socket?: 'raw' | 'ping';
  /** Every size tried, in the order tried. */
  probes: MtuProbe[];
  /** The search stopped at its time budget before it closed in on one size. */
  incomplete: boolean;
  durationMs: number;
  conclusion: string;
}

/** TCP and IP headers below the path MTU: the MSS to clamp to. */
export function mssFor(pathMtu: number, family: 4 | 6): number {
  return pathMtu - (family === 4 ? 40 : 60);
}

/** What the engineer reads first about the path MTU. */
export function concludePathMtu(report: Omit<PathMtuReport, 'conclusion'>): string {
  const { pathMtu, interfaceMtu } = report;
  const beside = interfaceMtu !== undefined ? ` (interface ${[report.device, interfaceMtu].filter((x) => x !== undefined).join(' ')})` : '';
  if (pathMtu === undefined) {
    const smallest = report.probes.reduce((min, p) => Math.min(min, p.size), Infinity);
    return `the host answers no ICMP echo, not even of ${smallest} bytes: the path MTU cannot be measured with ICMP`;
  }
  const range = report.incomplete && report.failedAt ? ` to ${report.failedAt.size - 1}` : '';
  if (report.blackHole) {
    const mss = mssFor(pathMtu, report.family);
    return (
      `path MTU ${pathMtu}${range}${beside}, and a PMTU black hole: packets over ${pathMtu} bytes are dropped with no ` +
      `${report.family === 4 ? 'fragmentation-needed' : 'packet-too-big'} message, so small pings pass and large transfers hang; ` +
      `clamp the TCP MSS to ${mss} on the path (or lower the interface MTU to ${pathMtu})`
    );
  }
  if (report.fragNeeded) {
    return `path MTU ${pathMtu}${range}${beside}: ${report.fragNeeded.from} says ${report.family === 4 ? 'fragmentation needed' : 'packet too big'} above ${report.fragNeeded.mtu}`;
  }
  if (interfaceMtu !== undefined && pathMtu >= interfaceMtu) return `path MTU ${pathMtu}${beside}: nothing on the path is smaller`;
  return `path MTU ${pathMtu}${range}${beside}`;
}
