import type { DiagReport } from '../../core/diag.js';
import { describeDiagPort, noEchoWords } from '../../core/diag.js';
import { describeResolverError } from '../../core/format.js';
import type { HostResult } from '../../core/report.js';
import { formatRtt } from '../../core/stats.js';
import { renderPathMtuLines } from '../trace/path-mtu-text.js';
import { renderPathText } from '../trace/text.js';

/** `198.19.20.20 via 198.19.1.254 dev eth0 src 198.19.1.1`, as `ip route get` prints it. */
export function routeLine(report: DiagReport): string {
  const route = report.route;
  if (!route) return report.routeError ? `no route: ${report.routeError}` : 'no route';
  if (route.reject) return `${report.address ?? ''}: reject route ${route.destination} (unreachable, prohibit or blackhole)`;
  const source = report.source ? ` src ${report.source.cidr.split('/')[0] ?? ''}` : '';
  if (route.local) return `local ${report.address ?? ''} dev ${route.device}${source}   (an address of this machine)`;
  return `${report.address ?? ''}${route.gateway ? ` via ${route.gateway}` : ''} dev ${route.device}${source}   (route ${route.destination}, metric ${route.metric})`;
}

export function neighbourLine(report: DiagReport): string | undefined {
  const n = report.neighbour;
  if (!n) return undefined;
  const where = `${n.address}${n.device ? ` dev ${n.device}` : ''}`;
  switch (n.state) {
    case 'unknown':
      return `${where}: IPv6 neighbours are not in /proc (netlink only); not read`;
    case 'none':
      return `${where}: no entry`;
    case 'incomplete':
      return `${where}: incomplete (ARP gets no answer, or FAILED)`;
    default:
      return `${where}${n.lladdr ? ` lladdr ${n.lladdr}` : ''} ${n.state === 'complete' ? 'complete (REACHABLE or STALE)' : 'permanent'}`;
  }
}

export function resolutionLines(report: DiagReport): string[] {
  const r = report.resolution;
  const unroutable = new Set(r.unroutable ?? []);
  const servers = r.servers.length > 0 ? r.servers.map((s) => (unroutable.has(s) ? `${s} (no route to it)` : s)).join(', ') : 'none in /etc/resolv.conf';
  const lines = [`name servers: ${servers}`];
  // Asked a server it cannot reach, the resolver's error is about the server, not the name.
  const asked = r.servers[0];
  const unreachable = (code: string): string =>
    asked !== undefined && unroutable.has(asked) ? `name server ${asked} unreachable: no route to it, so no answer about the name (${code})` : describeResolverError(code);
  if (r.name !== undefined) {
    const dnsAnswer = r.dnsError ? unreachable(r.dnsError) : `A ${r.a?.join(', ') || '—'} · AAAA ${r.aaaa?.join(', ') || '—'}`;
    lines.push(`DNS ${r.name} (asked ${r.servers[0] ?? 'nobody'}): ${dnsAnswer}`);
    lines.push(`system resolver (hosts file, then DNS): ${r.systemError ? unreachable(r.systemError) : (r.system ?? []).join(', ')}`);
  } else if (report.address) {
    const names = r.ptr && r.ptr.length > 0 ? r.ptr.join(', ') : 'no PTR record';
    lines.push(`reverse DNS of ${report.address}: ${r.ptrError ? unreachable(r.ptrError) : names}`);
  }
  return lines;
}

/**
 * ping's own summary: `10 packets transmitted, 10 received, 0% packet loss` and `rtt min/avg/max/mdev = … ms`; without
 * an echo, why none went (the report's ICMP status).
 */
export function pingLines(host: HostResult, report: Pick<DiagReport, 'icmp'>): string[] {
  const { icmp } = host;
  if (icmp.sent === 0) return [noEchoWords(report)];
  const lines = [`${icmp.sent} packets transmitted, ${icmp.received} received, ${icmp.lossPct}% packet loss`];
  if (icmp.rtt) lines.push(`rtt min/avg/max/mdev = ${formatRtt(icmp.rtt)} ms`);
  return lines;
}

/** The ticket text: every fact under the command a network engineer would have typed to see it. */
export function renderDiagText(report: DiagReport): string {
  const where = report.agent ? ` from agent ${report.agent.id} (group ${report.agent.group})` : '';
  const lines = [
    `ZenSweep diag: ${report.target}${report.address && report.address !== report.target ? ` (${report.address})` : ''}${where}`,
    `Time window (UTC): ${report.window.start} – ${report.window.end}`,
    '',
    'Summary',
    ...report.summary.map((line) => `  ${line}`),
  ];
  if (report.address) {
    lines.push(
      '',
      'Source and interface (ip address show)',
      report.source
        ? `  ${report.source.cidr} on ${report.source.device}, mtu ${report.source.mtu ?? '?'}${report.source.mac ? `, ${report.source.mac}` : ''}`
        : '  none: no route to the destination',
      `Destination: ${report.address}`,
      '',
      'Route (ip route get)',
      `  ${routeLine(report)}`,
      `  default gateway: ${report.defaultGateway ?? 'none (no default route)'}`,
    );
  }
  const neighbour = neighbourLine(report);
  if (neighbour) lines.push('', 'Neighbour of the next hop (ip neigh show)', `  ${neighbour}`);
  lines.push('', 'Name resolution', ...resolutionLines(report).map((line) => `  ${line}`));
  if (report.host) {
    const host = report.host;
    lines.push('', host.icmp.sent === 0 ? 'Ping (no echo)' : `Ping (${host.icmp.sent} echoes)`, ...pingLines(host, report).map((line) => `  ${line}`));
    if (host.reporter && host.icmp.received === 0) lines.push(`  ${host.reporter.reason}, said ${host.reporter.address}`);
    lines.push('', 'TCP connects');
    for (const port of host.ports) lines.push(`  ${describeDiagPort(port)}${port.reporter ? `: ${port.reporter.reason}` : ''}`);
  }
  if (report.trace) {
    lines.push('', `Trace: ${report.trace.conclusion}`);
    // Why it traced TCP alone, when it did.
    if (report.trace.warning) lines.push(`  ${report.trace.warning}`);
    for (const path of report.trace.paths) lines.push(...renderPathText(path, report.trace.address).map((line) => `  ${line}`));
  }
  if (report.pathMtu) lines.push('', ...renderPathMtuLines(report.pathMtu));
  else if (report.pathMtuNotMeasured && report.address) lines.push('', `Path MTU to ${report.address}: not measured: ${report.pathMtuNotMeasured}`);
  lines.push('', 'Equivalent commands', ...report.commands.map((command) => `  ${command}`));
  return lines.join('\n') + '\n';
}
