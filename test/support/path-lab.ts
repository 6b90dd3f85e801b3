/**
 * A lab of several routers in a row, for trace, path MTU and diag (test/support/lab.ts is the one-router LAN of the
 * sweeps). Every link is 9001 bytes (a VPC's interfaces) except the last one to net A, which is 1400.
 *
 * ```
 *  <n>-sw (sweeper)      <n>-r1                <n>-r2 (no time-exceeded)   <n>-r3 (firewall)        <n>-a  (net A)
 *  eth0 198.19.1.1 ──── eth0 198.19.1.254      eth0 198.19.2.2             eth0 198.19.3.3   ┌── eth1 mtu 1400 ── eth0 198.19.10.10
 *  mtu 9001             eth1 198.19.2.1 ────── eth1 198.19.3.2 ─────────── eth1 198.19.10.1 ─┘                     <n>-b  (net B)
 *  no default route                                                        eth2 198.19.20.1 ────────────────────── eth0 198.19.20.10 .20 .30
 * ```
 * - hop 1 answers, hop 2 (r2) forwards but sends no time-exceeded, hop 3 (r3) is a firewall for net B:
 *   `icmpFiltered` (.20) gets no ICMP echo but TCP 443 is open; `blackHole` (.10) silently loses packets over 1500
 *   bytes (a VPN at 1500 behind 9001 interfaces); `dropped` (.30) gets nothing at all past r3.
 * - `fragNeeded` (net A, .10) is behind the 1400 link: r3 answers larger packets with fragmentation needed.
 * - The same in IPv6 (2001:db8:19:N::/64), where r3 answers "packet too big".
 *
 * Safety as in lab.ts: 198.19.0.0/16 lies inside 198.18.0.0/15, 2001:db8::/32 is for documentation; the sweeper
 * has routes to the lab's own prefixes only, and nothing is connected to the host namespace.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn as spawnProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import {
  assertLabPrerequisites,
  deepFreeze,
  destroyNamespaces,
  NAMESPACE_SYSCTLS,
  ROUTER_SYSCTLS,
  ipBatch,
  nft,
  run,
  runOk,
  startListener,
  sweeperHandle,
  waitForLinksUp,
} from './lab.js';
import type { LabExecOptions, LabExecResult } from './lab.js';

interface Pair {
  readonly v4: string;
  readonly v6: string;
}

export const PATH_LAB = deepFreeze({
  sweeper: { v4: '198.19.1.1', v6: '2001:db8:19:1::1', prefix4: 24, prefix6: 64, device: 'eth0', mtu: 9001 },
  /** What each hop answers from: the address of its interface towards the sweeper. */
  hops: {
    r1: { v4: '198.19.1.254', v6: '2001:db8:19:1::fe' },
    r2: { v4: '198.19.2.2', v6: '2001:db8:19:2::2' },
    r3: { v4: '198.19.3.3', v6: '2001:db8:19:3::3' },
  },
  /** The sweeper's next hop (its gateway) for every routed prefix. */
  gateway: { v4: '198.19.1.254', v6: '2001:db8:19:1::fe' },
  netA: { v4Cidr: '198.19.10.0/24', mtu: 1400 },
  fragNeeded: { v4: '198.19.10.10', v6: '2001:db8:19:10::10', port: 443 },
  blackHole: { v4: '198.19.20.10', v6: '2001:db8:19:20::10', port: 443, pathMtu: 1500 },
  icmpFiltered: { v4: '198.19.20.20', v6: '2001:db8:19:20::20', openPort: 443, closedPort: 80 },
  dropped: { v4: '198.19.20.30', v6: '2001:db8:19:20::30' },
  names: {
    icmpFiltered: 'db.path.lab',
    /** A name that does not resolve. */
    unknown: 'nothing.path.lab',
  },
  /** The resolver the sweeper's /etc/resolv.conf names (nothing listens there: no query leaves the lab). */
  nameserver: '198.19.1.254',
});

export interface PathLab {
  readonly name: string;
  readonly sweeperNs: string;
  readonly addresses: typeof PATH_LAB;
  exec(argv: readonly string[], options?: LabExecOptions): Promise<LabExecResult>;
  /** Runs argv in one of the lab's other namespaces (e.g. `nft list set …` on a router). */
  execIn(role: Role, argv: readonly string[]): Promise<LabExecResult>;
  /**
   * The distinct flows (destination, protocol, source port, destination port) of TCP and UDP probes that the first
   * router forwarded since the last call, which forgets them.
   */
  takeFlows(): Promise<string[]>;
  spawn(argv: readonly string[], options?: { env?: Record<string, string> }): ChildProcess;
  destroy(): Promise<void>;
}

const ROLES = ['sw', 'r1', 'r2', 'r3', 'a', 'b'] as const;
export type Role = (typeof ROLES)[number];

export interface PathLabOptions {
  /** Namespace prefix; default `zp` + 4 random characters. */
  name?: string;
  /** r2 sends no time-exceeded (default true); false gives a path where every hop answers (benchmarks). */
  silentHop?: boolean;
}

/** Builds a fresh path lab; its namespaces are `<name>-sw`, `-r1`, `-r2`, `-r3`, `-a`, `-b`. */
export async function createPathLab(options: PathLabOptions = {}): Promise<PathLab> {
  assertLabPrerequisites();
  const name = options.name ?? `zp${randomBytes(4).readUInt32BE(0).toString(36).slice(-4)}`;
  const ns = Object.fromEntries(ROLES.map((role) => [role, `${name}-${role}`])) as Record<Role, string>;
  const all = Object.values(ns);
  await destroyNamespaces(all);
  const children = new Set<ChildProcess>();
  const cleanupAtExit = (): void => {
    for (const child of children) child.kill('SIGKILL');
    for (const namespace of all) spawnProcess('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
  };
  process.once('exit', cleanupAtExit);
  try {
    await buildPath(ns, options.silentHop ?? true);
    const p = PATH_LAB;
    children.add(await startListener(ns.a, [`${p.fragNeeded.v4}:443`, `[${p.fragNeeded.v6}]:443`], false));
    children.add(
      await startListener(
        ns.b,
        [p.blackHole, p.icmpFiltered].flatMap((h) => [`${h.v4}:443`, `[${h.v6}]:443`]),
        false,
      ),
    );
  } catch (error) {
    for (const child of children) child.kill('SIGKILL');
    process.removeListener('exit', cleanupAtExit);
    await destroyNamespaces(all);
    throw error;
  }
  return {
    name,
    sweeperNs: ns.sw,
    addresses: PATH_LAB,
    execIn: (role, argv) => run(['ip', 'netns', 'exec', ns[role], ...argv]),
    takeFlows: async () => {
      const listed = await runOk(['ip', 'netns', 'exec', ns.r1, 'nft', '-j', 'list', 'set', 'inet', 'lab', 'flows']);
      await runOk(['ip', 'netns', 'exec', ns.r1, 'nft', 'flush', 'set', 'inet', 'lab', 'flows']);
      return flowsOf(listed.stdout);
    },
    ...sweeperHandle(ns.sw, children, cleanupAtExit, () => destroyNamespaces(all)),
  };
}

/** `link add` of a veth pair with distinct ifindexes (see lab.ts: linkwatch delays a link whose ends share one). */
function veth(name: string, index: number, peer: string, peerIndex: number, peerNs: string, mtu: number): string {
  return `link add ${name} index ${index} mtu ${mtu} type veth peer name ${peer} index ${peerIndex} mtu ${mtu} netns ${peerNs}`;
}

function addresses(device: string, pair: Pair, prefix6 = 64, prefix4 = 24): string[] {
  return [`addr add ${pair.v4}/${prefix4} dev ${device}`, `addr add ${pair.v6}/${prefix6} dev ${device} nodad`];
}

async function buildPath(ns: Record<Role, string>, silentHop: boolean): Promise<void> {
  const p = PATH_LAB;
  await runOk(['ip', '-batch', '-'], { input: Object.values(ns).map((n) => `netns add ${n}\n`).join('') });
  await Promise.all(
    ROLES.map((role) =>
      runOk(['ip', 'netns', 'exec', ns[role], 'sysctl', '-q', '-w', ...NAMESPACE_SYSCTLS, ...(role.startsWith('r') ? ROUTER_SYSCTLS : [])]),
    ),
  );
  const r2Left = { v4: '198.19.2.1', v6: '2001:db8:19:2::1' };
  const r3Left = { v4: '198.19.3.2', v6: '2001:db8:19:3::2' };
  const r3ToA = { v4: '198.19.10.1', v6: '2001:db8:19:10::1' };
  const r3ToB = { v4: '198.19.20.1', v6: '2001:db8:19:20::1' };
  const mtu = p.sweeper.mtu;
  // Every link first (each namespace creates those on its right), then addresses and routes, all at once.
  await Promise.all([
    ipBatch(ns.sw, [veth('eth0', 10, 'eth0', 11, ns.r1, mtu)]),
    ipBatch(ns.r1, [veth('eth1', 20, 'eth0', 21, ns.r2, mtu)]),
    ipBatch(ns.r2, [veth('eth1', 30, 'eth0', 31, ns.r3, mtu)]),
    ipBatch(ns.r3, [veth('eth1', 40, 'eth0', 41, ns.a, p.netA.mtu), veth('eth2', 42, 'eth0', 43, ns.b, mtu)]),
  ]);
  await Promise.all([
    ipBatch(ns.sw, [
      'link set lo up',
      ...addresses('eth0', p.sweeper),
      'link set eth0 up',
      // The lab's prefixes only: no default route, on purpose.
      `route add 198.19.0.0/16 via ${p.gateway.v4}`,
      `route add 2001:db8:19::/48 via ${p.gateway.v6}`,
    ]),
    ipBatch(ns.r1, [
      'link set lo up',
      ...addresses('eth0', p.hops.r1),
      ...addresses('eth1', r2Left),
      'link set eth0 up',
      'link set eth1 up',
      `route add 198.19.0.0/16 via ${p.hops.r2.v4}`,
      `route add 2001:db8:19::/48 via ${p.hops.r2.v6}`,
    ]),
    ipBatch(ns.r2, [
      'link set lo up',
      ...addresses('eth0', p.hops.r2),
      ...addresses('eth1', r3Left),
      'link set eth0 up',
      'link set eth1 up',
      `route add 198.19.1.0/24 via ${r2Left.v4}`,
      `route add 2001:db8:19:1::/64 via ${r2Left.v6}`,
      `route add 198.19.0.0/16 via ${p.hops.r3.v4}`,
      `route add 2001:db8:19::/48 via ${p.hops.r3.v6}`,
    ]),
    ipBatch(ns.r3, [
      'link set lo up',
      ...addresses('eth0', p.hops.r3),
      ...addresses('eth1', r3ToA),
      ...addresses('eth2', r3ToB),
      'link set eth0 up',
      'link set eth1 up',
      'link set eth2 up',
      `route add 198.19.0.0/16 via ${r3Left.v4}`,
      `route add 2001:db8:19::/48 via ${r3Left.v6}`,
    ]),
    ipBatch(ns.a, [
      'link set lo up',
      ...addresses('eth0', p.fragNeeded),
      'link set eth0 up',
      `route add 198.19.0.0/16 via ${r3ToA.v4}`,
      `route add 2001:db8:19::/48 via ${r3ToA.v6}`,
    ]),
    ipBatch(ns.b, [
      'link set lo up',
      ...[p.blackHole, p.icmpFiltered, p.dropped].flatMap((host) => addresses('eth0', host)),
      'link set eth0 up',
      `route add 198.19.0.0/16 via ${r3ToB.v4}`,
      `route add 2001:db8:19::/48 via ${r3ToB.v6}`,
    ]),
  ]);
  await Promise.all([
    waitForLinksUp(ns.sw, ['eth0']),
    waitForLinksUp(ns.r1, ['eth0', 'eth1']),
    waitForLinksUp(ns.r2, ['eth0', 'eth1']),
    waitForLinksUp(ns.r3, ['eth0', 'eth1', 'eth2']),
    waitForLinksUp(ns.a, ['eth0']),
    waitForLinksUp(ns.b, ['eth0']),
  ]);
  await Promise.all([
    nft(
      ns.r1,
      `table inet lab {
  set flows {
    type ipv4_addr . inet_proto . inet_service . inet_service
    flags dynamic
    size 4096
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    # Records the flow of every TCP and UDP probe, so a test can check that a trace keeps one flow.
    ip saddr ${p.sweeper.v4} meta l4proto { tcp, udp } add @flows { ip daddr . meta l4proto . th sport . th dport }
  }
}
`,
    ),
    nft(
      ns.r2,
      `table inet lab {
  chain output {
    type filter hook output priority filter; policy accept;
    # A router that forwards but never says "time exceeded": a silent hop in every trace.
    ${silentHop ? 'icmp type time-exceeded drop' : ''}
    ${silentHop ? 'icmpv6 type time-exceeded drop' : ''}
  }
}
`,
    ),
    nft(
      ns.r3,
      `table inet lab {
  chain forward {
    type filter hook forward priority filter; policy accept;
    ip daddr ${p.icmpFiltered.v4} icmp type echo-request drop
    ip6 daddr ${p.icmpFiltered.v6} icmpv6 type echo-request drop
    # A VPN or dedicated line that loses what is over 1500 bytes and says nothing (a PMTU black hole).
    ip daddr ${p.blackHole.v4} meta length > ${p.blackHole.pathMtu} drop
    ip6 daddr ${p.blackHole.v6} meta length > ${p.blackHole.pathMtu} drop
    ip daddr ${p.dropped.v4} drop
    ip6 daddr ${p.dropped.v6} drop
  }
}
`,
    ),
    writeResolverFiles(ns.sw),
  ]);
}

async function writeResolverFiles(namespace: string): Promise<void> {
  const dir = `/etc/netns/${namespace}`;
  await mkdir(dir, { recursive: true });
  const p = PATH_LAB;
  await Promise.all([
    writeFile(
      `${dir}/hosts`,
      ['127.0.0.1 localhost', `${p.icmpFiltered.v4} ${p.names.icmpFiltered}`, `${p.icmpFiltered.v6} ${p.names.icmpFiltered}`, ''].join('\n'),
    ),
    writeFile(`${dir}/resolv.conf`, `nameserver ${p.nameserver}\noptions timeout:1 attempts:1\n`),
    writeFile(`${dir}/nsswitch.conf`, 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n'),
  ]);
}

/** The elements of `nft -j list set` as `daddr proto sport dport` strings. */
function flowsOf(json: string): string[] {
  const parsed = JSON.parse(json) as { nftables: { set?: { elem?: { concat: (string | number)[] }[] } }[] };
  const set = parsed.nftables.find((entry) => entry.set)?.set;
  return (set?.elem ?? []).map((element) => element.concat.join(' '));
}
