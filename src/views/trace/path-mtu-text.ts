import type { MtuProbe, PathMtuReport } from '../../core/path-mtu.js';
import { ICMP_FOOTER } from '../words.js';

/** `1500 passed`, `8500 fragmentation needed (MTU 1400) from 198.19.3.3`, `8500 no answer`. */
export function describeMtuProbe(probe: MtuProbe, family: 4 | 6): string {
  switch (probe.outcome) {
    case 'passed':
      return `${probe.size} passed`;
    case 'too-big':
      return `${probe.size} ${family === 4 ? 'fragmentation needed' : 'packet too big'}${probe.mtu ? ` (MTU ${probe.mtu})` : ''} from ${probe.from ?? '?'}`;
    case 'silent':
      return `${probe.size} no answer`;
    case 'refused':
      return `${probe.size} refused by ${probe.from ?? '?'}${probe.errno ? `: ${probe.errno}` : ''}`;
    case 'local':
      return `${probe.size} not sent (${probe.errno ?? 'error'})`;
  }
}

/**
 * The sizes tried, shortly: the first round in full (1500, 8500, 9001, the interface's), then how many more the
 * search tried and where it closed in.
 */
export function describeMtuSearch(report: PathMtuReport, firstRound = 5): string {
  const shown = report.probes.slice(0, firstRound).map((p) => describeMtuProbe(p, report.family));
  const more = report.probes.length - shown.length;
  let text = shown.join(', ');
  if (more > 0) text += `, then ${more} more size${more === 1 ? '' : 's'}`;
  if (report.pathMtu !== undefined && report.failedAt) {
    text += `: largest passed ${report.pathMtu}, smallest failed ${describeMtuProbe(report.failedAt, report.family)}`;
  }
  return text;
}

/** The path MTU in two lines: the conclusion, then the sizes tried (Don't Fragment set). */
export function renderPathMtuLines(report: PathMtuReport): string[] {
  const lines = [`Path MTU to ${report.address}: ${report.conclusion}`, `  sizes tried (bytes, DF set): ${describeMtuSearch(report)}`];
  if (report.socket) lines.push(`  ${ICMP_FOOTER[report.socket]}`);
  return lines;
}

export function renderPathMtuText(report: PathMtuReport): string {
  return renderPathMtuLines(report).join('\n') + '\n';
}
