/**
 * A network lab of Linux network namespaces, so the engine can meet silent hosts, ICMP-filtered databases,
 * rejecting firewalls and routers that say "unreachable" without the internet (CONTRIBUTING.md, "The lab").
 *
 * ```
 *  <name>-sw (sweeper)          <name>-lan (bridge + LAN hosts)            <name>-rt (router)       <name>-bh (behind)
 *  eth0 198.18.0.1/24  ── veth ── sw0 ┐
 *       2001:db8:0:1::1/64            br0 198.18.0.10 … .40          ┌── eth0 198.18.0.254/24
 *  no default route                   │   2001:db8:0:1::10 … ::40    │        2001:db8:0:1::fe/64
 *                                 rt0 ┘ ────────────── veth ─────────┘   eth1 198.18.1.1/24  ── veth ── eth0 198.18.1.10 .20 .30
 *                                                                             2001:db8:0:2::1/64         2001:db8:0:2::10 ::20
 *                                                                        eth2 198.18.4.1/24  ── veth ── eth1 (no address)
 *                                                                        lo   198.19.0.10, 198.19.77.7
 *                                                                        blackhole 198.19.0.0/16 (the "VPC")
 * ```
 *
 * `routed` is what a VPC looks like from an agent inside it: a /16 reached through a router, mostly empty, where
 * packets to an address nobody holds are dropped without a word (the router's blackhole route; a cloud fabric does
 * the same), and a couple of addresses answer (the router's own, on its `lo`).
 *
 * Safety: every address is in 198.18.0.0/15 or 2001:db8::/32 and lives only inside the lab's namespaces. The
 * sweeper namespace has no default route in either family, so a probe of anything else fails locally with
 * ENETUNREACH; nothing in the lab is connected to the host namespace. Run probes through `lab.exec`, never from
 * the host namespace.
 */
import { spawn as spawnProcess, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { rmSync, rmdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

/** One host seen from both families. */
export interface HostAddresses {
  readonly v4: string;
  readonly v6: string;
}

/** Every address and name in the lab, so tests never hard-code one. The same in every lab. */
export interface LabAddresses {
  /** The sweeper's own addresses: the source of every probe and the destination of every ICMP error. */
  readonly sweeper: HostAddresses;
  /** The on-link LAN behind the bridge; ARP/ND works for every host below, fails (about 3 s) for `empty`. */
  readonly lan: {
    /** `198.18.0.0/24`. */
    readonly v4Cidr: string;
    /** `2001:db8:0:1::/120`: sweep this, not the /64 the interfaces carry. */
    readonly v6Cidr: string;
    /** Answer ICMP echo. */
    readonly alive: { readonly v4: readonly string[]; readonly v6: readonly string[] };
    /** RDS-like: echo requests dropped; `openPort` accepts, every other TCP port is refused with RST. */
    readonly rds: HostAddresses & { readonly openPort: number; readonly closedPort: number };
    /** Rejects everything (echo and TCP) with ICMP administratively prohibited (v4 3/13, v6 1/1), sent by itself. */
    readonly prohibited: HostAddresses;
    /** Rejects everything with ICMP port unreachable (3/3), as iptables `REJECT` does by default. */
    readonly portUnreachable: { readonly v4: string };
    /** Drops everything but ARP/ND: present on the link, answers nothing. */
    readonly silent: HostAddresses;
    /** An address nobody holds (any address of the ranges not listed above is empty too). */
    readonly empty: HostAddresses;
  };
  /** The router between the LAN and the `behind` network; it is the sender of every routed ICMP error. */
  readonly router: { readonly lan: HostAddresses; readonly behind: HostAddresses };
  /** Hosts one hop away, behind the router. */
  readonly behind: {
    /** `198.18.1.0/24`. */
    readonly v4Cidr: string;
    /** `2001:db8:0:2::/120`. */
    readonly v6Cidr: string;
    /** Answer ICMP echo through the router. */
    readonly alive: HostAddresses;
    /** Up, but the router rejects traffic to them with administratively prohibited, from `router.lan`. */
    readonly prohibitedByRouter: HostAddresses;
    /** Up, but the router drops traffic to it silently. */
    readonly droppedByRouter: { readonly v4: string };
    /** Nobody holds it: the router answers host/address unreachable once its ARP/ND fails (about 3 s). */
    readonly empty: HostAddresses;
  };
  /**
   * A mostly empty routed range, like a VPC seen from inside: routed to the router, which holds `live` on its `lo`
   * and drops everything else in the range silently (a blackhole route: no ICMP error, no ARP).
   */
  readonly routed: {
    /** `198.19.0.0/16`. */
    readonly v4Cidr: string;
    /** `198.19.0.0/17`: the half the benchmark sweeps; it holds every `live` address. */
    readonly v4Half: string;
    /** Answer ICMP echo (the router itself). */
    readonly live: readonly string[];
    /** An address nobody holds. */
    readonly empty: string;
  };
  /** Routed to the router, which has an `unreachable` route for it: ICMP host unreachable (3/1) at once. */
  readonly unreachable: { readonly v4Cidr: string; readonly v4: string };
  /**
   * Routed to the router, whose link there leads to nobody: no address answers ARP, and the router answers host
   * unreachable (3/1) for every packet once ARP fails, after about 300 ms (3 probes 100 ms apart). A sweep of it
   * with short timeouts meets ICMP errors, retries and timeouts for the same probes at once.
   */
  readonly arpFails: { readonly v4Cidr: string; readonly router: string; readonly v4: string; readonly failsAfterMs: number };
  /** No route in the sweeper namespace: sending fails locally with ENETUNREACH, nothing leaves. */
  readonly noRoute: { readonly v4Cidr: string; readonly v4: string; readonly v6: string };
  /** Names in the sweeper namespace's /etc/hosts; any other name fails at once (the resolver is 127.0.0.1). */
  readonly names: {
    readonly rds: { readonly name: string } & HostAddresses;
    readonly web: { readonly name: string; readonly v4: string };
    readonly behind: { readonly name: string; readonly v4: string };
    /** A name no resolver knows. */
    readonly unknown: string;
  };
}

export const LAB_ADDRESSES: LabAddresses = deepFreeze({
  sweeper: { v4: '198.18.0.1', v6: '2001:db8:0:1::1' },
  lan: {
    v4Cidr: '198.18.0.0/24',
    v6Cidr: '2001:db8:0:1::/120',
    alive: { v4: ['198.18.0.10', '198.18.0.11', '198.18.0.12'], v6: ['2001:db8:0:1::10', '2001:db8:0:1::11'] },
    rds: { v4: '198.18.0.20', v6: '2001:db8:0:1::20', openPort: 5432, closedPort: 3306 },
    prohibited: { v4: '198.18.0.30', v6: '2001:db8:0:1::30' },
    portUnreachable: { v4: '198.18.0.31' },
    silent: { v4: '198.18.0.40', v6: '2001:db8:0:1::40' },
    empty: { v4: '198.18.0.77', v6: '2001:db8:0:1::77' },
  },
  router: {
    lan: { v4: '198.18.0.254', v6: '2001:db8:0:1::fe' },
    behind: { v4: '198.18.1.1', v6: '2001:db8:0:2::1' },
  },
  behind: {
    v4Cidr: '198.18.1.0/24',
    v6Cidr: '2001:db8:0:2::/120',
    alive: { v4: '198.18.1.10', v6: '2001:db8:0:2::10' },
    prohibitedByRouter: { v4: '198.18.1.20', v6: '2001:db8:0:2::20' },
    droppedByRouter: { v4: '198.18.1.30' },
    empty: { v4: '198.18.1.77', v6: '2001:db8:0:2::77' },
  },
  routed: { v4Cidr: '198.19.0.0/16', v4Half: '198.19.0.0/17', live: ['198.19.0.10', '198.19.77.7'], empty: '198.19.5.5' },
  unreachable: { v4Cidr: '198.18.2.0/24', v4: '198.18.2.5' },
  arpFails: { v4Cidr: '198.18.4.0/24', router: '198.18.4.1', v4: '198.18.4.77', failsAfterMs: 300 },
  noRoute: { v4Cidr: '198.18.3.0/24', v4: '198.18.3.5', v6: '2001:db8:0:3::5' },
  names: {
    rds: { name: 'rds.lab.internal', v4: '198.18.0.20', v6: '2001:db8:0:1::20' },
    web: { name: 'web.lab.internal', v4: '198.18.0.10' },
    behind: { name: 'behind.lab.internal', v4: '198.18.1.10' },
    unknown: 'nothing.lab.internal',
  },
});

export interface LabExecOptions {
  /** Kill the command (SIGKILL) after this many milliseconds; default 30000. */
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed; default: stdin closed at once. */
  input?: string;
  /** Added to this process's environment. */
  env?: Record<string, string>;
}

export interface LabExecResult {
  /** Exit code, or null when the command was killed by a signal (see `timedOut`). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** The command was killed because it ran past `timeoutMs`. */
  timedOut: boolean;
}

export interface Lab {
  /** The prefix of every namespace of this lab. */
  readonly name: string;
  /** Where the sweeper runs: `${name}-sw`. */
  readonly sweeperNs: string;
  /** The other namespaces, for debugging (`ip netns exec … tcpdump`). */
  readonly namespaces: { readonly sweeper: string; readonly lan: string; readonly router: string; readonly behind: string };
  readonly addresses: LabAddresses;
  /** Runs argv inside the sweeper namespace and collects its output. Never rejects because of the exit code. */
  exec(argv: readonly string[], options?: LabExecOptions): Promise<LabExecResult>;
  /** Starts a long-running argv inside the sweeper namespace; `destroy` kills it if it is still running. */
  spawn(argv: readonly string[], options?: { env?: Record<string, string> }): ChildProcess;
  /**
   * Makes a service of the host namespace that listens on a Unix socket (a test's redis-server) reachable inside
   * the sweeper namespace at 127.0.0.1:`port`, so agents in the lab use the same `redis://127.0.0.1:PORT` URL as
   * the test. A process relays the bytes; no network link joins the namespaces.
   */
  bridgeToHost(port: number, unixSocketPath: string): Promise<void>;
  /** Kills the lab's processes, deletes its namespaces and /etc/netns folders. Safe to call twice. */
  destroy(): Promise<void>;
}

export interface CreateLabOptions {
  /** Namespace prefix, lowercase letters and digits, 2 to 8 characters; default `zs` + 4 random characters. */
  name?: string;
  /**
   * Keep the lab's background processes running after this process exits (for `lab-cli up`); default false:
   * they stop with this process, and the namespaces are deleted when it exits without calling `destroy`.
   */
  detach?: boolean;
}

/** The lab cannot be built here, or building it failed. */
export class LabError extends Error {
  readonly code: 'lab_prerequisite' | 'lab_setup';

  constructor(code: 'lab_prerequisite' | 'lab_setup', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LabError';
    this.code = code;
  }
}

const LISTENER_SCRIPT = fileURLToPath(new URL('./tcp-listener.mjs', import.meta.url));
const BRIDGE_SCRIPT = fileURLToPath(new URL('./unix-bridge.mjs', import.meta.url));
const NETNS_ETC = '/etc/netns';
const NAME_PATTERN = /^[a-z][a-z0-9]{1,7}$/;
const ROLE_SUFFIXES = ['sw', 'lan', 'rt', 'bh'] as const;
const LISTENER_READY_TIMEOUT_MS = 5000;
const LINKS_UP_TIMEOUT_MS = 5000;

/**
 * Throws a LabError naming what is missing when the lab cannot be built: not root, or `ip`/`nft` (and any of
 * `extraTools`, e.g. `fping`) not installed. Lab tests call it so they fail loudly instead of skipping.
 */
export function assertLabPrerequisites(extraTools: readonly string[] = []): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new LabError(
      'lab_prerequisite',
      'The network lab needs root (it creates network namespaces): run the tests as root, e.g. in the CI container.',
    );
  }
  const versionFlags: Record<string, string> = { ip: '-V', nft: '-v', fping: '-v' };
  const missing = ['ip', 'nft', ...extraTools].filter((tool) => {
    try {
      execFileSync(tool, [versionFlags[tool] ?? '--version'], { stdio: 'ignore', timeout: 5000 });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new LabError(
      'lab_prerequisite',
      `The network lab needs ${missing.join(', ')} on PATH (Debian: apt-get install iproute2 nftables fping).`,
    );
  }
}

/** Builds a fresh lab (deleting leftovers of the same name first). Takes well under a second on an idle box. */
export async function createLab(options: CreateLabOptions = {}): Promise<Lab> {
  assertLabPrerequisites();
  const name = options.name ?? `zs${randomBytes(4).readUInt32BE(0).toString(36).slice(-4)}`;
  if (!NAME_PATTERN.test(name)) {
    throw new LabError('lab_setup', `Lab name "${name}" must be 2 to 8 lowercase letters or digits, starting with a letter.`);
  }
  const ns = labNamespaces(name);
  await destroyLab(name);

  const children = new Set<ChildProcess>();
  const cleanupAtExit = (): void => {
    for (const child of children) child.kill('SIGKILL');
    for (const namespace of Object.values(ns)) {
      try {
        execFileSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
      } catch {
        // already gone
      }
      rmSync(`${NETNS_ETC}/${namespace}`, { recursive: true, force: true });
    }
    try {
      rmdirSync(NETNS_ETC);
    } catch {
      // not empty, or already gone
    }
  };
  if (!options.detach) process.once('exit', cleanupAtExit);

  try {
    await buildTopology(ns);
    const { rds } = LAB_ADDRESSES.lan;
    const endpoints = [`${rds.v4}:${rds.openPort}`, `[${rds.v6}]:${rds.openPort}`];
    children.add(await startListener(ns.lan, endpoints, Boolean(options.detach)));
  } catch (error) {
    for (const child of children) child.kill('SIGKILL');
    process.removeListener('exit', cleanupAtExit);
    await destroyLab(name);
    throw error;
  }
  if (options.detach) {
    for (const child of children) {
      child.unref();
      children.delete(child);
    }
  }

  return {
    name,
    sweeperNs: ns.sweeper,
    namespaces: ns,
    addresses: LAB_ADDRESSES,
    ...sweeperHandle(ns.sweeper, children, cleanupAtExit, () => destroyLab(name)),
  };
}

/**
 * `exec`, `spawn`, `bridgeToHost` and `destroy` of a lab whose probes run in `sweeperNs` (this lab's and the path lab's): `destroy`
 * stops the processes it spawned, forgets the exit hook and tears the namespaces down, once.
 */
export function sweeperHandle(
  sweeperNs: string,
  children: Set<ChildProcess>,
  cleanupAtExit: () => void,
  teardown: () => Promise<void>,
): Pick<Lab, 'exec' | 'spawn' | 'bridgeToHost' | 'destroy'> {
  let destroyed = false;
  return {
    exec: (argv, execOptions) => run(['ip', 'netns', 'exec', sweeperNs, ...argv], execOptions),
    spawn: (argv, spawnOptions) => {
      const child = spawnProcess('ip', ['netns', 'exec', sweeperNs, ...argv], {
        env: { ...process.env, ...spawnOptions?.env },
        stdio: 'pipe',
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    bridgeToHost: async (port, unixSocketPath) => {
      const child = spawnProcess('ip', ['netns', 'exec', sweeperNs, process.execPath, BRIDGE_SCRIPT, String(port), unixSocketPath], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      await waitForReady(child, `The bridge to ${unixSocketPath}`);
      for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as Socket | null)?.unref();
      child.unref();
    },
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      process.removeListener('exit', cleanupAtExit);
      await Promise.all([...children].map((child) => stopChild(child)));
      children.clear();
      await teardown();
    },
  };
}

/**
 * Destroys the lab called `name`, whoever built it: kills every process still inside its namespaces, deletes
 * them and their /etc/netns folders. Does nothing for parts that do not exist.
 */
export async function destroyLab(name: string): Promise<void> {
  await destroyNamespaces(Object.values(labNamespaces(name)));
}

/**
 * Kills every process still inside these namespaces, deletes them and their /etc/netns folders; does nothing for
 * those that do not exist. (Also used by the path lab, test/support/path-lab.ts.)
 */
export async function destroyNamespaces(namespaces: readonly string[]): Promise<void> {
  const wanted = new Set(namespaces);
  const existing = (await listNamespaces()).filter((namespace) => wanted.has(namespace));
  await Promise.all(
    existing.map(async (namespace) => {
      const pids = await run(['ip', 'netns', 'pids', namespace], { timeoutMs: 5000 });
      for (const pid of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }
      await runOk(['ip', 'netns', 'del', namespace]);
    }),
  );
  await Promise.all([...wanted].map((namespace) => rm(`${NETNS_ETC}/${namespace}`, { recursive: true, force: true })));
  await rmdir(NETNS_ETC).catch(() => undefined);
}

/** Names of every network namespace on the machine (`ip netns list`). */
export async function listNamespaces(): Promise<string[]> {
  const listed = await runOk(['ip', 'netns', 'list']);
  return listed.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** Lab names (prefixes) that have at least one namespace on this machine: `zs…-sw|lan|rt|bh`. */
export async function listLabNames(): Promise<string[]> {
  const names = new Set<string>();
  for (const namespace of await listNamespaces()) {
    const match = /^(zs[a-z0-9]*)-(?:sw|lan|rt|bh)$/.exec(namespace);
    if (match?.[1]) names.add(match[1]);
  }
  return [...names].sort();
}

function labNamespaces(name: string): { sweeper: string; lan: string; router: string; behind: string } {
  const [sw, lan, rt, bh] = ROLE_SUFFIXES.map((suffix) => `${name}-${suffix}`) as [string, string, string, string];
  return { sweeper: sw, lan, router: rt, behind: bh };
}

type Namespaces = ReturnType<typeof labNamespaces>;

/**
 * Set in every lab namespace before any interface exists: devices created in a namespace copy its `default` IPv6
 * settings, so no address (not even link-local) waits for DAD and nothing autoconfigures from stray router
 * advertisements; and no ICMP answer is rate-limited.
 */
export const NAMESPACE_SYSCTLS: readonly string[] = [
  'net.ipv4.icmp_ratelimit=0',
  'net.ipv6.icmp.ratelimit=0',
  // Per namespace (kernel defaults: 1000/s, burst 50); net.ipv4.route.error_cost/error_burst are not: see below.
  'net.ipv4.icmp_msgs_per_sec=1000000',
  'net.ipv4.icmp_msgs_burst=1000000',
  'net.ipv6.conf.all.accept_dad=0',
  'net.ipv6.conf.default.accept_dad=0',
  'net.ipv6.conf.all.accept_ra=0',
  'net.ipv6.conf.default.accept_ra=0',
  'net.ipv6.conf.default.autoconf=0',
];
export const ROUTER_SYSCTLS: readonly string[] = ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1'];

async function buildTopology(ns: Namespaces): Promise<void> {
  const a = LAB_ADDRESSES;
  await runOk(['ip', '-batch', '-'], { input: Object.values(ns).map((n) => `netns add ${n}\n`).join('') });

  const common = NAMESPACE_SYSCTLS;
  const routerOnly = ROUTER_SYSCTLS;
  await Promise.all(
    Object.values(ns).map((namespace) =>
      runOk(['ip', 'netns', 'exec', namespace, 'sysctl', '-q', '-w', ...common, ...(namespace === ns.router ? routerOnly : [])]),
    ),
  );

  // Each veth end gets its own ifindex: namespaces number links from 1, so both ends would otherwise share one,
  // and linkwatch treats such a link as non-urgent and turns its carrier on up to 1 s later.
  await Promise.all([
    ipBatch(ns.sweeper, [
      'link set lo up',
      `link add eth0 index 10 type veth peer name sw0 index 11 netns ${ns.lan}`,
      `addr add ${a.sweeper.v4}/24 dev eth0`,
      `addr add ${a.sweeper.v6}/64 dev eth0 nodad`,
      'link set eth0 up',
      // Only the lab's routed ranges; no default route in either family, on purpose.
      `route add ${a.behind.v4Cidr} via ${a.router.lan.v4}`,
      `route add ${a.unreachable.v4Cidr} via ${a.router.lan.v4}`,
      `route add ${a.routed.v4Cidr} via ${a.router.lan.v4}`,
      `route add ${a.arpFails.v4Cidr} via ${a.router.lan.v4}`,
      `route add 2001:db8:0:2::/64 via ${a.router.lan.v6}`,
    ]),
    ipBatch(ns.router, [
      'link set lo up',
      `link add eth0 index 20 type veth peer name rt0 index 21 netns ${ns.lan}`,
      `link add eth1 index 22 type veth peer name eth0 index 23 netns ${ns.behind}`,
      `link add eth2 index 24 type veth peer name eth1 index 25 netns ${ns.behind}`,
      `addr add ${a.router.lan.v4}/24 dev eth0`,
      `addr add ${a.router.lan.v6}/64 dev eth0 nodad`,
      `addr add ${a.router.behind.v4}/24 dev eth1`,
      `addr add ${a.router.behind.v6}/64 dev eth1 nodad`,
      `addr add ${a.arpFails.router}/24 dev eth2`,
      'link set eth0 up',
      'link set eth1 up',
      'link set eth2 up',
      `route add unreachable ${a.unreachable.v4Cidr}`,
      ...a.routed.live.map((address) => `addr add ${address}/32 dev lo`),
      // Local addresses win over this route (the local table is looked up first).
      `route add blackhole ${a.routed.v4Cidr}`,
    ]),
  ]);

  const lanHostsV4 = [...a.lan.alive.v4, a.lan.rds.v4, a.lan.prohibited.v4, a.lan.portUnreachable.v4, a.lan.silent.v4];
  const lanHostsV6 = [...a.lan.alive.v6, a.lan.rds.v6, a.lan.prohibited.v6, a.lan.silent.v6];
  const behindV4 = [a.behind.alive.v4, a.behind.prohibitedByRouter.v4, a.behind.droppedByRouter.v4];
  const behindV6 = [a.behind.alive.v6, a.behind.prohibitedByRouter.v6];
  await Promise.all([
    ipBatch(ns.lan, [
      'link set lo up',
      // No STP and no multicast snooping: ports forward at once and ND multicast is always flooded.
      'link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0',
      'link set sw0 master br0',
      'link set rt0 master br0',
      ...lanHostsV4.map((host) => `addr add ${host}/24 dev br0`),
      ...lanHostsV6.map((host) => `addr add ${host}/64 dev br0 nodad`),
      'link set br0 up',
      'link set sw0 up',
      'link set rt0 up',
    ]),
    ipBatch(ns.behind, [
      'link set lo up',
      ...behindV4.map((host) => `addr add ${host}/24 dev eth0`),
      ...behindV6.map((host) => `addr add ${host}/64 dev eth0 nodad`),
      'link set eth0 up',
      // The far end of the router's eth2: up, so ARP requests go out, and nobody to answer them.
      'link set eth1 up',
      // Routes back to the LAN only (not a default route): nothing here can lead out of the lab.
      `route add ${a.lan.v4Cidr} via ${a.router.behind.v4}`,
      `route add 2001:db8:0:1::/64 via ${a.router.behind.v6}`,
    ]),
  ]);

  // A link's carrier and qdisc are switched on by the kernel's linkwatch worker; until then every packet is
  // dropped (the first ping after creation was lost). Distinct ifindexes on the veth ends make that immediate;
  // this wait is the safety net.
  await Promise.all([
    waitForLinksUp(ns.sweeper, ['eth0']),
    waitForLinksUp(ns.lan, ['br0', 'sw0', 'rt0']),
    waitForLinksUp(ns.router, ['eth0', 'eth1', 'eth2']),
    waitForLinksUp(ns.behind, ['eth0', 'eth1']),
    // ARP on eth2 gives up after 3 probes 100 ms apart (default 3 × 1 s), so the router's answers come soon.
    runOk([
      'ip', 'netns', 'exec', ns.router, 'sysctl', '-q', '-w',
      'net.ipv4.neigh.eth2.retrans_time_ms=100',
      'net.ipv4.neigh.eth2.mcast_solicit=3',
    ]),
  ]);

  await Promise.all([
    nft(
      ns.lan,
      `table inet lab {
  chain input {
    type filter hook input priority filter; policy accept;
    ip daddr ${a.lan.rds.v4} icmp type echo-request drop
    ip6 daddr ${a.lan.rds.v6} icmpv6 type echo-request drop
    ip daddr ${a.lan.prohibited.v4} reject with icmp type admin-prohibited
    ip6 daddr ${a.lan.prohibited.v6} reject with icmpv6 type admin-prohibited
    ip daddr ${a.lan.portUnreachable.v4} reject with icmp type port-unreachable
    ip daddr ${a.lan.silent.v4} drop
    ip6 daddr ${a.lan.silent.v6} icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
    ip6 daddr ${a.lan.silent.v6} drop
  }
}
`,
    ),
    nft(
      ns.router,
      `table inet lab {
  chain prerouting {
    type filter hook prerouting priority filter; policy accept;
    # Same answer as the router's \`unreachable\` route (host unreachable, type 3 code 1, from this router), but
    # the route's own answer goes through ip_error(), whose limiter (net.ipv4.route.error_cost/error_burst: 5 at
    # once, then 1/s per source) is global, not per namespace: a sweep of the /24 got 3 answers out of 254.
    ip daddr ${a.unreachable.v4Cidr} reject with icmp type host-unreachable
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    ip daddr ${a.behind.prohibitedByRouter.v4} reject with icmp type admin-prohibited
    ip6 daddr ${a.behind.prohibitedByRouter.v6} reject with icmpv6 type admin-prohibited
    ip daddr ${a.behind.droppedByRouter.v4} drop
  }
}
`,
    ),
    writeResolverFiles(ns.sweeper),
  ]);
}

async function writeResolverFiles(namespace: string): Promise<void> {
  const n = LAB_ADDRESSES.names;
  const dir = `${NETNS_ETC}/${namespace}`;
  await mkdir(dir, { recursive: true });
  // `ip netns exec` bind-mounts each of these over /etc/<file> for the command it runs.
  await Promise.all([
    writeFile(
      `${dir}/hosts`,
      [
        '127.0.0.1 localhost',
        '::1 localhost ip6-localhost ip6-loopback',
        `${n.rds.v4} ${n.rds.name}`,
        `${n.rds.v6} ${n.rds.name}`,
        `${n.web.v4} ${n.web.name}`,
        `${n.behind.v4} ${n.behind.name}`,
        '',
      ].join('\n'),
    ),
    // Nothing listens on 127.0.0.1:53, so an unknown name fails at once (port unreachable), never leaves the lab.
    writeFile(`${dir}/resolv.conf`, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n'),
    // Whatever the host uses (systemd-resolved, mDNS…), the lab resolves from these two files only.
    writeFile(`${dir}/nsswitch.conf`, 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n'),
  ]);
}

/** Starts tcp-listener.mjs in `lanNs` on every `address:port` of `endpoints` and waits until it listens. */
export async function startListener(lanNs: string, endpoints: readonly string[], detach: boolean): Promise<ChildProcess> {
  const args = endpoints;
  const child = spawnProcess(
    'ip',
    ['netns', 'exec', lanNs, process.execPath, LISTENER_SCRIPT, ...(detach ? [] : ['--exit-with-stdin']), ...args],
    { stdio: ['pipe', 'pipe', 'pipe'], detached: detach },
  );
  await waitForReady(child, `The TCP listener in ${lanNs}`);
  if (detach) {
    child.stdin?.destroy();
    child.stdout?.destroy();
    child.stderr?.destroy();
  } else {
    // A test that forgets `destroy` must still end: nothing here keeps the event loop alive, and the listener
    // exits when its stdin closes with this process (then the exit hook deletes the namespaces).
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as Socket | null)?.unref();
    child.unref();
  }
  return child;
}

/** Waits until a helper process prints `ready`; kills it and throws a LabError if it exits or takes too long. */
async function waitForReady(child: ChildProcess, what: string): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new LabError('lab_setup', `${what} was not ready after ${LISTENER_READY_TIMEOUT_MS} ms.`));
    }, LISTENER_READY_TIMEOUT_MS);
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new LabError('lab_setup', `${what} exited (${code}): ${stderr.trim()}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new LabError('lab_setup', `${what} cannot start: ${error.message}`, { cause: error }));
    });
  });
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}

export async function waitForLinksUp(namespace: string, links: readonly string[]): Promise<void> {
  const deadline = performance.now() + LINKS_UP_TIMEOUT_MS;
  for (;;) {
    const listed = await runOk(['ip', '-n', namespace, '-o', 'link', 'show', 'up']);
    const up = new Set(
      listed.stdout
        .split('\n')
        .filter((line) => / state UP /.test(line))
        .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1]),
    );
    const down = links.filter((link) => !up.has(link));
    if (down.length === 0) return;
    if (performance.now() > deadline) {
      throw new LabError('lab_setup', `Links still down in ${namespace} after ${LINKS_UP_TIMEOUT_MS} ms: ${down.join(', ')}.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function ipBatch(namespace: string, commands: readonly string[]): Promise<LabExecResult> {
  return runOk(['ip', '-n', namespace, '-batch', '-'], { input: commands.join('\n') + '\n' });
}

export function nft(namespace: string, ruleset: string): Promise<LabExecResult> {
  return runOk(['ip', 'netns', 'exec', namespace, 'nft', '-f', '-'], { input: ruleset });
}

export async function runOk(argv: readonly string[], options?: LabExecOptions): Promise<LabExecResult> {
  const result = await run(argv, options);
  if (result.code !== 0) {
    throw new LabError(
      'lab_setup',
      `Lab setup command failed (${result.timedOut ? 'timed out' : `exit ${result.code}`}): ${argv.join(' ')}\n${result.stderr.trim()}`,
    );
  }
  return result;
}

export function run(argv: readonly string[], options: LabExecOptions = {}): Promise<LabExecResult> {
  const [command, ...args] = argv;
  if (command === undefined) return Promise.reject(new LabError('lab_setup', 'Empty command.'));
  return new Promise((resolve, reject) => {
    const child = spawnProcess(command, args, { env: { ...process.env, ...options.env }, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 30_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new LabError('lab_setup', `Cannot run ${command}: ${error.message}`, { cause: error }));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
