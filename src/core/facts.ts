/**
 * What a host's fact is: the one thing two sweeps are compared by, whoever compares them — "what changed since the
 * last sweep", `compare:NAME`, watches, the view from several agents. Equal facts are no change; different facts are.
 *
 * A fact is a host's state and each probed port's state, read for what they say about the host, not about when the
 * sweep ran. An address nobody holds is `silent` whether its probes timed out or its neighbour lookup had already
 * failed by then (the kernel keeps a failed ARP/ND entry a while, and answers at once for it): the same empty
 * address reads `silent` in one sweep and "host unreachable, said the sweeper's own address" three seconds later, and
 * behind a router `silent` or "host unreachable, said router" depending on the router's ~3 s ARP timeout. Those are
 * one fact. A route that went away (network unreachable), a firewall that says no (prohibited), a host that answers,
 * a port that opens or closes: those are facts of their own.
 *
 * The form is text, `alive 22/closed 5432/open` or `silent`, so that it can be stored (watches keep it in Redis, the
 * history in its records) and read back with `readFact`.
 */
import type { HostResult, PortResult } from './report.js';
import type { HostState, PortState, Reporter } from './states.js';
import { HOST_STATES, PORT_STATES } from './states.js';

/** The fact of a host that answers nothing (and of a host not on record). */
export const QUIET_FACT = 'silent';

/**
 * What `hostFact` reads of a host. `link` is absent for routed and loopback targets, and in reports made before it;
 * `icmp` and `unfinished` may be left out by a caller that has only states and ports (then an echo counts as sent).
 */
export type FactSource = Pick<HostResult, 'state' | 'ports' | 'reporter' | 'link'> & Partial<Pick<HostResult, 'icmp' | 'unfinished'>>;

/**
 * The word a fact ends with when no ICMP echo went to the host (its sweeper ran without ICMP: no raw socket, no ping
 * socket, or ZENSWEEP_ICMP=off): `alive_tcp_only 22/open icmp/unsent` is "TCP answered; ICMP not sent", not "ICMP
 * filtered". Written like a port's `PORT/STATE` so that a reader of before, which leaves out words it does not know,
 * reads the same state and ports. A silent host's fact stays `silent` (QUIET_FACT): watches know a host that
 * answers nothing by that one word.
 */
export const NO_ECHO_WORD = 'icmp/unsent';

/**
 * True when the sweep sent this host no ICMP echo at all: its state says nothing of ICMP (a TCP-only answer is not
 * "ICMP filtered", no answer is not "silent"). A host the sweep stopped before its probes ended is not counted: its
 * echo may simply not have gone yet.
 */
export function echoNotSent(host: Partial<Pick<HostResult, 'icmp' | 'unfinished'>>): boolean {
  return host.icmp !== undefined && host.icmp.sent === 0 && host.unfinished !== true;
}

/**
 * True when an "unreachable" answer only says that nothing answered the neighbour lookup (ARP, IPv6 neighbour
 * discovery) for the address, i.e. that nobody holds it, which is what a silent address says too:
 * - ICMP host unreachable (IPv4 type 3 code 1) or address unreachable (ICMPv6 type 1 code 3). RFC 1812 §5.2.7.1 and
 *   RFC 4443 §3.1 give these codes to the router attached to the target's own network when it cannot deliver there
 *   (its ARP/ND failed): the sweeper's own stack for an on-link target (the sender is its own address), the last
 *   router before the target otherwise. A router further away that has no route says network unreachable (code 0),
 *   and a firewall says prohibited: both stay facts. The sender is not checked: a router's ICMP error comes from
 *   its address towards the sweeper, not from the target's network, so the last router cannot be told from the
 *   address alone. The one sender of these codes that is not the last router is a Linux router's `unreachable`
 *   route (it answers code 1 too): behind one, "host unreachable" and silent are one fact as well.
 * - EHOSTUNREACH from the sweeper's own stack: a TCP connect whose neighbour lookup failed.
 */
export function saysNoNeighbour(reporter: Reporter | undefined): boolean {
  if (!reporter || reporter.verdict !== 'unreachable') return false;
  if (reporter.address === 'local') return reporter.errno === 'EHOSTUNREACH';
  if (reporter.icmpType === 3 && reporter.icmpCode === 1) return true;
  // ICMPv6 destination unreachable is type 1; its address-unreachable code is 3 (type 1 code 3 in IPv4 is not sent).
  return reporter.icmpType === 1 && reporter.icmpCode === 3;
}

function answers(state: HostState): boolean {
  return state === 'alive' || state === 'alive_tcp_only';
}

/**
 * The state a host's fact has: its own, except that a host which answered nothing and whose only word is a failed
 * neighbour lookup — or where nothing answered ARP/ND at all (`link: 'no_answer'`) — is `silent`.
 */
export function factState(host: Pick<HostResult, 'state' | 'reporter' | 'link'>): HostState {
  if (answers(host.state)) return host.state;
  if (host.link === 'no_answer') return 'silent';
  if (host.state === 'unreachable' && saysNoNeighbour(host.reporter)) return 'silent';
  return host.state;
}

/**
 * What a port's result says as a fact: `unreachable` after a failed neighbour lookup is `filtered` (no answer, as
 * on the sweep before the lookup failed); undefined when the sweep stopped before the probe ended (no verdict).
 */
export function portFact(port: Pick<PortResult, 'state' | 'reporter' | 'unanswered'>): PortState | undefined {
  if (port.unanswered) return undefined;
  if (port.state === 'unreachable' && saysNoNeighbour(port.reporter)) return 'filtered';
  return port.state;
}

/**
 * A host's fact as one comparable string: `silent` for a host that answers nothing (see `factState`), else its state
 * and each probed port's fact in port order (`alive 22/closed 5432/open`). Equal strings mean no change.
 */
export function hostFact(host: FactSource): string {
  const state = factState(host);
  if (state === 'silent') return QUIET_FACT;
  const ports: string[] = [];
  for (const port of [...host.ports].sort((a, b) => a.port - b.port)) {
    const fact = portFact(port);
    if (fact) ports.push(`${port.port}/${fact}`);
  }
  return [state, ...ports, ...(echoNotSent(host) ? [NO_ECHO_WORD] : [])].join(' ');
}

/** A fact read back: the host's state and each port's state (ports not probed, or without a verdict, are absent). */
export interface ReadFact {
  state: HostState;
  ports: Map<number, PortState>;
  /** False when the fact says no ICMP echo was sent (NO_ECHO_WORD): its state then says nothing of ICMP. */
  echo: boolean;
}

/** Whether a fact's TCP ports answered (open or closed): what a sweep without ICMP can know of a host. */
export function answersTcp(fact: ReadFact): boolean {
  return [...fact.ports.values()].some((state) => state === 'open' || state === 'closed');
}

/**
 * Whether two facts of one host differ only in what ICMP was asked: one of them had no echo sent, and what both
 * could see — whether TCP answered, and each port both probed — is the same. `alive 22/open` then and
 * `alive_tcp_only 22/open icmp/unsent` now is no change of the host: ICMP was simply not sent the second time.
 */
export function differsOnlyByEcho(a: ReadFact, b: ReadFact): boolean {
  if (a.echo && b.echo) return false;
  if (answersTcp(a) !== answersTcp(b)) return false;
  for (const [port, state] of a.ports) {
    const other = b.ports.get(port);
    if (other !== undefined && other !== state) return false;
  }
  // Without a TCP answer on either side, only ICMP could have told; a state other than silent or TCP-only on the
  // echo-less side (prohibited, unreachable) is a fact of its own.
  const echoLess = a.echo ? b : a;
  const other = a.echo ? a : b;
  if (answersTcp(a)) return true;
  return echoLess.state === 'silent' && (other.state === 'alive' || other.state === 'silent');
}

/**
 * Whether two facts say the same of a host: the same words, or (differsOnlyByEcho) the same but for ICMP that one
 * sweep did not send.
 */
export function sameFacts(a: string, b: string): boolean {
  return a === b || differsOnlyByEcho(readFact(a), readFact(b));
}

/**
 * Reads a fact written by `hostFact`, or by the watches' signatures and history records of before (the same form,
 * or a state alone). What it does not know (a word that is neither a state nor `PORT/STATE`) is left out, so a
 * stored fact never makes a reader fail; an unknown state reads as `silent`.
 */
export function readFact(fact: string): ReadFact {
  const [first, ...rest] = fact.split(' ');
  const state = (HOST_STATES as readonly string[]).includes(first ?? '') ? (first as HostState) : 'silent';
  const ports = new Map<number, PortState>();
  let echo = true;
  for (const part of rest) {
    if (part === NO_ECHO_WORD) echo = false;
    const [port, portState] = part.split('/');
    const number = Number(port);
    if (Number.isInteger(number) && (PORT_STATES as readonly string[]).includes(portState ?? '')) ports.set(number, portState as PortState);
  }
  return { state, ports, echo };
}
