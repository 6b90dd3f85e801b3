/**
 * Target tokens (CIDR, address, range, host name) and the address space they cover. Addresses are handled as
 * BigInt ranges so that a /8 or an IPv6 /112 never becomes an array; iteration is lazy.
 */
import { isIP } from './ip-text.js';
import IPCIDR from 'ip-cidr';
import { InvalidTargetError } from './errors.js';
import type { TargetSpec } from './request.js';

export type AddressFamily = 4 | 6;

/** A target that stands for addresses (not a host name still to be resolved). */
export type AddressTargetSpec = Exclude<TargetSpec, { kind: 'name' }>;

/** An inclusive range of addresses of one family. */
export interface AddressRange {
  family: AddressFamily;
  start: bigint;
  end: bigint;
}

/** IPv6 prefixes shorter than this are refused: a /112 is 65,536 addresses, the default sweep cap. */
export const MIN_IPV6_PREFIX = 112;

const MAX_V4 = (1n << 32n) - 1n;
const MAX_V6 = (1n << 128n) - 1n;
const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;
const DIGITS_AND_DOTS = /^[0-9.]+$/;
const DIGITS_DOTS_DASHES = /^[0-9.-]+$/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;
const OCTET = /^(0|[1-9][0-9]{0,2})$/;
const LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/**
 * A token quoted inside an error message: control and format characters (which could break the one-line message)
 * become `?`, and a very long token is cut.
 */
export function quoteToken(token: string): string {
  const clean = token.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '?');
  const chars = Array.from(clean);
  return chars.length > 80 ? `${chars.slice(0, 77).join('')}…` : clean;
}

function familyName(family: AddressFamily): string {
  return family === 4 ? 'IPv4' : 'IPv6';
}

function maxFor(family: AddressFamily): bigint {
  return family === 4 ? MAX_V4 : MAX_V6;
}

/**
 * The numeric value of an IPv4 or IPv6 address (any valid text form, including `::ffff:1.2.3.4`).
 * Throws InvalidTargetError for anything else, including zone ids (`fe80::1%eth0`).
 */
export function addressToBigInt(address: string): { family: AddressFamily; value: bigint } {
  const family = address.includes('%') ? 0 : isIP(address);
  if (family === 4) {
    return { family: 4, value: BigInt(ipv4ToNumber(address)) };
  }
  if (family === 6) {
    return { family: 6, value: ipv6ToBigInt(address) };
  }
  throw new InvalidTargetError(
    `${quoteToken(address)} is not an IP address: write an IPv4 address like 10.0.1.5 or an IPv6 address like 2001:db8::5`,
  );
}

/**
 * The value of an address whose family is known and whose text is valid (the kernel's own, as /proc gives it),
 * without isIP: its IPv6 expression costs ~15 ms to compile on first use, before an IPv4 sweep's first probe.
 */
export function knownAddressToBigInt(family: AddressFamily, address: string): bigint {
  return family === 4 ? BigInt(ipv4ToNumber(address)) : ipv6ToBigInt(address);
}

/**
 * A dotted IPv4 address as an unsigned number; the caller has checked the text with isIP (or it is one of ours). Read
 * a character at a time, with nothing allocated: the echo prober calls it for every address it probes.
 */
export function ipv4ToNumber(address: string): number {
  let value = 0;
  let part = 0;
  for (let i = 0; i < address.length; i++) {
    const code = address.charCodeAt(i);
    if (code === 46) {
      value = value * 256 + part;
      part = 0;
    } else {
      part = part * 10 + code - 48;
    }
  }
  return value * 256 + part;
}

/** Caller has checked the text with isIP. */
function ipv6ToBigInt(address: string): bigint {
  const halves = address.split('::');
  const groupsOf = (text: string | undefined): number[] => {
    if (text === undefined || text === '') {
      return [];
    }
    const groups: number[] = [];
    for (const part of text.split(':')) {
      if (part.includes('.')) {
        const v4 = ipv4ToNumber(part);
        groups.push(Math.floor(v4 / 65536), v4 % 65536);
      } else {
        groups.push(parseInt(part, 16));
      }
    }
    return groups;
  };
  const head = groupsOf(halves[0]);
  const tail = groupsOf(halves[1]);
  const groups = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  let value = 0n;
  for (const group of groups) {
    value = (value << 16n) | BigInt(group);
  }
  return value;
}

/** Dotted quad of a 32-bit unsigned number. */
function formatV4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/**
 * RFC 5952 text of eight 16-bit groups, as inet_ntop prints it: lower case, no leading zeros, the longest run of
 * two or more zero groups (the leftmost on a tie) written `::`.
 */
function formatV6Groups(groups: ArrayLike<number>): string {
  let bestStart = -1;
  let bestLength = 1;
  let runStart = -1;
  for (let i = 0; i <= 8; i += 1) {
    if (i < 8 && groups[i] === 0) {
      if (runStart < 0) {
        runStart = i;
      }
    } else if (runStart >= 0) {
      const length = i - runStart;
      if (length > bestLength) {
        bestStart = runStart;
        bestLength = length;
      }
      runStart = -1;
    }
  }
  const hex = (from: number, to: number): string => {
    const parts: string[] = [];
    for (let i = from; i < to; i += 1) {
      parts.push((groups[i] ?? 0).toString(16));
    }
    return parts.join(':');
  };
  if (bestStart < 0) {
    return hex(0, 8);
  }
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

function bigIntToV6Groups(value: bigint): number[] {
  const groups = new Array<number>(8);
  let rest = value;
  for (let i = 7; i >= 0; i -= 1) {
    groups[i] = Number(rest & 0xffffn);
    rest >>= 16n;
  }
  return groups;
}

/** Canonical text of an address: dotted quad for IPv4, RFC 5952 for IPv6 (e.g. `2001:db8::10`). */
export function bigIntToAddress(value: bigint, family: AddressFamily): string {
  if (value < 0n || value > maxFor(family)) {
    throw new RangeError(`${value} is not an ${familyName(family)} address value`);
  }
  return family === 4 ? formatV4(Number(value)) : formatV6Groups(bigIntToV6Groups(value));
}

/** Canonical text of any valid address text, e.g. `2001:DB8:0::0010` → `2001:db8::10`. */
export function canonicalAddress(address: string): string {
  const { family, value } = addressToBigInt(address);
  return bigIntToAddress(value, family);
}

/**
 * Parses one target token: a CIDR (host bits allowed, normalised to the network), an address, a last-octet range
 * (`10.0.3.5-20`), a full range (`10.0.3.5-10.0.3.20`, `2001:db8::1-2001:db8::ff`) or a host name. The `text` of
 * the result is canonical (network address, RFC 5952 IPv6, lower-case name without trailing dot), so identical
 * targets written differently compare equal and re-parse to the same spec.
 */
export function parseTargetToken(token: string): TargetSpec {
  if (token === '') {
    throw new InvalidTargetError('an empty target is not valid: give a CIDR, an address, a range or a host name, e.g. 10.0.1.0/24');
  }
  if (token.includes('/')) {
    return parseCidr(token);
  }
  const dash = token.indexOf('-');
  if (dash > 0) {
    const left = token.slice(0, dash);
    const leftFamily = left.includes('%') ? 0 : isIP(left);
    if (leftFamily !== 0) {
      return parseRange(token, left, token.slice(dash + 1));
    }
  }
  if (token.includes(':')) {
    return parseAddress(token);
  }
  if (DIGITS_AND_DOTS.test(token)) {
    return parseAddress(token);
  }
  if (DIGITS_DOTS_DASHES.test(token) && token.includes('.')) {
    // 10.0.1-5 is a mistyped range, not a host name.
    throw new InvalidTargetError(
      `${quoteToken(token)} is not a valid address range: write a full first address, then a dash and the last octet or a full address, e.g. 10.0.3.5-20`,
    );
  }
  return parseName(token);
}

function parseAddress(token: string): TargetSpec {
  if (token.includes('%')) {
    throw new InvalidTargetError(
      `${quoteToken(token)} has a zone id, which a sweep does not support: write the address alone, e.g. fe80::1`,
    );
  }
  const family = isIP(token);
  if (family === 4 || family === 6) {
    const { value } = addressToBigInt(token);
    return { kind: 'address', text: bigIntToAddress(value, family), family, start: value, end: value };
  }
  if (token.includes(':')) {
    throw new InvalidTargetError(`${quoteToken(token)} is not a valid IPv6 address: write it like 2001:db8::5`);
  }
  throw new InvalidTargetError(
    `${quoteToken(token)} is not a valid IPv4 address: write four numbers from 0 to 255 separated by dots, e.g. 10.0.1.5`,
  );
}

function parseCidr(token: string): TargetSpec {
  const parts = token.split('/');
  const address = parts[0] ?? '';
  const prefixText = parts[1] ?? '';
  const example = address.includes(':') ? '2001:db8::/112' : '10.0.1.0/24';
  if (parts.length !== 2 || address.includes('%')) {
    throw new InvalidTargetError(`${quoteToken(token)} is not a valid CIDR: write an address, a slash and a prefix length, e.g. ${example}`);
  }
  const family = isIP(address);
  if (family !== 4 && family !== 6) {
    throw new InvalidTargetError(
      `${quoteToken(token)} is not a valid CIDR: ${quoteToken(address)} is not an IP address, write it like ${example}`,
    );
  }
  const maxPrefix = family === 4 ? 32 : 128;
  const prefix = DECIMAL.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix <= maxPrefix)) {
    throw new InvalidTargetError(
      `${quoteToken(token)} is not a valid CIDR: the prefix length of an ${familyName(family)} CIDR is a whole number from 0 to ${maxPrefix}, e.g. ${example}`,
    );
  }
  if (family === 6 && prefix < MIN_IPV6_PREFIX) {
    throw new InvalidTargetError(
      `${quoteToken(token)} is too large: an IPv6 CIDR must be /${MIN_IPV6_PREFIX} or longer (at most 65,536 addresses), e.g. 2001:db8::/112`,
    );
  }
  // ip-cidr validates and gives the bounds; it refuses mixed notation (::ffff:1.2.3.0/120), so give it canonical text.
  const canonical = `${canonicalAddress(address)}/${prefix}`;
  let start: bigint;
  let end: bigint;
  try {
    if (!IPCIDR.isValidCIDR(canonical)) {
      throw new Error(`ip-cidr refused ${canonical}`);
    }
    const cidr = new IPCIDR(canonical);
    start = BigInt(cidr.start<bigint>({ type: 'bigInteger' }));
    end = BigInt(cidr.end<bigint>({ type: 'bigInteger' }));
  } catch (error) {
    throw new InvalidTargetError(`${quoteToken(token)} is not a valid CIDR: write it like ${example}`, { cause: error });
  }
  return { kind: 'cidr', text: `${bigIntToAddress(start, family)}/${prefix}`, family, prefix, start, end };
}

function parseRange(token: string, left: string, right: string): TargetSpec {
  const first = addressToBigInt(left);
  const family = first.family;
  const example = family === 4 ? '10.0.3.5-20 or 10.0.3.5-10.0.3.20' : '2001:db8::1-2001:db8::ff';
  let end: bigint;
  let text: string;
  if (family === 4 && OCTET.test(right)) {
    const octet = Number(right);
    if (octet > 255) {
      throw new InvalidTargetError(
        `${quoteToken(token)} is not a valid range: the last octet ends at 255 at most, e.g. ${example}`,
      );
    }
    end = (first.value & ~255n) | BigInt(octet);
    text = `${bigIntToAddress(first.value, 4)}-${octet}`;
  } else {
    const rightFamily = right.includes('%') ? 0 : isIP(right);
    if (rightFamily === 0) {
      throw new InvalidTargetError(
        `${quoteToken(token)} is not a valid range: after the dash write ${family === 4 ? 'a last octet or ' : ''}a full ${familyName(family)} address, e.g. ${example}`,
      );
    }
    if (rightFamily !== family) {
      throw new InvalidTargetError(
        `${quoteToken(token)} mixes IPv4 and IPv6: both ends of a range must be of the same family, e.g. ${example}`,
      );
    }
    end = addressToBigInt(right).value;
    text = `${bigIntToAddress(first.value, family)}-${bigIntToAddress(end, family)}`;
  }
  if (end < first.value) {
    throw new InvalidTargetError(
      `${quoteToken(token)} is backwards: a range goes from the lower address to the higher one, e.g. ${example}`,
    );
  }
  return { kind: 'range', text, family, start: first.value, end };
}

function parseName(token: string): TargetSpec {
  const name = (token.endsWith('.') ? token.slice(0, -1) : token).toLowerCase();
  const invalid = (why: string): InvalidTargetError =>
    new InvalidTargetError(`${quoteToken(token)} is not a valid host name: ${why}, e.g. db01.example.com`);
  if (name.length > MAX_NAME_LENGTH) {
    throw invalid(`a name has at most ${MAX_NAME_LENGTH} characters`);
  }
  for (const label of name.split('.')) {
    if (label === '') {
      throw invalid('it has an empty label (two dots in a row, or a leading dot)');
    }
    if (label.length > MAX_LABEL_LENGTH) {
      throw invalid(`each dot-separated label has at most ${MAX_LABEL_LENGTH} characters`);
    }
    if (!LABEL.test(label)) {
      throw invalid("use letters, digits and '-' (not at the start or end of a label) in dot-separated labels");
    }
  }
  return { kind: 'name', text: name, name };
}

/**
 * The inclusive range actually probed for a target: an IPv4 CIDR of /30 or shorter skips its network and broadcast
 * addresses (as `fping -g` does); /31, /32, IPv6 and every other kind are probed as they are.
 */
export function probeRange(spec: AddressTargetSpec): AddressRange {
  if (spec.kind === 'cidr' && spec.family === 4 && spec.prefix <= 30) {
    return { family: 4, start: spec.start + 1n, end: spec.end - 1n };
  }
  return { family: spec.family, start: spec.start, end: spec.end };
}

function compareRanges(a: AddressRange, b: AddressRange): number {
  if (a.family !== b.family) {
    return a.family - b.family;
  }
  return a.start < b.start ? -1 : a.start > b.start ? 1 : 0;
}

/**
 * A network an agent declares (ZENSWEEP_CIDRS): a CIDR of any prefix length, an address, or a range. Unlike a
 * sweep target it has no size limit (an IPv6 VPC is a /56), and nothing is skipped: it says what may be probed.
 */
export function parseNetwork(text: string): AddressRange {
  const token = text.trim();
  if (token.includes('/')) {
    if (!IPCIDR.isValidCIDR(token)) {
      throw new InvalidTargetError(`${quoteToken(token)} is not a valid CIDR, e.g. 10.0.0.0/16 or 2001:db8::/56`);
    }
    const cidr = new IPCIDR(token);
    const family: AddressFamily = token.includes(':') ? 6 : 4;
    return {
      family,
      start: BigInt(String(cidr.start({ type: 'bigInteger' }))),
      end: BigInt(String(cidr.end({ type: 'bigInteger' }))),
    };
  }
  const spec = parseTargetToken(token);
  if (spec.kind === 'name') {
    throw new InvalidTargetError(`${quoteToken(token)} is a name, not a network: give a CIDR, e.g. 10.0.0.0/16`);
  }
  return { family: spec.family, start: spec.start, end: spec.end };
}

/**
 * A set of addresses kept as merged inclusive ranges, so that overlapping or repeated targets are swept once.
 * Iteration is lazy and in numeric order, IPv4 first.
 */
export class AddressSet implements Iterable<string> {
  private pending: AddressRange[] = [];
  private merged: AddressRange[] = [];

  /** The addresses that the targets stand for (names are skipped: they are resolved later). */
  static fromSpecs(specs: readonly TargetSpec[]): AddressSet {
    const set = new AddressSet();
    for (const spec of specs) {
      if (spec.kind !== 'name') {
        const range = probeRange(spec);
        set.add(range.family, range.start, range.end);
      }
    }
    return set;
  }

  /** Adds the inclusive range [start, end]; an empty range (start > end) adds nothing. */
  add(family: AddressFamily, start: bigint, end: bigint): this {
    if (family !== 4 && family !== 6) {
      throw new RangeError(`unknown address family ${String(family)}`);
    }
    if (start < 0n || end > maxFor(family)) {
      throw new RangeError(`range ${start}-${end} is outside the ${familyName(family)} address space`);
    }
    if (start <= end) {
      this.pending.push({ family, start, end });
    }
    return this;
  }

  /** Merged ranges, sorted, IPv4 first; adjacent and overlapping ranges are joined. */
  ranges(): ReadonlyArray<Readonly<AddressRange>> {
    if (this.pending.length > 0) {
      const all = [...this.merged, ...this.pending].sort(compareRanges);
      this.pending = [];
      const merged: AddressRange[] = [];
      for (const range of all) {
        const last = merged[merged.length - 1];
        if (last !== undefined && last.family === range.family && range.start <= last.end + 1n) {
          if (range.end > last.end) {
            last.end = range.end;
          }
        } else {
          merged.push({ ...range });
        }
      }
      this.merged = merged;
    }
    return this.merged;
  }

  /** Number of distinct addresses. */
  get size(): bigint {
    let total = 0n;
    for (const range of this.ranges()) {
      total += range.end - range.start + 1n;
    }
    return total;
  }

  /**
   * The `count` addresses starting at position `from` of the iteration order, as a new set (to cut a sweep into
   * chunks that keep the report's order when put back together).
   */
  slice(from: bigint, count: bigint): AddressSet {
    const part = new AddressSet();
    let skip = from;
    let left = count;
    for (const range of this.ranges()) {
      if (left <= 0n) break;
      const size = range.end - range.start + 1n;
      if (skip >= size) {
        skip -= size;
        continue;
      }
      const start = range.start + skip;
      const end = start + left - 1n < range.end ? start + left - 1n : range.end;
      part.add(range.family, start, end);
      left -= end - start + 1n;
      skip = 0n;
    }
    return part;
  }

  /** The addresses of this set that `other` also holds. */
  intersect(other: AddressSet): AddressSet {
    const result = new AddressSet();
    const b = other.ranges();
    for (const x of this.ranges()) {
      for (const y of b) {
        if (x.family !== y.family) continue;
        const start = x.start > y.start ? x.start : y.start;
        const end = x.end < y.end ? x.end : y.end;
        if (start <= end) result.add(x.family, start, end);
      }
    }
    return result;
  }

  /** The addresses of this set that `other` does not hold. */
  subtract(other: AddressSet): AddressSet {
    const result = new AddressSet();
    const b = other.ranges();
    for (const x of this.ranges()) {
      let pieces: { start: bigint; end: bigint }[] = [{ start: x.start, end: x.end }];
      for (const y of b) {
        if (y.family !== x.family) continue;
        const next: { start: bigint; end: bigint }[] = [];
        for (const p of pieces) {
          if (y.end < p.start || y.start > p.end) {
            next.push(p);
            continue;
          }
          if (y.start > p.start) next.push({ start: p.start, end: y.start - 1n });
          if (y.end < p.end) next.push({ start: y.end + 1n, end: p.end });
        }
        pieces = next;
      }
      for (const p of pieces) result.add(x.family, p.start, p.end);
    }
    return result;
  }

  /** Whether every address of `other` is in this set. */
  covers(other: AddressSet): boolean {
    return other.subtract(this).size === 0n;
  }

  /** The ranges as text targets the grammar reads back: `10.0.1.7`, `10.0.1.0-10.0.1.255`. */
  toTargets(): string[] {
    return this.ranges().map((r) =>
      r.start === r.end
        ? bigIntToAddress(r.start, r.family)
        : `${bigIntToAddress(r.start, r.family)}-${bigIntToAddress(r.end, r.family)}`,
    );
  }

  /**
   * The ranges as the fewest CIDR blocks (`10.0.1.0/28`, a lone address as `/32` or `/128`), at most `limit` of them:
   * what a reader compares with a policy's or an agent's networks. Undefined when more would be needed.
   */
  toCidrs(limit = 64): string[] | undefined {
    const blocks: string[] = [];
    for (const range of this.ranges()) {
      const bits = range.family === 4 ? 32n : 128n;
      for (let start = range.start; start <= range.end; ) {
        let size = 0n;
        // The largest block that starts here (aligned) and ends within the range.
        while (size < bits && (start & ((1n << (size + 1n)) - 1n)) === 0n && start + (1n << (size + 1n)) - 1n <= range.end) size += 1n;
        if (blocks.length >= limit) return undefined;
        blocks.push(`${bigIntToAddress(start, range.family)}/${bits - size}`);
        start += 1n << size;
      }
    }
    return blocks;
  }

  /** Whether the set holds this address (any valid text form); false for text that is not an address. */
  contains(address: string): boolean {
    let parsed: { family: AddressFamily; value: bigint };
    try {
      parsed = addressToBigInt(address);
    } catch {
      return false;
    }
    const ranges = this.ranges();
    let low = 0;
    let high = ranges.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const range = ranges[middle];
      if (range === undefined) {
        return false;
      }
      if (range.family < parsed.family || (range.family === parsed.family && range.end < parsed.value)) {
        low = middle + 1;
      } else if (range.family > parsed.family || range.start > parsed.value) {
        high = middle - 1;
      } else {
        return true;
      }
    }
    return false;
  }

  /** Yields canonical address text, one at a time; nothing is materialised beyond the range list. */
  *[Symbol.iterator](): Generator<string, void, undefined> {
    // A snapshot of the range list: adding while iterating does not disturb this pass.
    const ranges = this.ranges().slice();
    for (const range of ranges) {
      if (range.family === 4) {
        const end = Number(range.end);
        for (let value = Number(range.start); value <= end; value += 1) {
          yield formatV4(value);
        }
      } else {
        yield* iterateV6(range.start, range.end);
      }
    }
  }
}

/** IPv6 iteration on eight Number groups with carry, so the hot loop does no BigInt arithmetic. */
function* iterateV6(start: bigint, end: bigint): Generator<string, void, undefined> {
  const groups = bigIntToV6Groups(start);
  const chunk = 1n << 52n;
  let remaining = end - start + 1n;
  while (remaining > 0n) {
    const steps = Number(remaining > chunk ? chunk : remaining);
    remaining -= BigInt(steps);
    for (let step = 0; step < steps; step += 1) {
      yield formatV6Groups(groups);
      for (let i = 7; i >= 0; i -= 1) {
        const next = (groups[i] ?? 0) + 1;
        if (next <= 0xffff) {
          groups[i] = next;
          break;
        }
        groups[i] = 0;
      }
    }
  }
}
