/** Recent sweeps, one line each: for the terminal (`zensweep history`) and Slack (`/sweep history`). */
import type { PartialCause, SweepSummary } from '../core/report.js';
import { partialWords } from '../core/report.js';
import { targetsWords } from './words.js';
import { escapeText } from './blocks.js';
import { BLOCK_LIMITS, clip } from './block-limits.js';

/** What the view shows of a finished sweep (a history record). */
export interface ListedSweep {
  id: string;
  at: string;
  requestedBy: string;
  targets: readonly string[];
  groups: readonly string[];
  summary: SweepSummary;
  complete: boolean;
  /** Why a partial sweep stopped short, and the addresses it was to probe (absent in older records). */
  partial?: { why: PartialCause; planned: number };
  /** Hosts no ICMP echo went to (their agent ran without ICMP), of the states that then say nothing of ICMP. */
  unsent?: { alive_tcp_only: number; silent: number };
}

/** ` (partial: 312 of 1,022 addresses probed before it was cancelled)` for a partial sweep, else nothing. */
function partialNote(r: ListedSweep): string {
  if (r.complete) return '';
  return r.partial ? ` (${partialWords(r.partial.why, r.summary.total, r.partial.planned)})` : ' (partial)';
}

/**
 * A state's count in words, those no echo went to said apart: `3 TCP only`, `3 TCP answered` (ICMP not sent), or
 * both, `1 TCP only · 2 TCP answered`, when the sweep's agents differed.
 */
function split(count: number, unsent: number, usual: string, without: string): string {
  if (unsent <= 0) return `${count} ${usual}`;
  if (unsent >= count) return `${count} ${without}`;
  return `${count - unsent} ${usual} · ${unsent} ${without}`;
}

function counts(r: Pick<ListedSweep, 'summary' | 'unsent'>): string {
  const s = r.summary;
  const tcp = split(s.alive_tcp_only, r.unsent?.alive_tcp_only ?? 0, 'TCP only', 'TCP answered');
  const silent = split(s.silent, r.unsent?.silent ?? 0, 'silent', 'not probed by ICMP');
  return `${s.alive} alive · ${tcp} · ${s.prohibited} prohibited · ${s.unreachable} unreachable · ${silent}`;
}

/** `zensweep history`: the time, id, targets, groups, counts and who asked. */
export function renderHistoryText(records: readonly ListedSweep[], target?: string): string {
  if (records.length === 0) return target ? `No sweep of ${target} is on record.\n` : 'No sweep is on record.\n';
  return records
    .map(
      (r) =>
        `${r.at}  ${r.id}  ${targetsWords(r.targets)}  ${r.groups.join(',')}  ${counts(r)}  by ${r.requestedBy}` +
        `${partialNote(r)}\n`,
    )
    .join('');
}

/** `/sweep history`: the same facts in mrkdwn, within one section's limit. */
export function renderHistoryMrkdwn(records: readonly ListedSweep[], target?: string): string {
  if (records.length === 0) return target ? `No sweep of \`${escapeText(target)}\` is on record.` : 'No sweep is on record.';
  const lines = records.map((r) => {
    const who = r.requestedBy.startsWith('U') || r.requestedBy.startsWith('W') ? `<@${r.requestedBy}>` : escapeText(r.requestedBy);
    return (
      `• ${r.at.slice(0, 16).replace('T', ' ')} \`${escapeText(targetsWords(r.targets))}\` in ${escapeText(r.groups.join(', '))}: ` +
      `${counts(r)}, by ${who}${escapeText(partialNote(r))}`
    );
  });
  return clip(lines.join('\n'), BLOCK_LIMITS.sectionText);
}

/** What the view shows of a baseline: its name, who saved it when, and the sweep it keeps. */
export interface ListedBaseline {
  name: string;
  savedBy: string;
  savedAt: string;
  record: Pick<ListedSweep, 'at' | 'targets' | 'summary' | 'unsent'>;
}

/** `/sweep baselines`: the channel's baselines, newest first, each with the sweep it keeps and how to use it. */
export function renderBaselinesMrkdwn(baselines: readonly ListedBaseline[]): string {
  if (baselines.length === 0) return 'This channel has no baseline. Save one with `save:NAME` on a sweep, or the *Save as baseline* button.';
  const lines = baselines.map((b) => {
    const who = b.savedBy.startsWith('U') || b.savedBy.startsWith('W') ? `<@${b.savedBy}>` : escapeText(b.savedBy);
    return (
      `• \`${escapeText(b.name)}\` \`${escapeText(targetsWords(b.record.targets))}\` swept ${b.record.at.slice(0, 16).replace('T', ' ')}: ` +
      `${counts(b.record)}, saved by ${who} · \`compare:${escapeText(b.name)}\``
    );
  });
  return clip(lines.join('\n'), BLOCK_LIMITS.sectionText);
}
