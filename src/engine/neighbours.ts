import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type * as Addon from '@zensweep/icmp-socket';
import { ZenSweepError } from '../core/errors.js';
import { bigIntToAddress } from '../core/targets.js';
import { parseArp } from './diag/kernel-tables.js';

/**
 * The kernel's neighbour table (ARP for IPv4, neighbour discovery for IPv6) of this process's network namespace: what
 * answered at layer 2 for an on-link address. Read through the addon's netlink dump (both families at once), or from
 * /proc/net/arp (IPv4 only) where the addon cannot be loaded.
 */

/**
 * What an entry says: `answered` (the kernel holds a link-layer address that answered: REACHABLE, STALE, DELAY, PROBE,
 * or PERMANENT), `no_answer` (INCOMPLETE: asked, no answer yet; FAILED: asked, nobody answered), `other` (NOARP,
 * NONE: nothing was asked on the link).
 */
export type NeighbourState = 'answered' | 'no_answer' | 'other';

export interface NeighbourEntry {
  family: 4 | 6;
  /** Canonical text (bigIntToAddress), as the sweep's own addresses are written. */
  address: string;
  state: NeighbourState;
  /** The link-layer address, lower-case `aa:bb:cc:dd:ee:ff`; absent when the kernel holds none. */
  lladdr?: string;
}

/** Reads the whole table once; throws a NeighbourTableError when the kernel cannot be read. */
export interface NeighbourReader {
  /** Where it reads: `netlink` (both families), `proc` (/proc/net/arp: IPv4 only). */
  readonly source: 'netlink' | 'proc';
  /** The families its reads cover. */
  readonly families: ReadonlySet<4 | 6>;
  read(): NeighbourEntry[];
}

/** The neighbour table could not be read (netlink refused, /proc unreadable). */
export class NeighbourTableError extends ZenSweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('neighbour_table', message, options);
  }
}

// linux/neighbour.h
const NUD_INCOMPLETE = 0x01;
const NUD_REACHABLE = 0x02;
const NUD_STALE = 0x04;
const NUD_DELAY = 0x08;
const NUD_PROBE = 0x10;
const NUD_FAILED = 0x20;
const NUD_PERMANENT = 0x80;
const ANSWERED = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;
const NO_ANSWER = NUD_INCOMPLETE | NUD_FAILED;

/** What a NUD_* state says of layer 2. */
export function neighbourState(nud: number): NeighbourState {
  if (nud & ANSWERED) return 'answered';
  if (nud & NO_ANSWER) return 'no_answer';
  return 'other';
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/**
 * The addon's records (native/icmp-socket: `neighbours`), `size` bytes each: family at 0, link-layer address length
 * at 1, ndm_state (u16 LE) at 2, ifindex at 4, the address at 8, the link-layer address at 24.
 */
export function parseNeighbourRecords(records: Buffer, size: number): NeighbourEntry[] {
  const entries: NeighbourEntry[] = [];
  for (let at = 0; at + size <= records.length; at += size) {
    const family = records[at];
    if (family !== 4 && family !== 6) continue;
    let address: string;
    if (family === 4) {
      address = `${records[at + 8]}.${records[at + 9]}.${records[at + 10]}.${records[at + 11]}`;
    } else {
      address = bigIntToAddress(records.readBigUInt64BE(at + 8) * 2n ** 64n + records.readBigUInt64BE(at + 16), 6);
    }
    const entry: NeighbourEntry = { family, address, state: neighbourState(records.readUInt16LE(at + 2)) };
    const lladdrLength = records[at + 1] ?? 0;
    if (lladdrLength > 0 && 24 + lladdrLength <= size) {
      const parts: string[] = [];
      for (let i = 0; i < lladdrLength; i += 1) parts.push(HEX[records[at + 24 + i] ?? 0] ?? '00');
      entry.lladdr = parts.join(':');
    }
    entries.push(entry);
  }
  return entries;
}

/** Both families in one netlink dump, through the addon. */
class NetlinkNeighbourReader implements NeighbourReader {
  readonly source = 'netlink';
  readonly families: ReadonlySet<4 | 6> = new Set<4 | 6>([4, 6]);

  constructor(private readonly addon: typeof Addon) {}

  read(): NeighbourEntry[] {
    let records: Buffer;
    try {
      records = this.addon.neighbours(0);
    } catch (error) {
      throw new NeighbourTableError(`the kernel's neighbour table could not be read: ${(error as Error).message}`, { cause: error });
    }
    return parseNeighbourRecords(records, this.addon.NEIGHBOUR_BYTES);
  }
}

/** IPv4 alone, from /proc/net/arp: its flags tell a resolved entry from one being resolved or failed, nothing more. */
class ProcArpReader implements NeighbourReader {
  readonly source = 'proc';
  readonly families: ReadonlySet<4 | 6> = new Set<4 | 6>([4]);

  constructor(private readonly path: string) {}

  read(): NeighbourEntry[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      throw new NeighbourTableError(`${this.path} could not be read: ${(error as Error).message}`, { cause: error });
    }
    return parseArp(text).map((row): NeighbourEntry => {
      const entry: NeighbourEntry = { family: 4, address: row.address, state: row.state === 'incomplete' ? 'no_answer' : 'answered' };
      if (row.lladdr) entry.lladdr = row.lladdr.toLowerCase();
      return entry;
    });
  }
}

/** /proc/net/arp (or another file of its format, for tests). */
export function procArpReader(path = '/proc/net/arp'): NeighbourReader {
  return new ProcArpReader(path);
}

/** The addon's netlink reader; undefined when the addon cannot be loaded here. */
export function netlinkNeighbourReader(): NeighbourReader | undefined {
  try {
    const addon = createRequire(import.meta.url)('@zensweep/icmp-socket') as typeof Addon;
    return typeof addon.neighbours === 'function' ? new NetlinkNeighbourReader(addon) : undefined;
  } catch {
    return undefined;
  }
}

/** Netlink through the addon where it loads, else /proc/net/arp (IPv4 only). */
export function defaultNeighbourReader(): NeighbourReader {
  return netlinkNeighbourReader() ?? procArpReader();
}
