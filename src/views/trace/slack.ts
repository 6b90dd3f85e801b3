import type { KnownBlock } from '@slack/types';
import type { DiagReport } from '../../core/diag.js';
import { describeDiagPort, noEchoWords } from '../../core/diag.js';
import { formatDuration } from '../../core/format.js';
import { hostStateTitle } from '../words.js';
import { describeMode, describeSockets } from '../../core/trace.js';
import type { TracePath, TraceReport } from '../../core/trace.js';
import { formatMs } from './text.js';

/**
 * Trace and diag for a phone: a 390 px screen leaves a ~306 px column, about 40 characters of code font. The hop
 * table has four columns (hop, address, loss, avg) and fits it for IPv4; an IPv6 address makes a line of at most
 * two rows. The full report goes with it as a text file (the terminal view), to paste into a ticket as it is.
 */

/** Characters of code font in one phone row. */
export const PHONE_CODE_COLUMNS = 40;
const SECTION_LIMIT = 3000;
const MAX_HOPS_SHOWN = 40;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function section(text: string): KnownBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: text.length <= SECTION_LIMIT ? text : `${text.slice(0, SECTION_LIMIT - 1)}…` } };
}

function context(text: string): KnownBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: text.slice(0, 2000) }] };
}

/** The hop table of one path: `hop address loss avg`, one hop a line, a silent hop as `*`. */
export function phoneHopLines(path: TracePath): string[] {
  const width = Math.max(7, ...path.hops.map((h) => (h.responders[0]?.address ?? '*').length + (h.responders.length > 1 ? 3 : 0)));
  const lines = [`${'#'.padStart(2)} ${'address'.padEnd(width)} ${'loss'.padStart(4)} ${'avg'.padStart(6)}`];
  for (const hop of path.hops.slice(0, MAX_HOPS_SHOWN)) {
    const first = hop.responders[0]?.address ?? '*';
    const address = hop.responders.length > 1 ? `${first} +${hop.responders.length - 1}` : first;
    const loss = `${Math.round(hop.lossPct)}%`;
    const avg = hop.avg === undefined ? '-' : formatMs(hop.avg);
    lines.push(`${String(hop.ttl).padStart(2)} ${address.padEnd(width)} ${loss.padStart(4)} ${avg.padStart(6)}`);
  }
  if (path.hops.length > MAX_HOPS_SHOWN) lines.push(`… ${path.hops.length - MAX_HOPS_SHOWN} more hops in the file`);
  return lines;
}

function pathBlocks(path: TracePath): KnownBlock[] {
  const end = path.end === 'reached' ? (path.tcpState ? `reached, port ${path.tcpState}` : 'reached') : path.end === 'silent' ? 'no answer' : path.end;
  return [section(`*${describeMode(path)}* · ${end}\n\`\`\`${phoneHopLines(path).join('\n')}\`\`\``)];
}

function where(report: { agent?: { group: string; id: string } }): string {
  return report.agent ? ` on ${escape(report.agent.group)} (${escape(report.agent.id)})` : '';
}

/** A trace in Slack: the conclusion first, then each path's hop table. */
export function traceBlocks(report: TraceReport): KnownBlock[] {
  const title = report.target === report.address ? report.address : `${report.target} (${report.address})`;
  return [
    section(`*Trace to ${escape(title)}*${where(report)}\n${escape(report.conclusion)}${report.warning ? `\n${escape(report.warning)}` : ''}`),
    ...report.paths.flatMap(pathBlocks),
    context(
      [`${report.options.count} probes per hop`, describeSockets(report.paths), formatDuration(report.durationMs), report.startedAt, 'full report in the file']
        .filter((part) => part !== '')
        .join(' · '),
    ),
  ];
}

/** A diag in Slack: the summary, the facts the network team asks for in short lines, the trace, the window. */
export function diagBlocks(report: DiagReport): KnownBlock[] {
  const title = report.address && report.address !== report.target ? `${report.target} (${report.address})` : report.target;
  const blocks: KnownBlock[] = [section(`*Diag of ${escape(title)}*${where(report)}\n${report.summary.map((l) => `• ${escape(l)}`).join('\n')}`)];
  const facts: string[] = [];
  if (report.source) facts.push(`*From* ${report.source.cidr} ${report.source.device} mtu ${report.source.mtu ?? '?'}`);
  if (report.route) facts.push(`*Route* ${report.route.destination}${report.route.gateway ? ` via ${report.route.gateway}` : ''} dev ${report.route.device}`);
  else if (report.routeError) facts.push(`*Route* none: ${escape(report.routeError)}`);
  if (report.address) facts.push(`*Default gateway* ${report.defaultGateway ?? 'none'}`);
  if (report.neighbour) facts.push(`*ARP* ${report.neighbour.address} ${report.neighbour.state}${report.neighbour.lladdr ? ` ${report.neighbour.lladdr}` : ''}`);
  const r = report.resolution;
  const servers = r.servers.map((s) => (r.unroutable?.includes(s) ? `${s} (no route to it)` : s));
  facts.push(`*DNS* ${servers.join(', ') || 'none'}${r.dnsError ? `: ${r.dnsError}` : ''}${r.a ? ` A ${r.a.join(', ')}` : ''}${r.aaaa ? ` AAAA ${r.aaaa.join(', ')}` : ''}`);
  const host = report.host;
  if (host) {
    const rtt = host.icmp.rtt ? `, avg ${formatMs(host.icmp.rtt.avg)} ms` : '';
    facts.push(host.icmp.sent === 0 ? `*Ping* ${escape(noEchoWords(report))}` : `*Ping* ${host.icmp.received}/${host.icmp.sent} (${host.icmp.lossPct}% loss${rtt})`);
    facts.push(`*State* ${escape(hostStateTitle(host))}`);
    for (const port of host.ports) facts.push(`*TCP* ${describeDiagPort(port)}`);
  }
  if (report.pathMtu) facts.push(`*Path MTU* ${report.pathMtu.pathMtu ?? '?'} (interface ${report.pathMtu.interfaceMtu ?? '?'})${report.pathMtu.blackHole ? ' black hole' : ''}`);
  else if (report.pathMtuNotMeasured) facts.push(`*Path MTU* not measured: ${escape(report.pathMtuNotMeasured)}`);
  blocks.push(section(facts.join('\n')));
  for (const path of report.trace?.paths ?? []) blocks.push(...pathBlocks(path));
  blocks.push(context(`UTC ${report.window.start} – ${report.window.end} · ${formatDuration(report.durationMs)} · full report in the file`));
  return blocks;
}
