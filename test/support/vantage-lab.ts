/**
 * A second vantage in the network lab (test/support/lab.ts), for sweeps `from:all`: a second sweeper namespace on
 * the same LAN, and a firewall between it and the subnet behind the router, so that two agents really see that
 * subnet differently.
 *
 * ```
 *  <name>-sw  eth0 198.18.0.1/24 ── sw0 ┐
 *                                        br0 (<name>-lan: the LAN hosts)  ── rt0 ── <name>-rt ── <name>-bh 198.18.1.0/24
 *  <name>-s2  eth0 198.18.0.2/24 ── sw1 ┘                                         forward: saddr 198.18.0.2, daddr
 *  no default route                                                               198.18.1.0/24 → reject admin-prohibited
 * ```
 *
 * From the first sweeper, `behind.alive` (198.18.1.10) answers echo; from the second, the router answers every
 * packet to the behind subnet with "administratively prohibited". Both see the LAN alike, until a test drops the
 * second sweeper's packets to one LAN host (`dropFromSecond`), or everyone's (`dropFromAll`).
 *
 * Safety as in lab.ts: 198.18.0.0/15 only, the new namespace has routes to the lab's own prefixes only (no default
 * route), and nothing is connected to the host namespace.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { NAMESPACE_SYSCTLS, destroyNamespaces, ipBatch, nft, runOk, sweeperHandle, waitForLinksUp } from './lab.js';
import type { Lab, LabExecOptions, LabExecResult } from './lab.js';

export const SECOND_SWEEPER = { v4: '198.18.0.2' } as const;

export interface SecondVantage {
  /** The second sweeper's namespace: run its agent there (`startAgent({ netns })`). */
  readonly sweeperNs: string;
  exec(argv: readonly string[], options?: LabExecOptions): Promise<LabExecResult>;
  /** Lets processes in the second sweeper reach a Unix socket of the host namespace at 127.0.0.1:`port`. */
  bridgeToHost(port: number, unixSocketPath: string): Promise<void>;
  /** The LAN drops what the second sweeper sends to `address` (its own trouble: the first still reaches it). */
  dropFromSecond(address: string): Promise<void>;
  /** The LAN drops what anyone sends to `address` (the host's trouble: every vantage sees it). */
  dropFromAll(address: string): Promise<void>;
  /** Removes the drops above (the firewall between the second sweeper and the behind subnet stays). */
  clearDrops(): Promise<void>;
  destroy(): Promise<void>;
}

/** Adds the second sweeper to a lab made by createLab; `destroy` removes it (the lab's own `destroy` does not). */
export async function addSecondVantage(lab: Lab): Promise<SecondVantage> {
  const a = lab.addresses;
  const ns = `${lab.name}-s2`;
  await destroyNamespaces([ns]);
  const children = new Set<ChildProcess>();
  // A test that ends without `destroy` still leaves no namespace behind.
  const cleanupAtExit = (): void => {
    for (const child of children) child.kill('SIGKILL');
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  };
  process.once('exit', cleanupAtExit);
  await runOk(['ip', 'netns', 'add', ns]);
  await runOk(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', ...NAMESPACE_SYSCTLS]);
  await ipBatch(ns, [
    'link set lo up',
    // Indexes of their own (see lab.ts: linkwatch delays a veth whose two ends share one).
    `link add eth0 index 14 type veth peer name sw1 index 15 netns ${lab.namespaces.lan}`,
    `addr add ${SECOND_SWEEPER.v4}/24 dev eth0`,
    'link set eth0 up',
    // The lab's routed prefix behind the router only: no default route, on purpose.
    `route add ${a.behind.v4Cidr} via ${a.router.lan.v4}`,
  ]);
  await ipBatch(lab.namespaces.lan, ['link set sw1 master br0', 'link set sw1 up']);
  await Promise.all([waitForLinksUp(ns, ['eth0']), waitForLinksUp(lab.namespaces.lan, ['sw1'])]);
  await nft(
    lab.namespaces.router,
    `table inet vantage {
  chain forward {
    # Before the lab's own forward chain: this sweeper's packets to the behind subnet are refused, out loud.
    type filter hook forward priority filter - 1; policy accept;
    ip saddr ${SECOND_SWEEPER.v4} ip daddr ${a.behind.v4Cidr} reject with icmp type admin-prohibited
  }
}
`,
  );
  await nft(lab.namespaces.lan, `table inet vantage {\n  chain input {\n    type filter hook input priority filter - 1; policy accept;\n  }\n}\n`);
  const dir = `/etc/netns/${ns}`;
  await mkdir(dir, { recursive: true });
  await Promise.all([
    writeFile(`${dir}/hosts`, '127.0.0.1 localhost\n'),
    writeFile(`${dir}/resolv.conf`, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n'),
    writeFile(`${dir}/nsswitch.conf`, 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n'),
  ]);
  const lanRule = (rule: string): Promise<LabExecResult> =>
    runOk(['ip', 'netns', 'exec', lab.namespaces.lan, 'nft', 'add', 'rule', 'inet', 'vantage', 'input', ...rule.split(' ')]);
  const handle = sweeperHandle(ns, children, cleanupAtExit, () => destroyNamespaces([ns]));
  return {
    sweeperNs: ns,
    exec: handle.exec,
    bridgeToHost: handle.bridgeToHost,
    dropFromSecond: async (address) => void (await lanRule(`ip saddr ${SECOND_SWEEPER.v4} ip daddr ${address} drop`)),
    dropFromAll: async (address) => void (await lanRule(`ip daddr ${address} drop`)),
    clearDrops: async () => void (await runOk(['ip', 'netns', 'exec', lab.namespaces.lan, 'nft', 'flush', 'chain', 'inet', 'vantage', 'input'])),
    destroy: handle.destroy,
  };
}
