import type { Reporter } from './states.js';

/**
 * What an ICMP error means for a sweep. Kept apart from the packet codec so the CLI, Slack and tests share one
 * reading. Codes from RFC 792/1812 (IPv4) and RFC 4443 (IPv6).
 */

const V4_UNREACHABLE: Record<number, string> = {
  0: 'network unreachable',
  1: 'host unreachable',
  2: 'protocol unreachable',
  3: 'port unreachable',
  4: 'fragmentation needed',
  5: 'source route failed',
  6: 'destination network unknown',
  7: 'destination host unknown',
  8: 'source host isolated',
  9: 'network administratively prohibited',
  10: 'host administratively prohibited',
  11: 'network unreachable for TOS',
  12: 'host unreachable for TOS',
  13: 'communication administratively prohibited',
  14: 'host precedence violation',
  15: 'precedence cutoff in effect',
};

const V6_UNREACHABLE: Record<number, string> = {
  0: 'no route to destination',
  1: 'communication administratively prohibited',
  2: 'beyond scope of source address',
  3: 'address unreachable',
  4: 'port unreachable',
  5: 'source address failed ingress/egress policy',
  6: 'reject route to destination',
};

/** ICMP types the engine listens for besides echo reply. */
export const ICMP4_DEST_UNREACHABLE = 3;
export const ICMP4_TIME_EXCEEDED = 11;
export const ICMP4_PARAMETER_PROBLEM = 12;
export const ICMP6_DEST_UNREACHABLE = 1;
export const ICMP6_PACKET_TOO_BIG = 2;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_PARAMETER_PROBLEM = 4;

/**
 * Reads an ICMP error received in answer to one of our echo requests or TCP SYNs.
 *
 * A real host never answers an echo request or a SYN with "port unreachable" or "protocol unreachable": those come
 * from a firewall's REJECT rule (iptables' default answer is port unreachable), so they count as prohibited, as
 * do the administratively-prohibited codes (v4 9, 10, 13; v6 1) and the v6 policy codes 5 and 6.
 */
export function diagnoseIcmpError(family: 4 | 6, type: number, code: number, reporter: string): Reporter {
  let reason: string;
  let prohibited = false;
  if (family === 4) {
    if (type === ICMP4_DEST_UNREACHABLE) {
      reason = V4_UNREACHABLE[code] ?? `destination unreachable (code ${code})`;
      prohibited = code === 2 || code === 3 || code === 9 || code === 10 || code === 13;
    } else if (type === ICMP4_TIME_EXCEEDED) {
      reason = code === 0 ? 'TTL exceeded in transit (routing loop?)' : 'fragment reassembly time exceeded';
    } else if (type === ICMP4_PARAMETER_PROBLEM) {
      reason = 'parameter problem';
    } else {
      reason = `ICMP type ${type} code ${code}`;
    }
  } else if (type === ICMP6_DEST_UNREACHABLE) {
    reason = V6_UNREACHABLE[code] ?? `destination unreachable (code ${code})`;
    prohibited = code === 1 || code === 4 || code === 5 || code === 6;
  } else if (type === ICMP6_PACKET_TOO_BIG) {
    reason = 'packet too big';
  } else if (type === ICMP6_TIME_EXCEEDED) {
    reason = code === 0 ? 'hop limit exceeded in transit (routing loop?)' : 'fragment reassembly time exceeded';
  } else if (type === ICMP6_PARAMETER_PROBLEM) {
    reason = 'parameter problem';
  } else {
    reason = `ICMPv6 type ${type} code ${code}`;
  }
  return { verdict: prohibited ? 'prohibited' : 'unreachable', address: reporter, icmpType: type, icmpCode: code, reason };
}

const LOCAL_REASONS: Record<string, { verdict: Reporter['verdict']; reason: string }> = {
  ENETUNREACH: { verdict: 'unreachable', reason: 'no route from the sweeper' },
  EHOSTUNREACH: { verdict: 'unreachable', reason: 'no route to host from the sweeper' },
  EPERM: { verdict: 'prohibited', reason: "refused by the sweeper's own firewall" },
  // connect() on IPv6 turns an ICMPv6 administratively-prohibited answer into EACCES.
  EACCES: { verdict: 'prohibited', reason: 'administratively prohibited on the way (sender not known)' },
  EADDRNOTAVAIL: { verdict: 'unreachable', reason: 'address not usable from the sweeper' },
  EINVAL: { verdict: 'unreachable', reason: 'address not usable from the sweeper' },
  ENOBUFS: { verdict: 'unreachable', reason: "the sweeper's neighbour table stayed full: no probe could be sent" },
};

/** A failure raised by the sweeper's own network stack, before any packet left (or when ARP/ND failed). */
export function diagnoseLocalError(errno: string): Reporter {
  const known = LOCAL_REASONS[errno];
  return {
    verdict: known?.verdict ?? 'unreachable',
    address: 'local',
    errno,
    reason: known?.reason ?? `local error ${errno}`,
  };
}

/**
 * Why an IPv6 target cannot be probed at all, or undefined when it can. A link-local address (fe80::/10) is only
 * meaningful with the interface it is on, which a sweep target cannot name: the kernel either picks an interface
 * of its own or fails the send with EINVAL, the errno it also uses for a full neighbour table. A multicast address
 * (ff00::/8) is a group, not a host: its members answer from their own addresses. Both end at once, before a packet
 * is sent, rather than being retried and slowing the whole sweep down as a full neighbour table does.
 *
 * `address` is IPv6 text (any case, compressed or not).
 */
export function diagnoseUnusableV6(address: string): Reporter | undefined {
  const colon = address.indexOf(':');
  // Only a first group of four hex digits can be ff00–ffff or fe80–febf ("fe8::" is 0x0fe8).
  if (colon !== 4) return undefined;
  const first = Number.parseInt(address.slice(0, 4), 16);
  if (first >= 0xff00) {
    return { verdict: 'unreachable', address: 'local', errno: 'EINVAL', reason: 'a multicast address is a group, not a host' };
  }
  if (first >= 0xfe80 && first <= 0xfebf) {
    return {
      verdict: 'unreachable',
      address: 'local',
      errno: 'EINVAL',
      reason: 'a link-local address needs the interface it is on, which a sweep target cannot name',
    };
  }
  return undefined;
}
