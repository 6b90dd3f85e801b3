/**
 * The Slack view: Block Kit for a phone. The thread's first screen answers the question — the summary, what
 * changed, the problems — then what answers and what is silent. One fact is one line (hosts with the same state,
 * reason and sender share it as a list of ranges), a line fits two rows of the phone's 306 px column, a range never
 * breaks at a line's end, and lists that are cut short get a button that shows them whole.
 */
import type { ActionsBlock, KnownBlock } from '@slack/types';
import type { HostState } from '../core/states.js';
import { HOST_STATES } from '../core/states.js';
import type { AnyReport, DistributedReport } from '../core/report.js';
import { ALL_GROUPS } from '../core/report.js';
import { describeResolverError, formatCount } from '../core/format.js';
import { BLOCK_LIMITS, clip, packLines } from './block-limits.js';
import type { ChangesOutline, FactLine } from './outline.js';
import { changesOutlines, countsWords, reportNotes, runsText, stateSections, vantageOutline, vantageTitle } from './outline.js';
import type { VantageOutline } from './outline.js';
import { countsLine, finishedAt, ptrWords, reportIcmpFooter, shownSummary, STATE_WORDS, stateWords, unsentCounts } from './words.js';
import { formatDuration } from '../core/format.js';
import type { SweepMap } from './map.js';
import { legendWords, mapLegend } from './map.js';

/** Action ids of the buttons, shared by the renderers and the listeners. */
export const ACTIONS = {
  cancel: 'sweep_cancel',
  rerun: 'sweep_rerun',
  /** Buttons of reports posted before `showHosts`: the value is the sweep id. */
  showSilent: 'sweep_show_silent',
  /** "Show all N unreachable": the value is `STATE:SWEEP_ID`. */
  showHosts: 'sweep_show_hosts',
  saveBaseline: 'sweep_save_baseline',
} as const;

/** Lines listed per state before the list is cut short (and a button shows it whole). */
export const HOSTS_SHOWN = 8;

/**
 * Characters a line may take: two rows of the 306 px column hold about 80 characters of 15 px text;
 * test/views/phone.test.ts lays the lines out with the real font to check that they fit.
 */
export const LINE_CHARS = 76;

/** Between a range's ends: an en dash, then a word joiner, so a phone never ends a line inside a range. */
export const RANGE_DASH = '\u2013\u2060';

function section(text: string): KnownBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: clip(text, BLOCK_LIMITS.sectionText) } };
}

function context(text: string): KnownBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: clip(text, BLOCK_LIMITS.contextText) }] };
}

/** Slack's mrkdwn treats these three as markup. */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface SweepHeader {
  user: string;
  text: string;
  groups: string[];
  addresses: number;
}

/** The parent message while a sweep runs: who asked for what, where, a progress bar and a Cancel button. */
export function progressBlocks(
  header: SweepHeader,
  sweepId: string,
  progress: { done: number; total: number; alive: number },
): KnownBlock[] {
  const width = 20;
  const ratio = progress.total === 0 ? 1 : Math.min(1, progress.done / progress.total);
  const filled = Math.round(ratio * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  return [
    section(`<@${header.user}> swept \`${escapeText(header.text)}\` in *${header.groups.join(', ')}*`),
    context(
      `\`${bar}\` ${formatCount(progress.done)}/${formatCount(progress.total)} · ` +
        `${formatCount(progress.alive)} alive`,
    ),
    {
      type: 'actions',
      block_id: 'sweep_running',
      elements: [
        {
          type: 'button',
          action_id: ACTIONS.cancel,
          text: { type: 'plain_text', text: 'Cancel' },
          style: 'danger',
          value: sweepId,
        },
      ],
    },
  ];
}

/** What the request swept besides its own words: for `vpc:all` alone, the networks (` (10.0.0.0/16, 10.1.0.0/16)`). */
function sweptNetworks(report: DistributedReport): string {
  const [first, ...networks] = report.targets;
  return first === ALL_GROUPS && networks.length > 0 ? ` (${networks.join(', ')})` : '';
}

/** The parent message once the report is in: the summary line, no more buttons. */
export function finishedBlocks(header: SweepHeader, report: DistributedReport): KnownBlock[] {
  const status = report.cancelled ? 'cancelled' : report.complete ? 'done' : 'partial';
  return [
    section(`<@${header.user}> swept \`${escapeText(header.text)}\`${escapeText(sweptNetworks(report))} in *${header.groups.join(', ')}*`),
    context(`${status}: ${countsWords(report)} · ${formatDuration(report.durationMs)} · report in the thread`),
  ];
}

/** Runs joined up to `budget` characters; what does not fit is counted. */
function runsWithin(line: FactLine, budget: number): { text: string; left: number } {
  const texts = runsText(line.runs, RANGE_DASH);
  let text = '';
  let shown = 0;
  for (const run of texts) {
    const next = text ? `${text}, ${run}` : run;
    if (shown > 0 && next.length > budget) break;
    text = next;
    shown += 1;
  }
  const left = line.runs.slice(shown).reduce((sum, run) => sum + run.count, 0);
  return { text, left };
}

/**
 * One fact as mrkdwn, each line at most `LINE_CHARS` characters: a single host as a code span (easy to copy),
 * several as ranges then what is true of them, `+N more` when the ranges do not fit. When the fact's words leave
 * too little room for ranges, they go on a line of their own above the ranges.
 */
export function factMrkdwn(line: FactLine): string {
  const detail = escapeText(line.detail);
  if (line.runs.length === 1 && line.runs[0]?.count === 1) {
    const names = line.names ? ` ${escapeText(line.names.join(', '))}` : '';
    const address = `\`${line.runs[0].first}\`${names}`;
    // A long address (IPv6) and a long fact: the fact goes on the next line rather than onto a third row.
    const joiner = address.length + detail.length + 1 > LINE_CHARS ? '\n' : ' ';
    return `${address}${detail ? `${joiner}${detail}` : ''}`;
  }
  const room = LINE_CHARS - detail.length - 1;
  if (!detail || room >= 24) {
    const { text, left } = runsWithin(line, detail ? room - 11 : LINE_CHARS - 11);
    const more = left > 0 ? ` +${formatCount(left)} more` : '';
    if (!detail || text.length + more.length <= room) return `${text}${more}${detail ? ` ${detail}` : ''}`;
  }
  const { text, left } = runsWithin(line, LINE_CHARS - 11);
  return `${detail} (${formatCount(line.hosts)}):\n${text}${left > 0 ? ` +${formatCount(left)} more` : ''}`;
}

function changesMrkdwn(outline: ChangesOutline): string {
  const lines = [`*${escapeText(outline.title)}:* ${outline.counts}`];
  if (outline.probed) lines.push(`_${escapeText(outline.probed)}_`);
  for (const change of outline.lines) {
    const parts: string[] = [];
    let used = change.what.length;
    let left = 0;
    for (const group of change.groups) {
      const runs = runsText(group.runs, RANGE_DASH).join(', ');
      const full = `${runs}${group.note ? ` (${escapeText(group.note)})` : ''}`;
      // Several ports that changed on one host are counted rather than listed when listing them takes the line.
      const piece = group.brief && change.what.length + full.length + 1 > LINE_CHARS ? `${runs} (${escapeText(group.brief)})` : full;
      if (parts.length > 0 && used + piece.length + 2 > LINE_CHARS) {
        left += group.runs.reduce((sum, run) => sum + run.count, 0);
        continue;
      }
      parts.push(piece);
      used += piece.length + 2;
    }
    lines.push(`${change.what} ${parts.join('; ')}${left > 0 ? ` +${formatCount(left)} more` : ''}`);
  }
  return lines.join('\n');
}

export interface ReportView {
  blocks: KnownBlock[];
  /** Notification text: the summary line. */
  text: string;
  /** True when some hosts were left out of the message (the CSV and the "Show all" buttons have them). */
  folded: boolean;
}

/**
 * The threaded report: the summary, anything that makes the numbers partial, what changed, then the hosts by
 * state (problems first), names that do not resolve, who ran it, and the buttons. Within Block Kit's limits for
 * any sweep: each state lists at most `HOSTS_SHOWN` lines. `now` is when it is read, for "12 min ago" (default:
 * when the sweep finished).
 */
export function reportBlocks(report: DistributedReport, header: SweepHeader, now: Date = finishedAt(report)): ReportView {
  const vantages = vantageOutline(report);
  const blocks: KnownBlock[] = [section(`*${countsWords(report, vantages)}* · ${formatDuration(report.durationMs)}`)];
  // From several vantages, where they disagree comes first; a missing view is said there, not chunk by chunk.
  if (vantages) blocks.push(section(vantageMrkdwn(report, vantages)));
  const notes = reportNotes(report, vantages ? 0 : 3);
  if (notes.length > 0) blocks.push(context(escapeText(notes.join('\n'))));
  for (const outline of changesOutlines(report, now)) blocks.push(section(changesMrkdwn(outline)));

  let folded = false;
  const foldedStates: { state: HostState; count: number }[] = [];
  for (const state of stateSections(vantages?.agreed ?? report)) {
    const lines = state.lines.slice(0, HOSTS_SHOWN).map(factMrkdwn);
    const shownHosts = state.lines.slice(0, HOSTS_SHOWN).reduce((sum, l) => sum + l.hosts, 0);
    const cut = state.lines.length > HOSTS_SHOWN || lines.some((l) => / \+[\d,]+ more/.test(l));
    if (state.lines.length > HOSTS_SHOWN) lines.push(`and ${formatCount(state.count - shownHosts)} more`);
    if (cut) {
      folded = true;
      foldedStates.push({ state: state.state, count: state.count });
    }
    blocks.push(section([`*${state.title} (${formatCount(state.count)})*`, ...lines].join('\n')));
  }

  const unresolved = report.names.filter((n) => n.error);
  if (unresolved.length > 0) {
    const lines = unresolved.map((n) => `\`${escapeText(n.name)}\` does not resolve: ${describeResolverError(n.error ?? '')}`);
    blocks.push(section(packLines(lines, 1).texts[0] ?? ''));
  }
  blocks.push(context(escapeText(runLine(report))));
  blocks.push(reportActions(report, header, foldedStates));
  const summary = `${countsWords(report, vantages)} · ${formatDuration(report.durationMs)}`;
  return { blocks: blocks.slice(0, BLOCK_LIMITS.blocks), text: clip(`${header.text}${sweptNetworks(report)}: ${summary}`, 3000), folded };
}

/**
 * The vantages' part of the report: who disagrees on how many hosts, one line per way of disagreeing (what each
 * saw, in a few words), at most `HOSTS_SHOWN` lines (the CSV has one row per vantage per host), then the views
 * that are missing and why.
 */
function vantageMrkdwn(report: DistributedReport, outline: VantageOutline): string {
  const lines = [`*${escapeText(vantageTitle(report, outline))}*`];
  const shown = outline.lines.slice(0, HOSTS_SHOWN);
  lines.push(...shown.map(factMrkdwn));
  const shownHosts = shown.reduce((sum, l) => sum + l.hosts, 0);
  if (outline.disagree > shownHosts) lines.push(`and ${formatCount(outline.disagree - shownHosts)} more (the CSV has every view)`);
  for (const missing of outline.missing) lines.push(`_${escapeText(`${missing.name}: ${missing.reason}`)}_`);
  if (outline.names.length > 2) lines.push(`_from ${escapeText(outline.names.join(', '))}_`);
  return lines.join('\n');
}

function runLine(report: DistributedReport): string {
  const retried = report.chunks.filter((c) => c.stalled > 0 || c.attempt > 1).length;
  const agents = [...new Set(report.chunks.map((c) => `${c.group}/${c.agentId}`))];
  return (
    `sweep ${report.sweepId} · ${agents.slice(0, 3).join(', ')}` +
    (agents.length > 3 ? ` and ${agents.length - 3} more agents` : '') +
    (retried > 0 ? ` · ${retried} chunk${retried === 1 ? '' : 's'} ran again after an agent failed` : '') +
    (report.savedAs ? ` · saved as baseline ${report.savedAs}` : '') +
    ` · ${reportIcmpFooter(report)}` +
    (ptrWords(report) ? ` · ${ptrWords(report)}` : '')
  );
}

function reportActions(report: DistributedReport, header: SweepHeader, foldedStates: readonly { state: HostState; count: number }[]): ActionsBlock {
  const elements: ActionsBlock['elements'] = [
    { type: 'button', action_id: ACTIONS.rerun, text: { type: 'plain_text', text: 'Re-run' }, value: clip(header.text, 2000) },
  ];
  for (const { state, count } of foldedStates.slice(0, 3)) {
    elements.push({
      type: 'button',
      action_id: ACTIONS.showHosts,
      text: { type: 'plain_text', text: `Show all ${formatCount(count)} ${sectionWords(state, report)}` },
      value: `${state}:${report.sweepId}`,
    });
  }
  elements.push({
    type: 'button',
    action_id: ACTIONS.saveBaseline,
    text: { type: 'plain_text', text: 'Save as baseline' },
    value: report.sweepId,
  });
  return { type: 'actions', block_id: 'sweep_report', elements };
}

/** A state's words on a button: the report's mode's, or the plain state's where its agents probed differently. */
function sectionWords(state: HostState, report: AnyReport): string {
  return unsentCounts(report) ? STATE_WORDS[state] : stateWords(state, report.icmp);
}

/** The value of a "Show all" button: which state of which sweep; undefined when it is not one. */
export function parseShowHosts(value: string): { state: HostState; sweepId: string } | undefined {
  const colon = value.indexOf(':');
  const state = value.slice(0, colon) as HostState;
  if (colon < 0 || !HOST_STATES.includes(state)) return undefined;
  return { state, sweepId: value.slice(colon + 1) };
}

/** Every host of one state, for the ephemeral answer to "Show all N …": all of its facts, ranges in full. */
export function hostsBlocks(report: AnyReport, state: HostState): KnownBlock[] {
  const found = stateSections(report).find((s) => s.state === state);
  if (!found) return [section(`No ${sectionWords(state, report)} host in this sweep.`)];
  const lines: string[] = [];
  for (const line of found.lines) {
    if (line.runs.length === 1) {
      lines.push(factMrkdwn(line));
      continue;
    }
    // A long list of ranges goes on as many lines as it takes, the fact said on the first.
    const runs = runsText(line.runs, RANGE_DASH);
    let current = '';
    let first = true;
    const flush = (): void => {
      lines.push(first && line.detail ? `${current} ${escapeText(line.detail)}` : current);
      first = false;
      current = '';
    };
    for (const run of runs) {
      if (current && current.length + run.length + 2 > LINE_CHARS) flush();
      current = current ? `${current}, ${run}` : run;
    }
    if (current) flush();
  }
  const packed = packLines([`*${found.title} (${formatCount(found.count)})*`, ...lines], BLOCK_LIMITS.blocks - 1);
  const blocks = packed.texts.map(section);
  if (packed.left > 0) blocks.push(context('The list is longer than a message holds: the CSV in the thread has every host.'));
  return blocks;
}

/**
 * The comment of the reply that carries the report's files (the map picture and the CSV of every host): the
 * summary, which is the map's legend too (`🟩 6 alive · ⬛ 245 silent · ▫️ not swept`).
 */
export function filesComment(report: DistributedReport, map: SweepMap | undefined): string {
  // From several vantages, the map draws the combined view and the table has a row per vantage per host.
  const views = report.vantages ? ` · map: best view; CSV: each ${report.options.from === 'each' ? 'group' : 'agent'}'s` : '';
  const summary = shownSummary(report);
  if (!map) return `Every host in one table: ${countsLine(summary, report.icmp, unsentCounts(report))}${views}`;
  const more = map.more > 0 ? ` · ${map.more} more /16 not drawn` : '';
  return `${mapLegend(map, summary, legendWords(report))}${more}${views}`;
}
