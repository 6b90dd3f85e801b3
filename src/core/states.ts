/**
 * The vocabulary used everywhere (engine, JSON, CLI, Slack); README, "Reading the report", says what each state means.
 * Order matters: it is the order in which reports list the groups.
 */
export const HOST_STATES = ['alive', 'alive_tcp_only', 'prohibited', 'unreachable', 'silent'] as const;
export type HostState = (typeof HOST_STATES)[number];

export const PORT_STATES = ['open', 'closed', 'filtered', 'unreachable', 'prohibited'] as const;
/**
 * `open`: connected. `closed`: refused with RST, which proves the host is there. `filtered`: no answer before the
 * timeout. `unreachable`: an ICMP unreachable or a local EHOSTUNREACH/ENETUNREACH. `prohibited`: an ICMP
 * administratively-prohibited answer was seen for this very connection attempt.
 */
export type PortState = (typeof PORT_STATES)[number];

/** Who answered on behalf of a host that could not be reached, and what it said. */
export interface Reporter {
  /** What the answer means for the host: a firewall said no, or there is no way there. */
  verdict: 'prohibited' | 'unreachable';
  /** Source address of the ICMP error, or `local` when the sweeper's own stack refused (no route, ARP failure). */
  address: string;
  /** ICMP type and code as received (absent for local socket errors). */
  icmpType?: number;
  icmpCode?: number;
  /** Errno for local failures, e.g. `ENETUNREACH`. */
  errno?: string;
  /** Human reading, e.g. `host unreachable`, `communication administratively prohibited`. */
  reason: string;
}
