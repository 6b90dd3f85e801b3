/**
 * The words every view uses for a report: state names, who sent an ICMP error, echo statistics, TCP evidence,
 * times. Plain text: the terminal prints it as it is, Slack escapes it.
 */
import type { AnyReport, HostResult, IcmpMode, IcmpOffReason, IcmpStatus, PortResult, SweepReport, SweepSummary } from '../core/report.js';
import {
  ALL_GROUPS,
  ICMP_OFF_WHY,
  agentsWithoutIcmp,
  agentsWithoutIcmpByReason,
  emptyCounts,
  icmpModeOf,
  icmpOffReason,
  isDistributed,
} from '../core/report.js';
import { echoNotSent } from '../core/facts.js';
import type { PortChange, ProbeSet, SweepDiff } from '../core/diff-model.js';
import type { HostState, Reporter } from '../core/states.js';
import { addressCount, describeResolverError, formatCount, formatDuration } from '../core/format.js';
import type { Vantages } from '../core/request.js';

/** Section titles, one per state. */
export const STATE_TITLES: Record<HostState, string> = {
  alive: 'Alive',
  alive_tcp_only: 'TCP only, ICMP filtered',
  prohibited: 'Prohibited by a firewall',
  unreachable: 'Unreachable',
  silent: 'Silent',
};

/** Words for a count of hosts in a state: `3 TCP only`. */
export const STATE_WORDS: Record<HostState, string> = {
  alive: 'alive',
  alive_tcp_only: 'TCP only',
  prohibited: 'prohibited',
  unreachable: 'unreachable',
  silent: 'silent',
};

/**
 * When no ICMP could be sent (ICMP mode off), a host that answered TCP did not "filter" ICMP, and one that answered
 * nothing was not probed by ICMP at all: these say so, never "ICMP filtered" nor "silent".
 */
const TITLES_WITHOUT_ICMP: Partial<Record<HostState, string>> = {
  alive_tcp_only: 'TCP answered; ICMP not sent',
  silent: 'Not probed by ICMP',
};
const WORDS_WITHOUT_ICMP: Partial<Record<HostState, string>> = {
  alive_tcp_only: 'TCP answered',
  silent: 'not probed by ICMP',
};

/** A section's title for a state, as the report's ICMP mode lets it be said. */
export function stateTitle(state: HostState, icmp?: IcmpStatus): string {
  if (icmp && icmpModeOf(icmp) === 'off') return TITLES_WITHOUT_ICMP[state] ?? STATE_TITLES[state];
  return STATE_TITLES[state];
}

/** Words for a count of hosts in a state (`3 TCP only`), as the report's ICMP mode lets it be said. */
export function stateWords(state: HostState, icmp?: IcmpStatus): string {
  if (icmp && icmpModeOf(icmp) === 'off') return WORDS_WITHOUT_ICMP[state] ?? STATE_WORDS[state];
  return STATE_WORDS[state];
}

/**
 * A host's state in words (`TCP only`), as its own probes let it be said: a host no echo went to (its agent ran
 * without ICMP, in a report whose other agents sent it) is `TCP answered` or `not probed by ICMP`.
 */
export function hostStateWords(host: HostResult, icmp?: IcmpStatus): string {
  if (echoNotSent(host)) return WORDS_WITHOUT_ICMP[host.state] ?? STATE_WORDS[host.state];
  return stateWords(host.state, icmp);
}

/** A host's state as a section would title it, as its own probes let it be said (`TCP answered; ICMP not sent`). */
export function hostStateTitle(host: HostResult): string {
  return (echoNotSent(host) ? TITLES_WITHOUT_ICMP[host.state] : undefined) ?? STATE_TITLES[host.state];
}

/** A state section's title when some of its hosts got an echo and some did not (their agents probed differently). */
const MIXED_TITLES: Partial<Record<HostState, string>> = {
  alive_tcp_only: 'TCP only: ICMP filtered, or not sent',
  silent: 'Silent, or not probed by ICMP',
};

/**
 * The title of a section of `hosts` in one state. A report whose agents all probed alike is titled by its ICMP mode
 * (stateTitle); one whose agents differed (agentsWithoutIcmp), by its hosts: all without an echo, all with one, or
 * both (MIXED_TITLES, each host's line then saying which).
 */
export function sectionTitle(state: HostState, hosts: readonly HostResult[], report: AnyReport): string {
  if (agentsWithoutIcmp(report).length === 0) return stateTitle(state, report.icmp);
  const unsent = hosts.filter(echoNotSent).length;
  if (unsent === 0) return STATE_TITLES[state];
  if (unsent === hosts.length) return TITLES_WITHOUT_ICMP[state] ?? STATE_TITLES[state];
  return MIXED_TITLES[state] ?? STATE_TITLES[state];
}

/**
 * In a report whose agents probed differently (some without ICMP), the hosts of each state no echo went to, for the
 * counts (`1 TCP only · 2 TCP answered`); undefined for any other report, whose mode words every host alike.
 */
export function unsentCounts(report: AnyReport, hosts: readonly HostResult[] = report.hosts): Partial<Record<HostState, number>> | undefined {
  if (agentsWithoutIcmp(report).length === 0) return undefined;
  const counts: Partial<Record<HostState, number>> = {};
  for (const host of hosts) {
    if (!echoNotSent(host) || WORDS_WITHOUT_ICMP[host.state] === undefined) continue;
    const state = shownState(host);
    counts[state] = (counts[state] ?? 0) + 1;
  }
  return counts;
}

/**
 * What follows the agents that sent no ICMP in a report whose agents differed, by why: the setting named; the want
 * of a socket in the words it always had (their warning gives the fix).
 */
const OFF_AGENTS_WHY: Record<IcmpOffReason, string> = { setting: ICMP_OFF_WHY.setting, unavailable: 'TCP probes only' };

/** `prod-b (ZENSWEEP_ICMP=off)`, `prod-b, prod-c (TCP probes only)`, or both joined by `and`. */
function offAgentsWords(report: AnyReport): string {
  return agentsWithoutIcmpByReason(report)
    .map(({ reason, agents }) => `${agents.join(', ')} (${OFF_AGENTS_WHY[reason]})`)
    .join(' and ');
}

/**
 * With `dns:on`, what reverse DNS gave: "PTR names: 5 of 6 hosts that answered" and the lookups that failed, by why
 * (the first reason, e.g. "1 lookup failed: name resolution timed out (ETIMEOUT)"). Absent without dns:on.
 */
export function ptrWords(report: AnyReport): string | undefined {
  if (!report.options.dns) return undefined;
  const answered = report.hosts.filter((h) => h.state === 'alive' || h.state === 'alive_tcp_only');
  if (answered.length === 0) return 'PTR names: no host answered, none looked up';
  const named = answered.filter((h) => h.ptr !== undefined).length;
  const failed = answered.filter((h) => h.ptrError !== undefined);
  const failure =
    failed.length > 0
      ? ` · ${formatCount(failed.length)} lookup${failed.length === 1 ? '' : 's'} failed: ${describeResolverError(failed[0]?.ptrError ?? '')}`
      : '';
  return `PTR names: ${formatCount(named)} of ${formatCount(answered.length)} host${answered.length === 1 ? '' : 's'} that answered${failure}`;
}

/**
 * The ICMP part of a report's footer: its mode (`ICMP: raw socket`), or, when its agents differed, who ran without
 * it: `ICMP: off on lab-b (ZENSWEEP_ICMP=off), sent by the other agents`.
 */
export function reportIcmpFooter(report: AnyReport): string {
  if (agentsWithoutIcmp(report).length === 0) return icmpFooter(report.icmp);
  return `ICMP: off on ${offAgentsWords(report)}, sent by the other agents`;
}

/**
 * What a report whose agents probed differently says first about ICMP: which agents sent none and why, and how their
 * hosts are worded. Undefined for any other report.
 */
export function mixedIcmpNote(report: AnyReport): string | undefined {
  const without = agentsWithoutIcmp(report);
  if (without.length === 0 || !isDistributed(report)) return undefined;
  const who = without.length === 1 ? 'agent' : 'agents';
  const others = [...new Set(report.chunks.filter((c) => c.icmpMode !== 'off').map((c) => c.agentId))].sort();
  return (
    `ICMP not sent by ${who} ${offAgentsWords(report)}: ${without.length === 1 ? 'its' : 'their'} hosts are said by what ` +
    `TCP answered; ${others.join(', ')} sent ICMP.`
  );
}

/**
 * A report's ICMP warning as a note (`Warning: …`); where its agents differed, named after the agents it is from: the
 * first without ICMP (by chunk index) gave it, and those off for the same reason with it.
 */
export function icmpWarningNote(report: AnyReport): string | undefined {
  const warning = report.icmp.warning;
  if (!warning) return undefined;
  const groups = agentsWithoutIcmpByReason(report);
  if (groups.length === 0 || !isDistributed(report)) return `Warning: ${warning}`;
  const first = [...report.chunks].sort((a, b) => a.index - b.index).find((c) => c.icmpMode === 'off');
  const reason = icmpOffReason({ reason: first?.icmpReason });
  const from = groups.find((group) => group.reason === reason)?.agents ?? groups.flatMap((group) => group.agents);
  return `Warning from ${from.join(', ')}: ${warning}`;
}

/** How the sweep sent ICMP, for a report's footer: `ICMP: ping socket`. */
export const ICMP_FOOTER: Record<IcmpMode, string> = {
  raw: 'ICMP: raw socket',
  ping: 'ICMP: ping socket (no privilege)',
  off: 'ICMP: off, TCP probes only',
};

/** The footer's words for a report's ICMP mode; off by the setting names it: `ICMP: off (ZENSWEEP_ICMP=off), …`. */
export function icmpFooter(icmp: IcmpStatus): string {
  const mode = icmpModeOf(icmp);
  if (mode === 'off' && icmpOffReason(icmp) === 'setting') return `ICMP: off (${ICMP_OFF_WHY.setting}), TCP probes only`;
  return ICMP_FOOTER[mode];
}

/**
 * The order a report reads in: the problems first (a firewall says no, no way there, ICMP filtered), then what
 * answers, then what is silent.
 */
export const READING_ORDER: readonly HostState[] = ['prohibited', 'unreachable', 'alive_tcp_only', 'alive', 'silent'];

/** What is said of an on-link address where nothing answered ARP/ND, one host or several. */
export const NOTHING_THERE = { one: 'nothing at this address', several: 'nothing at these addresses' } as const;

/**
 * The state a host is shown in. An on-link address where nothing answered ARP/ND is empty, whether its probes timed
 * out (silent) or the sweeper's own stack said "host unreachable" once its neighbour lookup failed: one fact, so it is
 * shown one way, as silent ("nothing at this address"). Everything else is shown as the engine found it.
 */
export function shownState(host: HostResult): HostState {
  return host.link === 'no_answer' && host.state === 'unreachable' ? 'silent' : host.state;
}

/** The report's counts as the views show them (shownState): the summary, with empty on-link addresses silent. */
export function shownSummary(report: AnyReport): SweepSummary {
  if (!report.hosts.some((host) => host.link === 'no_answer' && host.state === 'unreachable')) return report.summary;
  const counts = emptyCounts();
  for (const host of report.hosts) counts[shownState(host)] += 1;
  return { ...counts, total: report.summary.total };
}

/**
 * What is said of a host on the link that answered ARP/ND and nothing else: `on the link (MAC 02:42:ac:11:00:02): drops
 * ICMP and TCP` (the probed ports) — a host firewall (a security group), not an empty address. Short enough for one
 * host's line to fit two rows of a phone, an IPv6 address included.
 */
export function dropsWords(host: HostResult): string {
  const mac = host.mac ? ` (MAC ${host.mac})` : '';
  const dropped = [...(host.icmp.sent > 0 ? ['ICMP'] : []), ...(host.ports.length > 0 ? ['TCP'] : [])];
  return `on the link${mac}: drops ${dropped.length > 0 ? dropped.join(' and ') : 'every probe'}`;
}

/**
 * `12 alive · 3 TCP only · 1 prohibited · 238 silent`: only the states that occurred, in the states' order. `icmp`:
 * the report's, so that a sweep that sent no ICMP says `3 TCP answered · 251 not probed by ICMP`.
 */
export function countsLine(summary: SweepSummary, icmp?: IcmpStatus, unsent?: Partial<Record<HostState, number>>): string {
  const parts: string[] = [];
  for (const state of Object.keys(STATE_WORDS) as HostState[]) {
    // A report whose agents differed (unsentCounts): hosts no echo went to are counted in their own words.
    const without = unsent?.[state] ?? 0;
    const count = summary[state] - without;
    if (count > 0) parts.push(`${formatCount(count)} ${unsent ? STATE_WORDS[state] : stateWords(state, icmp)}`);
    if (without > 0) parts.push(`${formatCount(without)} ${WORDS_WITHOUT_ICMP[state] ?? STATE_WORDS[state]}`);
  }
  return parts.length > 0 ? parts.join(' · ') : 'no hosts';
}

/** `12 alive · 3 TCP only · 1 prohibited · 238 silent · 1.1 s`. */
export function summaryLine(summary: SweepSummary, durationMs: number, icmp?: IcmpStatus, unsent?: Partial<Record<HostState, number>>): string {
  return `${countsLine(summary, icmp, unsent)} · ${formatDuration(durationMs)}`;
}

/** Milliseconds as a person reads them: `0.37 ms`, `4.2 ms`, `15 ms`. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}

function formatMsBare(ms: number): string {
  return formatMs(ms).slice(0, -3);
}

/**
 * Who sent an ICMP error, named as what it is: the host itself, this machine or the agent (its own stack: no route,
 * or no ARP answer on its own link), or a router on the path.
 */
export function senderWords(reporter: Reporter, hostIp: string, sweeper: string): string {
  if (reporter.address === 'local') return `${sweeper}'s own stack`;
  if (reporter.address === hostIp) return 'the host itself';
  if (sameLink(reporter.address, hostIp)) return `${reporter.address} on its link`;
  return `router ${reporter.address}`;
}

/**
 * Two IPv4 addresses in one /24: an ICMP error about an on-link host comes from a machine on that link (the
 * sender's own stack when ARP fails); a router's comes from its side of the path, another network.
 */
function sameLink(a: string, b: string): boolean {
  const prefix = (ip: string): string | undefined => (/^\d+\.\d+\.\d+\.\d+$/.test(ip) ? ip.slice(0, ip.lastIndexOf('.')) : undefined);
  const pa = prefix(a);
  return pa !== undefined && pa === prefix(b);
}

/** What the sweeper's own stack said, short: the sender is named after it. */
const LOCAL_WORDS: Record<string, string> = {
  ENETUNREACH: 'no route',
  EHOSTUNREACH: 'no route to host',
  EPERM: 'refused by its firewall',
  EACCES: 'prohibited on the way',
  EADDRNOTAVAIL: 'address not usable',
  EINVAL: 'address not usable',
};

/** ICMP's longest words, as short as they can be and still say the same. */
const SHORT_REASONS: Record<string, string> = {
  'communication administratively prohibited': 'admin prohibited',
  'host administratively prohibited': 'host admin prohibited',
  'network administratively prohibited': 'network admin prohibited',
};

/** `host unreachable, said router 198.18.0.254`; `no route, said the agent's own stack`. */
export function reporterWords(reporter: Reporter, hostIp: string, sweeper: string): string {
  // The errno stays in --json; its words say the same here.
  const known = reporter.address === 'local' && reporter.errno ? LOCAL_WORDS[reporter.errno] : undefined;
  const words = SHORT_REASONS[reporter.reason] ?? reporter.reason;
  const reason = known ?? (reporter.errno ? `${words} (${reporter.errno})` : words);
  return `${reason}, said ${senderWords(reporter, hostIp, sweeper)}`;
}

/** `rtt 0.37 ms` for one echo; `0% loss · 0.31/0.37/0.52 ms` (min/avg/max) for several. */
export function echoWords(host: HostResult): string {
  const { icmp } = host;
  if (icmp.sent === 0) return 'no echo sent';
  if (!icmp.rtt) return `no echo reply (${icmp.sent} sent)`;
  if (icmp.sent === 1) return `rtt ${formatMs(icmp.rtt.avg)}`;
  const { min, avg, max } = icmp.rtt;
  return `${icmp.lossPct}% loss · ${formatMsBare(min)}/${formatMsBare(avg)}/${formatMs(max)}`;
}

function portsWords(ports: readonly PortResult[], state: 'open' | 'closed'): string {
  const numbers = ports.map((p) => p.port).join(', ');
  const only = ports.length === 1 ? ports[0] : undefined;
  return only?.ms !== undefined ? `${numbers} ${state} ${formatMs(only.ms)}` : `${numbers} ${state}`;
}

/**
 * The TCP results that matter: open ports; closed ones (an RST) only when they are the evidence that the host is
 * there, i.e. when nothing else answered.
 */
export function tcpEvidence(host: HostResult): string | undefined {
  const open = host.ports.filter((p) => p.state === 'open');
  if (open.length > 0) return portsWords(open, 'open');
  const closed = host.ports.filter((p) => p.state === 'closed');
  if (host.state === 'alive_tcp_only' && closed.length > 0) return portsWords(closed, 'closed');
  return undefined;
}

/** What a host's line says after its address, for alive and TCP-only hosts: TCP results first, then echoes. */
export function answerWords(host: HostResult): string {
  const parts: string[] = [];
  const tcp = tcpEvidence(host);
  if (tcp) parts.push(tcp);
  if (host.state === 'alive') parts.push(echoWords(host));
  return parts.join(' · ');
}

/** `5432/tcp open → closed`. */
export function portChangeWords(change: PortChange): string {
  return `${change.port}/tcp ${change.from} → ${change.to}`;
}

/**
 * A change of fact without its address: `alive → TCP only`, `5432/tcp open → closed`, or both, comma separated.
 * `brief`: several ports are counted, not listed (`alive → TCP only, 3 ports changed`), for a phone's line.
 */
export function changeWords(change: SweepDiff['changed'][number], brief = false): string {
  const parts: string[] = [];
  if (change.from !== change.to) parts.push(`${STATE_WORDS[change.from]} → ${STATE_WORDS[change.to]}`);
  const ports = change.ports ?? [];
  if (brief && ports.length > 1) parts.push(`${ports.length} ports changed`);
  else for (const port of ports) parts.push(portChangeWords(port));
  return parts.join(', ');
}

/** The targets as a headline says them: `vpc:all` with the networks it swept, `vpc:all (10.0.0.0/16, 10.1.0.0/16)`. */
export function targetsWords(targets: readonly string[]): string {
  const [first, ...rest] = targets;
  if (first === ALL_GROUPS && rest.length > 0) return `${first} (${rest.join(', ')})`;
  return targets.join(' ');
}

/** `tcp:22,5432 count:3`, or `no TCP port` for an ICMP-only sweep with one echo. */
export function probeWords(probed: ProbeSet): string {
  const parts: string[] = [probed.ports.length > 0 ? `tcp:${probed.ports.join(',')}` : 'no TCP port'];
  if (probed.count !== 1) parts.push(`count:${probed.count}`);
  return parts.join(' ');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `14:02 UTC` on the day of `now`, `Nov 29 14:02 UTC` before. */
export function clockTime(at: string, now: Date): string {
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return at;
  const hhmm = date.toISOString().slice(11, 16);
  const sameDay = date.toISOString().slice(0, 10) === now.toISOString().slice(0, 10);
  return sameDay ? `${hhmm} UTC` : `${MONTHS[date.getUTCMonth()] ?? ''} ${date.getUTCDate()} ${hhmm} UTC`;
}

/** `just now`, `12 min ago`, `3 h ago`, `2 days ago`. */
export function timeAgo(at: string, now: Date): string {
  const ms = now.getTime() - Date.parse(at);
  if (!Number.isFinite(ms) || ms < 60_000) return 'just now';
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

/** When a report finished: the moment "12 min ago" is counted from. */
export function finishedAt(report: SweepReport): Date {
  return new Date(Date.parse(report.startedAt) + report.durationMs);
}

export function packetTotals(report: SweepReport): { echoesSent: number; echoesReceived: number; tcpAttempts: number } {
  let echoesSent = 0;
  let echoesReceived = 0;
  let tcpAttempts = 0;
  for (const host of report.hosts) {
    echoesSent += host.icmp.sent;
    echoesReceived += host.icmp.received;
    for (const port of host.ports) tcpAttempts += port.attempts;
  }
  return { echoesSent, echoesReceived, tcpAttempts };
}

/**
 * What sweeping from several vantages costs, said before it runs: `from 2 agents (lab-a, lab-b): 2× the probes,
 * 254 addresses each (508 in all), each at its own agent's rate`.
 */
export function vantageCost(names: readonly string[], addresses: number, probes: number, from: Vantages | undefined): string {
  const what = from === 'each' ? 'groups' : 'agents';
  const each = addresses > 0 ? `, ${addressCount(addresses)} each (${formatCount(probes)} in all)` : '';
  const rate = from === 'each' ? "each group at its own agents' rate" : "each at its own agent's rate";
  return `from ${names.length} ${what} (${names.join(', ')}): ${names.length}× the probes${each}, ${rate}`;
}
