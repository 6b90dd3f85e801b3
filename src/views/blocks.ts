import type { ActionsBlock, KnownBlock } from '@slack/types';
import { HOST_STATES } from '../core/states.js';
import type { HostState } from '../core/states.js';
import type { DistributedReport, HostResult } from '../core/report.js';
import { describeResolverError, formatCount } from '../core/format.js';
import { foldAddresses } from '../core/ranges.js';
import { addressToBigInt } from '../core/targets.js';
import { BLOCK_LIMITS, clip, packLines } from './block-limits.js';
import { describeDiff, describeEcho, describePort, describeReporter, STATE_TITLES, summaryLine } from './words.js';

/** Action ids of the buttons, shared by the renderers and the listeners. */
export const ACTIONS = {
  cancel: 'sweep_cancel',
  rerun: 'sweep_rerun',
  showSilent: 'sweep_show_silent',
  saveBaseline: 'sweep_save_baseline',
} as const;

/** Hosts listed per state before the list is folded into "and N more". */
export const HOSTS_SHOWN = 20;

const GRID_EMOJI: Record<HostState | 'skipped', string> = {
  alive: '🟩',
  alive_tcp_only: '🟦',
  prohibited: '🟥',
  unreachable: '🟧',
  silent: '⬛',
  skipped: '▫️',
};

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

/** The parent message once the report is in: the summary line, no more buttons. */
export function finishedBlocks(header: SweepHeader, report: DistributedReport): KnownBlock[] {
  const status = report.cancelled ? 'cancelled' : report.complete ? 'done' : 'incomplete';
  return [
    section(`<@${header.user}> swept \`${escapeText(header.text)}\` in *${header.groups.join(', ')}*`),
    context(`${status}: ${summaryLine(report.summary, report.durationMs)} · report in the thread`),
  ];
}

function hostLine(host: HostResult): string {
  const label = host.names ? `${host.ip} (${host.names.join(', ')})` : host.ip;
  const parts: string[] = [];
  if (host.state === 'alive') parts.push(describeEcho(host));
  if (host.state === 'alive_tcp_only') {
    parts.push(
      host.ports
        .filter((p) => p.state === 'open' || p.state === 'closed')
        .map(describePort)
        .join(', '),
    );
  }
  if ((host.state === 'prohibited' || host.state === 'unreachable') && host.reporter) {
    parts.push(describeReporter(host.reporter, host.ip));
  }
  if (host.state === 'alive' && host.ports.length > 0) parts.push(host.ports.map(describePort).join(', '));
  return `\`${label}\`  ${escapeText(parts.filter(Boolean).join(' · '))}`;
}

/**
 * A 16×16 map of a /24 (or the part of one swept), one emoji per address, so the shape of the subnet shows at a
 * glance. Only for sweeps whose IPv4 hosts all lie in one /24.
 */
export function gridMap(report: DistributedReport): string | undefined {
  if (report.hosts.length === 0 || report.hosts.length > 256) return undefined;
  let block: bigint | undefined;
  const states = new Map<number, HostState>();
  for (const host of report.hosts) {
    const { family, value } = addressToBigInt(host.ip);
    if (family !== 4) return undefined;
    const prefix = value >> 8n;
    if (block === undefined) block = prefix;
    else if (block !== prefix) return undefined;
    states.set(Number(value & 0xffn), host.state);
  }
  const rows: string[] = [];
  for (let row = 0; row < 16; row += 1) {
    let line = '';
    for (let col = 0; col < 16; col += 1) {
      const state = states.get(row * 16 + col);
      line += GRID_EMOJI[state ?? 'skipped'];
    }
    rows.push(line);
  }
  return rows.join('\n');
}

/** The legend under the grid map. */
export const GRID_LEGEND = `${GRID_EMOJI.alive} alive  ${GRID_EMOJI.alive_tcp_only} TCP only  ${GRID_EMOJI.prohibited} prohibited  ${GRID_EMOJI.unreachable} unreachable  ${GRID_EMOJI.silent} silent  ${GRID_EMOJI.skipped} not swept`;

export interface ReportView {
  blocks: KnownBlock[];
  /** Notification text: the summary line. */
  text: string;
  /** True when some hosts were left out of the message: the full table should be attached as CSV. */
  folded: boolean;
}

/**
 * The threaded report: the summary line first (it fits a phone screen), the grid map of a /24, hosts grouped by
 * state (silent ones as ranges), what changed, and the buttons. Always within Block Kit's limits, whatever the
 * size of the sweep: long lists are folded, and `folded` says the CSV should carry the rest.
 */
export function reportBlocks(report: DistributedReport, header: SweepHeader): ReportView {
  const summary = summaryLine(report.summary, report.durationMs);
  const blocks: KnownBlock[] = [section(`*${summary}*`)];
  let folded = false;
  const notes: string[] = [];
  if (report.cancelled) notes.push(`Cancelled: ${report.summary.total} of ${report.planned} addresses were probed.`);
  else if (!report.complete) notes.push(`Incomplete: ${report.summary.total} of ${report.planned} addresses were probed.`);
  for (const failure of report.failures.slice(0, 3)) notes.push(`Chunk ${failure.index} in ${failure.group} failed: ${failure.reason}`);
  if (report.icmp.warning) notes.push(`Warning: ${report.icmp.warning}`);
  if (notes.length > 0) blocks.push(context(escapeText(notes.join('\n'))));

  const grid = gridMap(report);
  if (grid) blocks.push(section(grid), context(GRID_LEGEND));

  const byState = new Map<HostState, HostResult[]>(HOST_STATES.map((s) => [s, []]));
  for (const host of report.hosts) byState.get(host.state)?.push(host);
  // Room for the sections after the host lists: changes (2), names (1), run (1), buttons (1).
  const budget = BLOCK_LIMITS.blocks - 5;
  for (const state of HOST_STATES) {
    const hosts = byState.get(state) ?? [];
    if (hosts.length === 0) continue;
    const title = `*${STATE_TITLES[state]} (${formatCount(hosts.length)})*`;
    let lines: string[];
    if (state === 'silent') {
      const ranges = foldAddresses(hosts.map((h) => h.ip));
      const shown = ranges.slice(0, HOSTS_SHOWN * 2);
      lines = [shown.join(', ') + (ranges.length > shown.length ? ` and ${ranges.length - shown.length} more ranges` : '')];
      if (ranges.length > shown.length) folded = true;
    } else {
      lines = hosts.slice(0, HOSTS_SHOWN).map(hostLine);
      if (hosts.length > HOSTS_SHOWN) {
        lines.push(`and ${formatCount((hosts.length - HOSTS_SHOWN))} more (all in the CSV)`);
        folded = true;
      }
    }
    const room = Math.min(2, budget - blocks.length);
    if (room <= 0) {
      folded = true;
      continue;
    }
    const packed = packLines([title, ...lines], room);
    if (packed.left > 0) folded = true;
    for (const text of packed.texts) blocks.push(section(text));
  }

  if (report.names.some((n) => n.error)) {
    const lines = report.names
      .filter((n) => n.error)
      .map((n) => `\`${escapeText(n.name)}\` does not resolve: ${describeResolverError(n.error ?? '')}`);
    blocks.push(section(packLines(lines, 1).texts[0] ?? ''));
  }
  if (report.changes) {
    const lines = describeDiff(report.changes.diff, 15).map(escapeText);
    blocks.push(section(packLines([`*Since the last sweep* (${report.changes.since})`, ...lines], 1).texts[0] ?? ''));
  }
  if (report.baseline) {
    const lines = describeDiff(report.baseline.diff, 15).map(escapeText);
    blocks.push(
      section(packLines([`*Against baseline ${escapeText(report.baseline.name)}* (${report.baseline.at})`, ...lines], 1).texts[0] ?? ''),
    );
  }
  const retried = report.chunks.filter((c) => c.stalled > 0 || c.attempt > 1).length;
  const agents = [...new Set(report.chunks.map((c) => `${c.group}/${c.agentId}`))];
  blocks.push(
    context(
      escapeText(
        `sweep ${report.sweepId} · ${agents.length} agent${agents.length === 1 ? '' : 's'}: ${agents.slice(0, 5).join(', ')}` +
          (agents.length > 5 ? ` and ${agents.length - 5} more` : '') +
          (retried > 0 ? ` · ${retried} chunk${retried === 1 ? '' : 's'} ran again after an agent failed` : '') +
          (report.savedAs ? ` · saved as baseline ${report.savedAs}` : ''),
      ),
    ),
  );
  blocks.push(reportActions(report, header));
  return { blocks: blocks.slice(0, BLOCK_LIMITS.blocks), text: clip(`${header.text}: ${summary}`, 3000), folded };
}

function reportActions(report: DistributedReport, header: SweepHeader): ActionsBlock {
  const elements: ActionsBlock['elements'] = [
    { type: 'button', action_id: ACTIONS.rerun, text: { type: 'plain_text', text: 'Re-run' }, value: clip(header.text, 2000) },
  ];
  if (report.summary.silent > 0) {
    elements.push({
      type: 'button',
      action_id: ACTIONS.showSilent,
      text: { type: 'plain_text', text: 'Show silent hosts' },
      value: report.sweepId,
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

/** The silent hosts of a report, as ranges, for the ephemeral answer to "Show silent hosts". */
export function silentBlocks(report: DistributedReport): KnownBlock[] {
  const silent = report.hosts.filter((h) => h.state === 'silent').map((h) => h.ip);
  if (silent.length === 0) return [section('No silent host in this sweep.')];
  const ranges = foldAddresses(silent);
  const packed = packLines([`*Silent (${formatCount(silent.length)})*`, ranges.join(', ')], 10);
  const blocks = packed.texts.map(section);
  if (packed.left > 0) blocks.push(context('The list is longer than a message holds: the CSV in the thread has every host.'));
  return blocks;
}
