/**
 * What a report says, in the order it says it, before any markup: the terminal text and the Slack blocks render
 * this same outline. Hosts with the same state, reason and sender are one fact with a list of address runs.
 */
import type { AnyReport, HostResult } from '../core/report.js';
import { isDistributed, partialCause, partialWords, shownNames, summarize } from '../core/report.js';
import { compareVantages } from '../core/vantage.js';
import type { Disagreement } from '../core/vantage.js';
import type { ProbeSet, SweepDiff } from '../core/diff-model.js';
import type { HostState } from '../core/states.js';
import { addressToBigInt } from '../core/targets.js';
import { addressCount, formatCount } from '../core/format.js';
import {
  answerWords,
  changeWords,
  clockTime,
  countsLine,
  dropsWords,
  hostStateWords,
  icmpWarningNote,
  mixedIcmpNote,
  NOTHING_THERE,
  READING_ORDER,
  reporterWords,
  shownState,
  sectionTitle,
  shownSummary,
  STATE_WORDS,
  timeAgo,
  unsentCounts,
} from './words.js';
import { agentsWithoutIcmp } from '../core/report.js';
import { echoNotSent } from '../core/facts.js';

/** Consecutive addresses: one host when `count` is 1. IPv4 runs stay within one /24. */
export interface AddressRun {
  first: string;
  last: string;
  count: number;
}

/** One fact: some hosts, and what is true of all of them. */
export interface FactLine {
  runs: AddressRun[];
  /** Host names of a single host, when the target was a name. */
  names?: string[];
  /** What is true of these hosts (empty for silent ones). */
  detail: string;
  /** Hosts in the runs. */
  hosts: number;
}

export interface StateSection {
  state: HostState;
  title: string;
  /** Hosts in this state. */
  count: number;
  lines: FactLine[];
}

/** One kind of change: `went silent`, with the hosts in groups that share a note (`now unreachable`). */
export interface ChangeLine {
  what: 'appeared' | 'went silent' | 'changed' | 'not compared';
  hosts: number;
  /** `brief`: the note in fewer words, when it has them (several ports counted, not listed), for a phone. */
  groups: { runs: AddressRun[]; note?: string; brief?: string }[];
}

export interface ChangesOutline {
  /** `Since 14:02 UTC (12 min ago)` or `Against baseline before-cutover, Nov 29 14:02 UTC`. */
  title: string;
  /** `1 appeared · 2 went silent`, or `no change in 254 hosts`. */
  counts: string;
  /** When the two sweeps probed differently: `tcp:5432 then, no TCP port now`. */
  probed?: string;
  lines: ChangeLine[];
}

/** Folds addresses into runs, in address order (IPv4 first); IPv4 runs do not cross a /24. */
export function addressRuns(addresses: readonly string[]): AddressRun[] {
  const parsed = addresses.map((text) => ({ text, ...addressToBigInt(text) }));
  parsed.sort((a, b) => a.family - b.family || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  const runs: AddressRun[] = [];
  let start = 0;
  for (let i = 1; i <= parsed.length; i += 1) {
    const prev = parsed[i - 1];
    const next = parsed[i];
    const continues =
      prev !== undefined &&
      next !== undefined &&
      next.family === prev.family &&
      next.value === prev.value + 1n &&
      (next.family !== 4 || next.value >> 8n === prev.value >> 8n);
    if (continues) continue;
    const first = parsed[start];
    if (first && prev) runs.push({ first: first.text, last: prev.text, count: i - start });
    start = i;
  }
  return runs;
}

/** `198.18.0.` for an IPv4 address, undefined for IPv6. */
function v4Prefix(ip: string): string | undefined {
  return /^\d+\.\d+\.\d+\.\d+$/.test(ip) ? ip.slice(0, ip.lastIndexOf('.') + 1) : undefined;
}

/**
 * Runs as text, the common /24 prefix written once: `198.18.0.2-9, .13-19, 198.18.1.4`. `dash` joins a run's
 * ends (the terminal uses `-`; Slack a dash that never ends a phone line).
 */
export function runsText(runs: readonly AddressRun[], dash = '-'): string[] {
  let previous: string | undefined;
  return runs.map((run) => {
    const prefix = v4Prefix(run.first);
    const first = prefix !== undefined && prefix === previous ? `.${run.first.slice(prefix.length)}` : run.first;
    previous = prefix;
    if (run.count === 1) return first;
    const last = prefix !== undefined ? run.last.slice(prefix.length) : run.last;
    return `${first}${dash}${last}`;
  });
}

/** What is said of a host whose probes the sweep stopped (past its time bound) before they ended. */
const UNFINISHED = 'unfinished: the sweep stopped first';

/** What is said of a host its agent sent no echo (in a report whose other agents sent one) that answered no TCP port. */
const NOT_ASKED = 'not probed by ICMP, no TCP answer';

/** What is said after a TCP-only host's answers in a report whose agents differed: why ICMP did not answer. */
function echoNote(host: HostResult): string {
  return echoNotSent(host) ? 'ICMP not sent' : 'ICMP filtered';
}

/** Who runs the probes, for "said the agent's own stack". */
function sweeperOf(report: AnyReport): string {
  return isDistributed(report) ? 'the agent' : 'this machine';
}

function hostLine(host: Pick<HostResult, 'ip' | 'names' | 'ptr'>, detail: string): FactLine {
  const names = shownNames(host);
  return { runs: [{ first: host.ip, last: host.ip, count: 1 }], ...(names ? { names } : {}), detail, hosts: 1 };
}

/** Hosts that share a fact: one line, a single host's with its names. */
function groupLine(detail: string, group: readonly HostResult[]): FactLine {
  const only = group.length === 1 ? group[0] : undefined;
  return only ? hostLine(only, detail) : { runs: addressRuns(group.map((h) => h.ip)), detail, hosts: group.length };
}

/** Hosts by what is said of them, in the order first met. */
function byDetail(hosts: readonly HostResult[], detailOf: (host: HostResult) => string): FactLine[] {
  const facts = new Map<string, HostResult[]>();
  for (const host of hosts) {
    const detail = detailOf(host);
    const group = facts.get(detail);
    // Pushed, not copied: a /16 whose router says "host unreachable" for every address is one group of 65,534.
    if (group) group.push(host);
    else facts.set(detail, [host]);
  }
  return [...facts].map(([detail, group]) => groupLine(detail, group));
}

/**
 * Silent hosts, as four facts: on the link and dropping every probe (a host firewall: each with its MAC), silent with
 * nothing known of the link (a routed target), nothing at the address (an on-link address where nothing answered
 * ARP/ND), and hosts whose probes the sweep stopped before they ended (not known to be silent).
 */
function silentLines(hosts: readonly HostResult[], mixed = false): FactLine[] {
  const drops: HostResult[] = [];
  const plain: HostResult[] = [];
  const notAsked: HostResult[] = [];
  const empty: HostResult[] = [];
  const unfinished: HostResult[] = [];
  for (const host of hosts) {
    if (host.unfinished) unfinished.push(host);
    else if (host.link === 'answered') drops.push(host);
    else if (host.link === 'no_answer') empty.push(host);
    else if (mixed && echoNotSent(host)) notAsked.push(host);
    else plain.push(host);
  }
  const lines = byDetail(drops, dropsWords);
  if (plain.length > 0) lines.push({ runs: addressRuns(plain.map((h) => h.ip)), detail: mixed ? 'silent' : '', hosts: plain.length });
  // Agents differed: a host its agent sent no echo answered no TCP port either, and that is all that is known.
  if (notAsked.length > 0) lines.push({ runs: addressRuns(notAsked.map((h) => h.ip)), detail: NOT_ASKED, hosts: notAsked.length });
  if (empty.length > 0) lines.push(groupLine(empty.length === 1 ? NOTHING_THERE.one : NOTHING_THERE.several, empty));
  if (unfinished.length > 0) lines.push({ runs: addressRuns(unfinished.map((h) => h.ip)), detail: UNFINISHED, hosts: unfinished.length });
  return lines;
}

/**
 * The report's hosts by state (as shown: shownState), in reading order. Prohibited and unreachable hosts are grouped
 * by what was said and who said it; silent hosts by what is known of them (silentLines); alive and TCP-only hosts
 * have a line each.
 */
export function stateSections(report: AnyReport): StateSection[] {
  const sweeper = sweeperOf(report);
  const byState = new Map<HostState, HostResult[]>(READING_ORDER.map((s) => [s, []]));
  for (const host of report.hosts) byState.get(shownState(host))?.push(host);
  const sections: StateSection[] = [];
  // Agents that probed differently (some without ICMP): a section may hold hosts of both, each line says which.
  const mixed = agentsWithoutIcmp(report).length > 0;
  for (const state of READING_ORDER) {
    const hosts = byState.get(state) ?? [];
    if (hosts.length === 0) continue;
    const title = sectionTitle(state, hosts, report);
    const both = mixed && hosts.some(echoNotSent) && !hosts.every(echoNotSent);
    let lines: FactLine[];
    if (state === 'silent') {
      lines = silentLines(hosts, both);
    } else if (state === 'prohibited' || state === 'unreachable') {
      lines = byDetail(hosts, (host) => {
        const said = host.reporter ? reporterWords(host.reporter, host.ip, sweeper) : 'no sender known';
        return host.unfinished ? `${said} (${UNFINISHED})` : said;
      });
      // The largest fact first: 256 hosts a router calls unreachable before the one the firewall rejects.
      lines.sort((a, b) => b.hosts - a.hosts);
    } else {
      lines = hosts.map((host) => {
        const answer = both && state === 'alive_tcp_only' ? `${answerWords(host)} · ${echoNote(host)}` : answerWords(host);
        return hostLine(host, host.unfinished ? `${answer} (${UNFINISHED})` : answer);
      });
    }
    sections.push({ state, title, count: hosts.length, lines });
  }
  return sections;
}

/**
 * What ICMP not sent by one of two sweeps left uncompared: `ICMP not sent now, alive then`, `ICMP not sent then,
 * alive now`.
 */
function echoNotComparedNote(entry: NonNullable<SweepDiff['echoNotCompared']>[number]): string {
  return entry.unsent === 'now' ? `ICMP not sent now, ${STATE_WORDS[entry.then]} then` : `ICMP not sent then, ${STATE_WORDS[entry.now]} now`;
}

function changeLines(diff: SweepDiff, hostOf: (ip: string) => HostResult | undefined = () => undefined): ChangeLine[] {
  const grouped = (what: ChangeLine['what'], entries: { ip: string; note?: string; brief?: string }[]): ChangeLine | undefined => {
    if (entries.length === 0) return undefined;
    const notes = new Map<string, { ips: string[]; brief?: string }>();
    for (const entry of entries) {
      const group = notes.get(entry.note ?? '');
      if (group) group.ips.push(entry.ip);
      else notes.set(entry.note ?? '', { ips: [entry.ip], ...(entry.brief !== undefined && entry.brief !== entry.note ? { brief: entry.brief } : {}) });
    }
    return {
      what,
      hosts: entries.length,
      groups: [...notes].map(([note, { ips, brief }]) => ({ runs: addressRuns(ips), ...(note ? { note } : {}), ...(brief ? { brief } : {}) })),
    };
  };
  // A host its agent sent no echo is said as such (`now TCP answered`), never "TCP only" for ICMP it was not asked.
  const now = (ip: string, state: HostState, usual: HostState): string | undefined => {
    const host = hostOf(ip);
    const unsent = host !== undefined && echoNotSent(host) && host.state === state;
    if (state === usual && !unsent) return undefined;
    return `now ${unsent && host ? hostStateWords(host) : STATE_WORDS[state]}`;
  };
  return [
    grouped('appeared', diff.appeared.map(([ip, state]) => ({ ip, note: now(ip, state, 'alive') }))),
    grouped('went silent', diff.wentSilent.map(([ip, state]) => ({ ip, note: now(ip, state, 'silent') }))),
    grouped('changed', diff.changed.map((c) => ({ ip: c.ip, note: changeWords(c), brief: changeWords(c, true) }))),
    grouped(
      'not compared',
      [
        ...(diff.notCompared ?? []).map((h) => ({ ip: h.ip, note: `answered on tcp:${h.ports.join(',')} then, not probed now` })),
        ...(diff.echoNotCompared ?? []).map((h) => ({ ip: h.ip, note: echoNotComparedNote(h) })),
      ],
    ),
  ].filter((line): line is ChangeLine => line !== undefined);
}

function countsOf(lines: readonly ChangeLine[], unchanged: number): string {
  const counted = lines.filter((l) => l.what !== 'not compared');
  const notCompared = lines.find((l) => l.what === 'not compared')?.hosts ?? 0;
  // Every host left uncompared (probed otherwise, or ICMP not sent by one sweep): that, not "no change in 0 hosts".
  if (counted.length === 0 && unchanged === 0 && notCompared > 0) return `${formatCount(notCompared)} not compared`;
  if (counted.length === 0) return `no change in ${formatCount(unchanged)} host${unchanged === 1 ? '' : 's'}`;
  return counted.map((l) => `${formatCount(l.hosts)} ${l.what}`).join(' · ');
}

/** What the earlier sweep probed differently, and only that: `tcp:5432 then, no TCP port now`. */
function probedNote(probedBefore: ProbeSet | undefined, report: AnyReport): string | undefined {
  if (!probedBefore) return undefined;
  const parts: string[] = [];
  const ports = (list: readonly number[]): string => (list.length > 0 ? `tcp:${list.join(',')}` : 'no TCP port');
  if (probedBefore.ports.join(',') !== report.options.ports.join(',')) {
    parts.push(`${ports(probedBefore.ports)} then, ${ports(report.options.ports)} now`);
  }
  if (probedBefore.count !== report.options.count) parts.push(`count:${probedBefore.count} then, count:${report.options.count} now`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** `Since 14:02 UTC (12 min ago)`; the time alone when it was less than a minute before. */
function sinceTitle(since: string, now: Date): string {
  const ago = timeAgo(since, now);
  return ago === 'just now' ? `Since ${clockTime(since, now)}` : `Since ${clockTime(since, now)} (${ago})`;
}

/** What changed since the last sweep of the same targets, and against a baseline, with times relative to `now`. */
export function changesOutlines(report: AnyReport, now: Date): ChangesOutline[] {
  if (!isDistributed(report)) return [];
  const outlines: ChangesOutline[] = [];
  const hosts = new Map(report.hosts.map((host) => [host.ip, host]));
  const hostOf = (ip: string): HostResult | undefined => hosts.get(ip);
  if (report.changes) {
    const { since, diff, probedBefore } = report.changes;
    const lines = changeLines(diff, hostOf);
    const probed = probedNote(probedBefore, report);
    outlines.push({
      title: sinceTitle(since, now),
      counts: countsOf(lines, diff.unchanged),
      ...(probed ? { probed } : {}),
      lines,
    });
  }
  if (report.baseline) {
    const { name, at, diff, probedBefore } = report.baseline;
    const lines = changeLines(diff, hostOf);
    const probed = probedNote(probedBefore, report);
    outlines.push({
      title: `Against baseline ${name}, ${clockTime(at, now)}`,
      counts: countsOf(lines, diff.unchanged),
      ...(probed ? { probed } : {}),
      lines,
    });
  }
  return outlines;
}

/**
 * Partial (cancelled, stopped, failed chunks), no ICMP: what the reader must know before trusting the numbers. A
 * partial report lists the hosts it probed (those still waiting for an answer marked unfinished) and says so first:
 * `Partial: 312 of 1,022 addresses probed before it was cancelled.`
 */
export function reportNotes(report: AnyReport, failuresShown = Infinity): string[] {
  const notes: string[] = [];
  const cause = partialCause(report);
  if (cause === 'over_time' && report.stopped) {
    // The time bound's own reason says which bound and how many hosts it left unanswered.
    const probed = `${formatCount(report.summary.total)} of ${addressCount(report.planned)} probed`;
    notes.push(`Partial: ${probed} before it was stopped: ${report.stopped.reason}.`);
  } else if (cause) {
    notes.push(`P${partialWords(cause, report.summary.total, report.planned).slice(1)}.`);
  }
  if (isDistributed(report)) {
    // A vantage whose agent left: every address may still be in, from the others; what is missing is its view.
    const missing = (report.vantages ?? []).filter((v) => v.missing).map((v) => v.name);
    if (missing.length > 0) notes.push(`Incomplete: no whole view from ${listWords(missing)}.`);
    for (const failure of report.failures.slice(0, failuresShown)) {
      notes.push(`Chunk ${failure.index} in ${failure.group} failed: ${failure.reason}`);
    }
    if (report.failures.length > failuresShown) notes.push(`and ${report.failures.length - failuresShown} more chunks failed`);
    if (report.notSaved) notes.push(`Not saved as baseline ${report.notSaved.name}: ${report.notSaved.reason}`);
  }
  const mixed = mixedIcmpNote(report);
  if (mixed) notes.push(mixed);
  const warning = icmpWarningNote(report);
  if (warning) notes.push(warning);
  return notes;
}

/** A vantage whose view is missing, in part or whole, and why: its agent's trouble, not the hosts'. */
export interface MissingVantage {
  name: string;
  reason: string;
}

/** What a sweep from several vantages (`from:all`, `from:each`) says before anything else: where they disagree. */
export interface VantageOutline {
  /** The vantages' names, in the plan's order. */
  names: string[];
  /** Hosts the vantages saw differently. */
  disagree: number;
  /** One line per way of disagreeing: the hosts, then what each vantage saw (`alive from lab-a, silent from lab-b`). */
  lines: FactLine[];
  missing: MissingVantage[];
  /** The report with only the hosts every vantage agrees on, for its state sections and counts. */
  agreed: AnyReport;
}

/** `a`, `a and b`, `a, b and c`. */
export function listWords(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1) ?? ''}`;
}

/**
 * What each vantage saw of one host, in a few words: the state when the states differ, and the ports whose states
 * differ (`alive`, `alive 5432 open`). `said`: add who sent an ICMP error (the terminal has the room).
 */
function seenWords(disagreement: Disagreement, sweeper: string, said: boolean): string {
  const states = new Set(disagreement.views.map((v) => v.host.state));
  const portStates = new Map<number, Set<string>>();
  for (const { host } of disagreement.views) {
    for (const port of host.ports) portStates.set(port.port, (portStates.get(port.port) ?? new Set<string>()).add(port.state));
  }
  const differing = [...portStates].filter(([, seen]) => seen.size > 1).map(([port]) => port).sort((a, b) => a - b);
  const groups = new Map<string, string[]>();
  for (const { vantage, host } of disagreement.views) {
    const parts: string[] = [];
    if (states.size > 1 || differing.length === 0) parts.push(hostStateWords(host));
    for (const port of differing) parts.push(`${port} ${host.ports.find((p) => p.port === port)?.state ?? 'not probed'}`);
    if (said && host.reporter) parts.push(`(${reporterWords(host.reporter, host.ip, sweeper)})`);
    const words = parts.join(' ');
    groups.set(words, [...(groups.get(words) ?? []), vantage]);
  }
  return [...groups].map(([words, vantages]) => `${words} from ${listWords(vantages)}`).join(', ');
}

/**
 * The vantages' outline of a report swept from several (undefined for any other): hosts that disagree in the same
 * way share one line, the most hosts first; then what every vantage agrees on. `said`: name who sent each ICMP error.
 */
export function vantageOutline(report: AnyReport, said = false): VantageOutline | undefined {
  if (!isDistributed(report) || !report.vantages) return undefined;
  const { disagreements, agreed } = compareVantages(report);
  const sweeper = sweeperOf(report);
  const byWords = new Map<string, Disagreement[]>();
  for (const d of disagreements) {
    const words = seenWords(d, sweeper, said);
    const group = byWords.get(words);
    if (group) group.push(d);
    else byWords.set(words, [d]);
  }
  const lines: FactLine[] = [...byWords].map(([detail, group]) =>
    group.length === 1 && group[0]
      ? hostLine(group[0], detail)
      : { runs: addressRuns(group.map((d) => d.ip)), detail, hosts: group.length },
  );
  lines.sort((a, b) => b.hosts - a.hosts);
  const missing = report.vantages.flatMap((v) => (v.missing ? [{ name: v.name, reason: v.missing }] : []));
  return {
    names: report.vantages.map((v) => v.name),
    disagree: disagreements.length,
    lines,
    missing,
    agreed: { ...report, hosts: agreed, summary: summarize(agreed) },
  };
}

/** The first words of a report from several vantages: `1 seen differently · 253 silent`; of any other, its counts. */
export function countsWords(report: AnyReport, outline = vantageOutline(report)): string {
  if (!outline) return countsLine(shownSummary(report), report.icmp, unsentCounts(report));
  const agreed = countsLine(outline.agreed.summary, undefined, unsentCounts(report, outline.agreed.hosts));
  if (outline.disagree === 0) return agreed;
  return `${formatCount(outline.disagree)} seen differently${outline.agreed.summary.total > 0 ? ` · ${agreed}` : ''}`;
}

/** `lab-a and lab-b disagree on 1 host`, `3 agents agree on all 254 hosts`: the title of the vantages' part. */
export function vantageTitle(report: AnyReport, outline: VantageOutline): string {
  const who = outline.names.length <= 2 ? listWords(outline.names) : `${outline.names.length} ${isFromEach(report) ? 'groups' : 'agents'}`;
  if (outline.disagree > 0) return `${who} disagree on ${formatCount(outline.disagree)} host${outline.disagree === 1 ? '' : 's'}`;
  return `${who} agree on ${outline.agreed.summary.total === 1 ? 'the one host' : `all ${formatCount(outline.agreed.summary.total)} hosts`}`;
}

function isFromEach(report: AnyReport): boolean {
  return report.options.from === 'each';
}
