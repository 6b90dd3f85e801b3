import { networkInterfaces } from 'node:os';
import type { HostResult } from '../core/report.js';
import { canonicalAddress } from '../core/targets.js';
import type { NeighbourEntry, NeighbourReader } from './neighbours.js';

/**
 * What answered at layer 2 for a sweep's on-link targets, read from the kernel's neighbour table: an address where
 * nothing answered ARP/ND is empty; one that answered and then dropped every probe is a host behind its own firewall
 * (a security group, in a VPC). The table is read whole, one dump per read and never one per host: every
 * NEIGHBOUR_READ_EVERY_MS while some sweep of the engine has on-link probes out, and once when each sweep ends. The
 * kernel forgets entries (a full table, garbage collection), so what any read saw answered counts.
 *
 * What the table holds is the kernel's own belief: an entry confirmed within its reachable time (15 to 45 s) is not
 * asked again, and a stale one is checked only 5 s after it is used again (DELAY, then PROBE), failing about 8 s
 * after; so an address given up since the kernel last heard from it still shows the link-layer address that held it
 * in the first sweep after, and is told empty from the next one on.
 */

/** How often the table is read while on-link probes are out, in ms (default of LinkWatch). */
export const NEIGHBOUR_READ_EVERY_MS = 1000;

/** What the reads cost so far, for benchmarks and metrics. */
export interface LinkReadCost {
  /** Reads of the whole table (periodic and final). */
  reads: number;
  /** Reads that failed (the table could not be read); nothing is concluded from them. */
  failures: number;
  /** Wall time spent reading and parsing, in ms. */
  ms: number;
  /** Entries read, all reads together. */
  entries: number;
}

/** Addresses of this machine's own interfaces, canonical: a sweep reaches them over `lo`, not over a link. */
function ownAddresses(): Set<string> {
  const own = new Set<string>();
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      try {
        own.add(canonicalAddress(entry.address));
      } catch {
        // A form the sweep never writes (a zone index): no target of it.
      }
    }
  }
  return own;
}

/** The reads of one engine, shared by every sweep (scheduler) that runs on it. */
export class LinkWatch {
  /** Logs of the sweeps that have on-link probes out. */
  private readonly watching = new Set<LinkLog>();
  private timer: NodeJS.Timeout | undefined;
  private lastReadAt = -Infinity;
  private readonly spent: LinkReadCost = { reads: 0, failures: 0, ms: 0, entries: 0 };

  /**
   * @param reader the table's reader; undefined: nothing is read, and no host gets a `link`.
   * @param everyMs the period of the reads while probes are out, in ms, default NEIGHBOUR_READ_EVERY_MS.
   */
  constructor(
    private readonly reader: NeighbourReader | undefined,
    private readonly everyMs = NEIGHBOUR_READ_EVERY_MS,
  ) {}

  /** A log for one sweep's on-link targets; undefined when there is no reader. */
  open(): LinkLog | undefined {
    if (!this.reader) return undefined;
    return new LinkLog(this, this.reader.families, ownAddresses());
  }

  /** What the reads cost so far. */
  get cost(): Readonly<LinkReadCost> {
    return { ...this.spent };
  }

  /** `log` has sent its first on-link probe: the periodic reads run while some log is in this state. */
  watchFrom(log: LinkLog): void {
    this.watching.add(log);
    if (this.timer) return;
    this.timer = setInterval(() => {
      // A sweep's final read just now counts as this period's.
      if (performance.now() - this.lastReadAt >= this.everyMs / 2) this.read();
    }, this.everyMs);
    // The reads serve the sweeps; they never keep a process alive on their own.
    this.timer.unref();
  }

  /** `log`'s sweep has ended: reads once more for it (its probes are all in), and no longer on its behalf. */
  finish(log: LinkLog): boolean {
    const read = this.read();
    this.watching.delete(log);
    if (this.watching.size === 0) this.stopTimer();
    return read;
  }

  close(): void {
    this.stopTimer();
    this.watching.clear();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One dump of the table, told to every log watching; false when it could not be read. */
  private read(): boolean {
    if (!this.reader) return false;
    const started = performance.now();
    let entries: NeighbourEntry[] | undefined;
    try {
      entries = this.reader.read();
    } catch {
      // A table that cannot be read says nothing: the hosts keep no `link` (LinkLog.decide), the sweep goes on.
      entries = undefined;
    }
    const byAddress = new Map<string, NeighbourEntry>();
    for (const entry of entries ?? []) byAddress.set(entry.address, entry);
    if (entries) for (const log of this.watching) log.record(byAddress);
    // The read is synchronous: its wall time is the event loop's, taken from the sweeps' replies and timers.
    this.lastReadAt = performance.now();
    this.spent.reads += 1;
    this.spent.ms += this.lastReadAt - started;
    if (entries) this.spent.entries += entries.length;
    else this.spent.failures += 1;
    return entries !== undefined;
  }
}

/**
 * What the reads saw of one sweep's on-link targets, from each target's first probe on, and what each host's `link`
 * is once the sweep has ended.
 */
export class LinkLog {
  /** On-link targets probed (their first probe went). */
  private readonly watched = new Set<string>();
  /** Targets seen answered at some read, with the link-layer address the latest such read gave. */
  private readonly answered = new Map<string, string | undefined>();
  /** Targets seen being resolved or failed (INCOMPLETE, FAILED) at some read: ARP/ND was asked. */
  private readonly asked = new Set<string>();
  /** Targets whose entry needs no resolution (NOARP: a tunnel, a point-to-point link): layer 2 says nothing of them. */
  private readonly layerless = new Set<string>();
  /** The final read, after every probe ended, succeeded. */
  private finalRead = false;
  private finished = false;

  constructor(
    private readonly owner: LinkWatch,
    private readonly families: ReadonlySet<4 | 6>,
    private readonly own: ReadonlySet<string>,
  ) {}

  /** The first probe to on-link `address` went (ARP/ND is asked now, or its entry is used). */
  watch(address: string): void {
    if (this.finished) return;
    if (this.watched.size === 0) this.owner.watchFrom(this);
    this.watched.add(address);
  }

  /** A read's answered and unanswered entries, by address (LinkWatch). */
  record(entries: ReadonlyMap<string, NeighbourEntry>): void {
    // Whichever is smaller is walked: a sweep's targets, or the table.
    const fromWatched = this.watched.size <= entries.size;
    const walk = fromWatched ? this.watched : entries.keys();
    for (const address of walk) {
      const entry = entries.get(address);
      if (!entry || (!fromWatched && !this.watched.has(address))) continue;
      if (entry.state === 'answered') this.answered.set(address, entry.lladdr ?? this.answered.get(address));
      else if (entry.state === 'no_answer') this.asked.add(address);
      else this.layerless.add(address);
    }
  }

  /** The sweep's probes have all ended (or it stopped): the last read. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.finalRead = this.watched.size > 0 && this.owner.finish(this);
  }

  /**
   * Sets `link` (and `mac`) on an on-link host once the sweep has finished:
   * - `answered` when some read saw its entry answered (with the MAC), or when it answered from its own address
   *   (an echo reply, a TCP answer, its own ICMP error: the link was resolved to reach it);
   * - `no_answer` when nothing answered and its entry was being resolved or failed, or never appeared at all,
   *   though its probes went: silent, or "unreachable" from the sweeper's own stack once ARP/ND failed;
   * - nothing when there is nothing to go on: the family is not read (/proc/net/arp has no IPv6), the final read
   *   failed, the host is the sweeper's own address, it is reached without ARP/ND (a tunnel: a NOARP entry), its
   *   probes did not end (unfinished), or a firewall said no (prohibited: no answer at layer 2 is then no fact about
   *   the host).
   */
  decide(host: HostResult): void {
    const family = host.ip.includes(':') ? 6 : 4;
    if (!this.families.has(family) || this.own.has(host.ip)) return;
    if (this.layerless.has(host.ip) && !this.answered.has(host.ip)) return;
    const itself = host.state === 'alive' || host.state === 'alive_tcp_only' || host.reporter?.address === host.ip;
    if (this.answered.has(host.ip) || itself) {
      host.link = 'answered';
      const mac = this.answered.get(host.ip);
      if (mac !== undefined) host.mac = mac;
      return;
    }
    if (!this.finalRead || host.unfinished || !this.watched.has(host.ip)) return;
    if (host.state === 'silent' || (host.state === 'unreachable' && this.asked.has(host.ip))) host.link = 'no_answer';
  }
}
