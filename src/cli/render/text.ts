import { HOST_STATES } from '../../core/states.js';
import type { HostResult, SweepReport } from '../../core/report.js';
import { describeEcho, describePort, describeReporter, describeResolverError, formatCount, formatDuration, packetTotals, STATE_TITLES, summaryLine } from '../../core/format.js';
import { foldAddresses } from '../../core/ranges.js';

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
  if (host.unfinished) parts.push('(unfinished: the sweep stopped before its probes ended)');
  return parts.join('   ');
}

/**
 * The human report: the summary line first, then hosts grouped by state (silent ones folded into ranges), then
 * names and statistics. It reads like the Slack thread will.
 */
export function renderText(report: SweepReport, stopped = 'Cancelled'): string {
  const lines: string[] = [];
  const header = report.targets.join(' ');
  lines.push(`${header} — ${summaryLine(report.summary, report.durationMs)}`);
  if (report.stopped?.code === 'over_time') {
    lines.push(`Stopped: ${report.stopped.reason}. ${report.summary.total} of ${report.planned} addresses were probed.`);
  } else if (!report.complete) {
    lines.push(`${stopped}: ${report.summary.total} of ${report.planned} addresses were probed.`);
  }
  if (report.icmp.warning) lines.push(`Warning: ${report.icmp.warning}`);

  const groups = new Map(HOST_STATES.map((s) => [s, [] as HostResult[]]));
  for (const host of report.hosts) groups.get(host.state)?.push(host);
  for (const state of HOST_STATES) {
    const hosts = groups.get(state) ?? [];
    if (hosts.length === 0) continue;
    lines.push('', `${STATE_TITLES[state]} (${formatCount(hosts.length)})`);
    if (state === 'silent' && hosts.every((h) => !h.unfinished && h.ports.every((p) => p.state === 'filtered'))) {
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
