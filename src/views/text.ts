/**
 * The terminal view: the same outline as the Slack thread (summary, what changed, the problems, what answers,
 * what is silent), every host listed, then names, statistics and, for a run through the agents, who ran it.
 */
import type { AnyReport, DistributedReport } from '../core/report.js';
import { isDistributed } from '../core/report.js';
import { describeResolverError, addressCount, formatCount, formatDuration } from '../core/format.js';
import type { ChangesOutline, FactLine, VantageOutline } from './outline.js';
import { changesOutlines, countsWords, reportNotes, runsText, stateSections, vantageOutline, vantageTitle } from './outline.js';
import { countsLine, finishedAt, packetTotals, ptrWords, reportIcmpFooter, shownSummary, summaryLine, targetsWords, unsentCounts } from './words.js';

/** Wraps a list of items at `width` columns, each line indented. */
function wrapList(items: readonly string[], indent: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const item of items) {
    const piece = line ? `, ${item}` : item;
    if (line && indent.length + line.length + piece.length > width) {
      lines.push(indent + line + ',');
      line = item;
    } else {
      line += piece;
    }
  }
  if (line) lines.push(indent + line);
  return lines;
}

function label(line: FactLine): string {
  // One address, the common line of a long list (65,534 of them on a /16): no run to fold.
  const only = line.runs.length === 1 ? line.runs[0] : undefined;
  const runs = only && only.count === 1 ? only.first : runsText(line.runs).join(', ');
  return line.names ? `${runs} (${line.names.join(', ')})` : runs;
}

function factLines(lines: readonly FactLine[]): string[] {
  // Each label once: the widest sets the column (a loop: a spread of 65,534 arguments is slow).
  const labels = lines.map((l) => (l.runs.length === 1 ? label(l) : ''));
  let width = 0;
  for (const text of labels) if (text.length > width) width = text.length;
  width = Math.min(32, width);
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (!line.detail) {
      out.push(...wrapList(runsText(line.runs), '  '));
    } else if (line.runs.length === 1) {
      out.push(`  ${(labels[i] ?? '').padEnd(width)}   ${line.detail}`);
    } else {
      out.push(`  ${line.detail} (${formatCount(line.hosts)}):`, ...wrapList(runsText(line.runs), '    '));
    }
  });
  return out;
}

function changeText(outline: ChangesOutline): string[] {
  const lines = [`${outline.title}: ${outline.counts}`];
  if (outline.probed) lines.push(`  (${outline.probed})`);
  for (const change of outline.lines) {
    const groups = change.groups.map((g) => runsText(g.runs).join(', ') + (g.note ? ` (${g.note})` : ''));
    lines.push(...wrapList(groups, '    ').map((l, i) => (i === 0 ? `  ${change.what}: ${l.trimStart()}` : l)));
  }
  return lines;
}

/** The report as the terminal shows it. */
export function renderText(report: AnyReport): string {
  const lines: string[] = [];
  const vantages = vantageOutline(report, true);
  lines.push(
    `${[targetsWords(report.targets), ...fromWords(report)].join(' ')} — ` +
      (vantages ? `${countsWords(report, vantages)} · ${formatDuration(report.durationMs)}` : summaryLine(shownSummary(report), report.durationMs, report.icmp, unsentCounts(report))),
  );
  // From several vantages: where they disagree comes first, then the hosts they all agree on.
  if (vantages) lines.push(...vantageText(report, vantages));
  // Failed chunks are listed under Run.
  for (const note of reportNotes(report, 0)) lines.push(note);
  for (const outline of changesOutlines(report, finishedAt(report))) lines.push(...changeText(outline));

  for (const section of stateSections(vantages?.agreed ?? report)) {
    lines.push('', `${section.title} (${formatCount(section.count)})`, ...factLines(section.lines));
  }

  if (report.names.length > 0) {
    lines.push('', 'Names');
    for (const name of report.names) {
      lines.push(
        name.error
          ? `  ${name.name}: does not resolve: ${describeResolverError(name.error)}`
          : `  ${name.name} → ${name.addresses.join(', ')}`,
      );
    }
  }

  // From several vantages, every vantage's probes count: N agents, N times the packets.
  const views = isDistributed(report) ? report.vantages : undefined;
  const totals = views ? sumTotals(views.map((v) => packetTotals({ ...report, hosts: v.hosts }))) : packetTotals(report);
  const from = views ? ` from ${views.length} ${report.options.from === 'each' ? 'groups' : 'agents'}` : '';
  const loss =
    totals.echoesSent > 0
      ? `, ${Math.round(((totals.echoesSent - totals.echoesReceived) / totals.echoesSent) * 1000) / 10}% loss`
      : '';
  lines.push(
    '',
    'Statistics',
    `  ${addressCount(report.summary.total)}${from} in ${formatDuration(report.durationMs)}` +
      ` · echoes ${formatCount(totals.echoesSent)} sent, ` +
      `${formatCount(totals.echoesReceived)} received${loss}` +
      (totals.tcpAttempts > 0 ? ` · ${formatCount(totals.tcpAttempts)} TCP connects` : ''),
    `  ${reportIcmpFooter(report)}`,
  );
  const ptr = ptrWords(report);
  if (ptr) lines.push(`  ${ptr}`);
  if (isDistributed(report)) lines.push(...runLines(report));
  return lines.join('\n') + '\n';
}

function sumTotals(all: readonly ReturnType<typeof packetTotals>[]): ReturnType<typeof packetTotals> {
  return all.reduce(
    (sum, t) => ({ echoesSent: sum.echoesSent + t.echoesSent, echoesReceived: sum.echoesReceived + t.echoesReceived, tcpAttempts: sum.tcpAttempts + t.tcpAttempts }),
    { echoesSent: 0, echoesReceived: 0, tcpAttempts: 0 },
  );
}

/** `from:all`, `vpc:a,b from:each`: how the targets were swept, for the headline. */
function fromWords(report: AnyReport): string[] {
  const { from, vpcs } = report.options;
  if (from === undefined) return [];
  return [...(vpcs ? [`vpc:${vpcs.join(',')}`] : []), `from:${from}`];
}

/** The vantages, the hosts they saw differently (each line: what each saw), the views missing, and the agreement. */
function vantageText(report: AnyReport, outline: VantageOutline): string[] {
  const names = outline.names.length > 2 ? ` (${outline.names.join(', ')})` : '';
  const lines = ['', `${vantageTitle(report, outline)}${names}`];
  if (outline.lines.length > 0) lines.push(...factLines(outline.lines));
  for (const missing of outline.missing) lines.push(`  ${missing.name}: ${missing.reason}`);
  if (outline.disagree > 0 && outline.agreed.summary.total > 0) {
    lines.push(`They agree on the other ${formatCount(outline.agreed.summary.total)}: ${countsLine(outline.agreed.summary)}`);
  }
  return lines;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * What a run through the agents adds to the report: who ran which chunks, which chunks ran again and why, which
 * failed for good, and the baseline it was saved as.
 */
export function runLines(report: DistributedReport): string[] {
  const lines: string[] = ['', 'Run'];
  lines.push(`  sweep ${report.sweepId}, asked by ${report.requestedBy}, in ${report.groups.join(', ')}`);
  const byAgent = new Map<string, number>();
  for (const chunk of report.chunks) {
    const key = `${chunk.group}/${chunk.agentId}`;
    byAgent.set(key, (byAgent.get(key) ?? 0) + 1);
  }
  for (const [agent, count] of [...byAgent].sort()) lines.push(`  ${agent}: ${plural(count, 'chunk')}`);
  for (const chunk of report.chunks) {
    if (chunk.attempt <= 1 && chunk.stalled === 0) continue;
    const why = chunk.stalled > 0 ? 'its agent stopped answering (stalled)' : 'a failed try';
    const tries = chunk.attempt > 1 ? ` (try ${chunk.attempt})` : '';
    lines.push(`  retried: chunk ${chunk.index} ran again on ${chunk.agentId} after ${why}${tries}`);
  }
  for (const failure of report.failures) {
    lines.push(`  failed: chunk ${failure.index} in ${failure.group}: ${failure.reason}`);
  }
  if (report.savedAs) lines.push(`  saved as baseline ${report.savedAs}`);
  return lines;
}
