import { HOST_STATES } from '../core/states.js';
import type { AnyReport, DistributedReport, HostResult, SweepReport } from '../core/report.js';
import { isDistributed } from '../core/report.js';
import { describeResolverError, formatCount, formatDuration } from '../core/format.js';
import { foldAddresses } from '../core/ranges.js';
import { describeDiff, describeEcho, describePort, describeReporter, packetTotals, STATE_TITLES, summaryLine } from './words.js';

function hostLabel(host: HostResult): string {
  return host.names ? `${host.ip} (${host.names.join(', ')})` : host.ip;
}

function hostDetail(host: HostResult): string {
  const parts: string[] = [];
  switch (host.state) {
    case 'alive':
      parts.push(
        host.icmp.sent > 1 || host.icmp.received < host.icmp.sent
          ? describeEcho(host)
          : `rtt ${host.icmp.rtt ? host.icmp.rtt.avg.toFixed(3) : '?'} ms`,
      );
      break;
    case 'alive_tcp_only':
      if (host.icmp.sent > 0) parts.push(`no echo reply (${host.icmp.sent} sent)`);
      break;
    case 'prohibited':
    case 'unreachable':
      if (host.reporter) parts.push(describeReporter(host.reporter, host.ip));
      break;
    case 'silent':
      break;
  }
  const ports = host.ports.map(describePort);
  if (ports.length > 0) parts.push(ports.join(', '));
  return parts.join('   ');
}

/**
 * The human report: the summary line first, then hosts grouped by state (silent ones folded into ranges), then
 * names and statistics. It reads like the Slack thread will.
 */
export function renderText(report: AnyReport): string {
  if (isDistributed(report)) {
    const stopped = report.cancelled ? 'Cancelled' : 'Incomplete, chunks failed (see Run below)';
    return localText(report, stopped) + runLines(report).join('\n') + '\n';
  }
  return localText(report, 'Cancelled');
}

function localText(report: SweepReport, stopped: string): string {
  const lines: string[] = [];
  const header = report.targets.join(' ');
  lines.push(`${header} — ${summaryLine(report.summary, report.durationMs)}`);
  if (!report.complete) {
    lines.push(`${stopped}: ${report.summary.total} of ${report.planned} addresses were probed.`);
  }
  if (report.icmp.warning) lines.push(`Warning: ${report.icmp.warning}`);

  const groups = new Map(HOST_STATES.map((s) => [s, [] as HostResult[]]));
  for (const host of report.hosts) groups.get(host.state)?.push(host);
  for (const state of HOST_STATES) {
    const hosts = groups.get(state) ?? [];
    if (hosts.length === 0) continue;
    lines.push('', `${STATE_TITLES[state]} (${formatCount(hosts.length)})`);
    if (state === 'silent' && hosts.every((h) => h.ports.every((p) => p.state === 'filtered'))) {
      lines.push(...wrapList(foldAddresses(hosts.map((h) => h.ip)), '  '));
      continue;
    }
    const width = Math.max(...hosts.map((h) => hostLabel(h).length));
    for (const host of hosts) {
      const detail = hostDetail(host);
      lines.push(`  ${detail ? hostLabel(host).padEnd(width) + '   ' + detail : hostLabel(host)}`);
    }
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

  const totals = packetTotals(report);
  const loss =
    totals.echoesSent > 0
      ? `, ${Math.round(((totals.echoesSent - totals.echoesReceived) / totals.echoesSent) * 1000) / 10}% loss`
      : '';
  lines.push(
    '',
    'Statistics',
    `  ${formatCount(report.summary.total)} addresses in ${formatDuration(report.durationMs)}` +
      ` · echoes ${formatCount(totals.echoesSent)} sent, ` +
      `${formatCount(totals.echoesReceived)} received${loss}` +
      (totals.tcpAttempts > 0 ? ` · ${formatCount(totals.tcpAttempts)} TCP connects` : ''),
  );
  return lines.join('\n') + '\n';
}

function wrapList(items: string[], indent: string, width = 100): string[] {
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

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * What a run through the agents adds to the report: who ran which chunks, which chunks ran again and why, which
 * failed for good, and what changed since the last sweep of the same targets or against a baseline.
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
  if (report.changes) {
    lines.push('', `Since the last sweep of these targets (${report.changes.since})`);
    lines.push(...describeDiff(report.changes.diff).map((l) => `  ${l}`));
  }
  if (report.baseline) {
    lines.push('', `Against baseline ${report.baseline.name} (${report.baseline.at})`);
    lines.push(...describeDiff(report.baseline.diff).map((l) => `  ${l}`));
  }
  if (report.savedAs) lines.push('', `Saved as baseline ${report.savedAs}.`);
  return lines;
}


