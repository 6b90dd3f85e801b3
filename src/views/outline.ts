/**
 * What a report says, in the order it says it, before any markup: the terminal text and the Slack blocks render
 * this same outline. Hosts with the same state, reason and sender are one fact with a list of address runs.
 */
import type { AnyReport, HostResult } from '../core/report.js';
import { isDistributed } from '../core/report.js';
import type { ProbeSet, SweepDiff } from '../core/diff-model.js';
import type { HostState } from '../core/states.js';
import { addressToBigInt } from '../core/targets.js';
import { formatCount } from '../core/format.js';
import {
  answerWords,
  clockTime,
  dropsWords,
  NOTHING_THERE,
  READING_ORDER,
  reporterWords,
  shownState,
  STATE_TITLES,
  STATE_WORDS,
  timeAgo,
} from './words.js';

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
  groups: { runs: AddressRun[]; note?: string }[];
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

/** Who runs the probes, for "said the agent's own stack". */
function sweeperOf(report: AnyReport): string {
  return isDistributed(report) ? 'the agent' : 'this machine';
}

function hostLine(host: HostResult, detail: string): FactLine {
  return { runs: [{ first: host.ip, last: host.ip, count: 1 }], ...(host.names ? { names: host.names } : {}), detail, hosts: 1 };
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
function silentLines(hosts: readonly HostResult[]): FactLine[] {
  const drops: HostResult[] = [];
  const plain: HostResult[] = [];
  const empty: HostResult[] = [];
  const unfinished: HostResult[] = [];
  for (const host of hosts) {
    if (host.unfinished) unfinished.push(host);
    else if (host.link === 'answered') drops.push(host);
    else if (host.link === 'no_answer') empty.push(host);
    else plain.push(host);
  }
  const lines = byDetail(drops, dropsWords);
  if (plain.length > 0) lines.push({ runs: addressRuns(plain.map((h) => h.ip)), detail: '', hosts: plain.length });
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
  for (const state of READING_ORDER) {
    const hosts = byState.get(state) ?? [];
    if (hosts.length === 0) continue;
    let lines: FactLine[];
    if (state === 'silent') {
      lines = silentLines(hosts);
    } else if (state === 'prohibited' || state === 'unreachable') {
      lines = byDetail(hosts, (host) => {
        const said = host.reporter ? reporterWords(host.reporter, host.ip, sweeper) : 'no sender known';
        return host.unfinished ? `${said} (${UNFINISHED})` : said;
      });
      // The largest fact first: 256 hosts a router calls unreachable before the one the firewall rejects.
      lines.sort((a, b) => b.hosts - a.hosts);
    } else {
      lines = hosts.map((host) => hostLine(host, host.unfinished ? `${answerWords(host)} (${UNFINISHED})` : answerWords(host)));
    }
    sections.push({ state, title: STATE_TITLES[state], count: hosts.length, lines });
  }
  return sections;
}

function changeLines(diff: SweepDiff): ChangeLine[] {
  const grouped = (what: ChangeLine['what'], entries: { ip: string; note?: string }[]): ChangeLine | undefined => {
    if (entries.length === 0) return undefined;
    const notes = new Map<string, string[]>();
    for (const entry of entries) notes.set(entry.note ?? '', [...(notes.get(entry.note ?? '') ?? []), entry.ip]);
    return {
      what,
      hosts: entries.length,
      groups: [...notes].map(([note, ips]) => ({ runs: addressRuns(ips), ...(note ? { note } : {}) })),
    };
  };
  const now = (state: HostState, usual: HostState): string | undefined => (state === usual ? undefined : `now ${STATE_WORDS[state]}`);
  return [
    grouped('appeared', diff.appeared.map(([ip, state]) => ({ ip, note: now(state, 'alive') }))),
    grouped('went silent', diff.wentSilent.map(([ip, state]) => ({ ip, note: now(state, 'silent') }))),
    grouped('changed', diff.changed.map((c) => ({ ip: c.ip, note: `${STATE_WORDS[c.from]} → ${STATE_WORDS[c.to]}` }))),
    grouped(
      'not compared',
      (diff.notCompared ?? []).map((h) => ({ ip: h.ip, note: `answered on tcp:${h.ports.join(',')} then, not probed now` })),
    ),
  ].filter((line): line is ChangeLine => line !== undefined);
}

function countsOf(lines: readonly ChangeLine[], unchanged: number): string {
  const counted = lines.filter((l) => l.what !== 'not compared');
  if (counted.length === 0) return `no change in ${formatCount(unchanged)} hosts`;
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
  if (report.changes) {
    const { since, diff, probedBefore } = report.changes;
    const lines = changeLines(diff);
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
    const lines = changeLines(diff);
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

/** Cancelled, incomplete, failed chunks, no ICMP: what the reader must know before trusting the numbers. */
export function reportNotes(report: AnyReport, failuresShown = Infinity): string[] {
  const notes: string[] = [];
  const probed = `${formatCount(report.summary.total)} of ${formatCount(report.planned)} addresses were probed.`;
  if (report.stopped?.code === 'over_time') {
    notes.push(`Stopped: ${report.stopped.reason}. ${probed}`);
  } else if (isDistributed(report)) {
    if (report.cancelled) notes.push(`Cancelled: ${probed}`);
    else if (!report.complete) notes.push(`Incomplete: ${probed}`);
    for (const failure of report.failures.slice(0, failuresShown)) {
      notes.push(`Chunk ${failure.index} in ${failure.group} failed: ${failure.reason}`);
    }
    if (report.failures.length > failuresShown) notes.push(`and ${report.failures.length - failuresShown} more chunks failed`);
  } else if (!report.complete) {
    notes.push(`Cancelled: ${probed}`);
  }
  if (report.icmp.warning) notes.push(`Warning: ${report.icmp.warning}`);
  return notes;
}
