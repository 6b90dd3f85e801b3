/**
 * Lowers the kernel's neighbour table limit (gc_thresh3, IPv4 and IPv6) for a moment, so a lab sweep meets a full
 * table, and puts it back.
 *
 * These limits are not per network namespace: the ARP and ND tables are one table each for the whole machine,
 * shared by every namespace, and `net.ipv{4,6}.neigh.default.gc_thresh*` exist only in the host namespace (inside
 * any other, /proc/sys/net/ipv4/neigh/ has no `default` at all). So lowering them touches the whole machine: keep it
 * to the seconds of one sweep. The old values come back on `restore()`, at this process's exit, and, should this
 * process be killed outright, from a small guard process started with the change (after GUARD_SECONDS, and only if
 * the value is still the one written here).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const FAMILIES = ['ipv4', 'ipv6'] as const;
const pathOf = (family: (typeof FAMILIES)[number]): string => `/proc/sys/net/${family}/neigh/default/gc_thresh3`;
/** The guard's delay, in seconds: far longer than a test that lowers the limit should need it. */
const GUARD_SECONDS = 120;

export interface LoweredNeighbourLimit {
  /** The values found before, by family. */
  readonly previous: Readonly<Record<(typeof FAMILIES)[number], number>>;
  /** Puts the old values back and stops the guard; safe to call twice. */
  restore(): void;
}

/** Sets gc_thresh3 of both families to `limit` until `restore()`. Must run in the host namespace, as root. */
export function lowerNeighbourLimit(limit: number): LoweredNeighbourLimit {
  const previous = { ipv4: readLimit('ipv4'), ipv6: readLimit('ipv6') };
  for (const family of FAMILIES) {
    // Most likely left lowered by a test killed less than GUARD_SECONDS ago: "restoring" that value would keep it.
    if (previous[family] <= limit) {
      throw new Error(`${pathOf(family)} is already ${previous[family]}, not above ${limit}: set it back to the default (1024) first`);
    }
  }
  const script = FAMILIES.map(
    (family) => `[ "$(cat ${pathOf(family)})" = "${limit}" ] && echo ${previous[family]} > ${pathOf(family)}`,
  ).join('; ');
  const guard = spawn('sh', ['-c', `sleep ${GUARD_SECONDS}; ${script}; true`], { detached: true, stdio: 'ignore' });
  guard.unref();

  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    process.removeListener('exit', restore);
    for (const family of FAMILIES) writeFileSync(pathOf(family), `${previous[family]}\n`);
    if (guard.pid !== undefined && guard.exitCode === null) {
      try {
        process.kill(-guard.pid, 'SIGKILL'); // its own process group: the shell and its sleep
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', restore);
  try {
    for (const family of FAMILIES) writeFileSync(pathOf(family), `${limit}\n`);
  } catch (error) {
    restore();
    throw error;
  }
  return { previous, restore };
}

function readLimit(family: (typeof FAMILIES)[number]): number {
  const value = Number(readFileSync(pathOf(family), 'utf8').trim());
  if (!Number.isInteger(value) || value <= 0) throw new Error(`unexpected ${pathOf(family)}: ${value}`);
  return value;
}
