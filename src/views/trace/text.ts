import { formatDuration } from '../../core/format.js';
import { TRACE_SOCKET_WORDS, describeMode, describePath } from '../../core/trace.js';
import type { TraceHop, TracePath, TraceReport } from '../../core/trace.js';

/** Milliseconds as mtr prints them, with one more decimal below 10 ms (a LAN hop is a tenth of a millisecond). */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms.toFixed(ms < 10 ? 2 : 1);
}

/** `198.19.1.254`, `198.19.1.254 (r1.lab)`, `???` for a silent hop; more than one responder joined with `/`. */
export function hopLabel(hop: TraceHop): string {
  if (hop.responders.length === 0) return '???';
  return hop.responders.map((r) => (r.name ? `${r.name} (${r.address})` : r.address)).join(' / ');
}

/** What a hop adds after its numbers: the host's answer, or the refusal that ends the path. */
export function hopNote(hop: TraceHop, path: TracePath): string {
  if (hop.target) return path.tcpState ? `the host: port ${path.tcpState}` : 'the host';
  if (hop.reporter) return hop.reporter.reason;
  return '';
}

/** One path as `mtr --report` shows it: Loss%, Snt, Last, Avg, Best, Wrst, StDev. */
export function renderPathText(path: TracePath, address: string): string[] {
  const rows = path.hops.map((hop) => ({ hop, label: hopLabel(hop) }));
  const width = Math.max(24, ...rows.map((r) => r.label.length + 1));
  const columns = ['Loss%', 'Snt', 'Last', 'Avg', 'Best', 'Wrst', 'StDev'];
  const lines = [`${describeMode(path).padEnd(width + 9)}${columns.map((c, i) => c.padStart(i === 0 ? 6 : 7)).join('')}`];
  for (const { hop, label } of rows) {
    const numbers = [
      `${hop.lossPct.toFixed(1)}%`.padStart(6),
      String(hop.sent).padStart(7),
      ...[hop.last, hop.avg, hop.best, hop.worst, hop.stdev].map((v) => formatMs(v).padStart(7)),
    ].join('');
    const note = hopNote(hop, path);
    lines.push(`${String(hop.ttl).padStart(3)}.|-- ${label.padEnd(width)}${numbers}${note ? `   ${note}` : ''}`.trimEnd());
  }
  if (path.hops.length === 0) lines.push(`  ${describePath(path, address)}`);
  // Said as the sweep report's footer says its ICMP mode: what a reader of an unprivileged trace must know.
  if (path.sockets) lines.push(`  ${describeMode(path)} through ${TRACE_SOCKET_WORDS[path.sockets]}`);
  return lines;
}

/** The terminal view of a trace: the conclusion first, then each path mode by mode. */
export function renderTraceText(report: TraceReport): string {
  const lines = [
    `trace ${report.target}${report.target === report.address ? '' : ` (${report.address})`}` +
      `${report.source ? ` from ${report.source}` : ''}${report.agent ? ` on agent ${report.agent.id} (${report.agent.group})` : ''}`,
    report.conclusion,
    `Start ${report.startedAt} · ${formatDuration(report.durationMs)}`,
  ];
  if (report.warning) lines.push(report.warning);
  for (const path of report.paths) lines.push('', ...renderPathText(path, report.address));
  return lines.join('\n') + '\n';
}
