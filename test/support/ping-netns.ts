import { randomBytes } from 'node:crypto';
import { cliCommand } from './cli.js';
import { run, runOk } from './lab.js';
import type { LabExecOptions, LabExecResult } from './lab.js';

/**
 * What runs a process as an unprivileged user: nobody (65534), no supplementary group, no capability inherited, none
 * in the bounding set. Such a process may open a ping socket only where net.ipv4.ping_group_range covers group 65534,
 * and never a raw socket.
 */
export const UNPRIVILEGED = [
  'setpriv',
  '--reuid=65534',
  '--regid=65534',
  '--clear-groups',
  '--inh-caps=-all',
  '--bounding-set=-all',
] as const;

/** The range that covers every group, and the kernel's default, which covers none. */
export const EVERY_GROUP = '0 2147483647';
export const NO_GROUP = '1 0';

/**
 * A fresh network namespace of a test's own, lo up, no other link and no route out of it: what runs inside can reach
 * its own loopback addresses and nothing else. net.ipv4.ping_group_range is per namespace, so a test sets it here,
 * never in the host's.
 */
export interface PingNamespace {
  readonly name: string;
  /** Sets net.ipv4.ping_group_range in this namespace (it covers IPv6 ping sockets too). */
  pingGroups(range: string): Promise<void>;
  /** Runs argv inside the namespace as root. */
  exec(argv: readonly string[], options?: LabExecOptions): Promise<LabExecResult>;
  /** Runs argv inside the namespace as nobody, without any capability (UNPRIVILEGED). */
  execUnprivileged(argv: readonly string[], options?: LabExecOptions): Promise<LabExecResult>;
  /** `zensweep sweep …` inside the namespace, unprivileged or as root. */
  sweep(args: readonly string[], options?: LabExecOptions & { privileged?: boolean }): Promise<LabExecResult>;
  destroy(): Promise<void>;
}

export async function createPingNamespace(prefix = 'zsp'): Promise<PingNamespace> {
  const name = `${prefix}${randomBytes(3).toString('hex')}`;
  await runOk(['ip', 'netns', 'add', name]);
  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    process.removeListener('exit', atExit);
    await run(['ip', 'netns', 'del', name]);
  };
  const atExit = (): void => {
    void run(['ip', 'netns', 'del', name]);
  };
  process.once('exit', atExit);
  try {
    await runOk(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  } catch (error) {
    await destroy();
    throw error;
  }
  const exec = (argv: readonly string[], options?: LabExecOptions): Promise<LabExecResult> =>
    run(['ip', 'netns', 'exec', name, ...argv], options);
  const execUnprivileged = (argv: readonly string[], options?: LabExecOptions): Promise<LabExecResult> =>
    exec([...UNPRIVILEGED, ...argv], options);
  return {
    name,
    pingGroups: async (range) => {
      await runOk(['ip', 'netns', 'exec', name, 'sysctl', '-q', '-w', `net.ipv4.ping_group_range=${range}`]);
    },
    exec,
    execUnprivileged,
    sweep: (args, options = {}) => {
      const argv = [...cliCommand(), 'sweep', ...args];
      return options.privileged ? exec(argv, options) : execUnprivileged(argv, options);
    },
    destroy,
  };
}
