import type { HostResult, PortResult, SweepReport, SweepSummary } from './report.js';
import type { HostState, Reporter } from './states.js';
import { formatRtt } from './stats.js';
import type { SweepDiff } from './diff.js';
import { foldAddresses } from './ranges.js';

/** Words for each state, shared by every view. */
export const STATE_TITLES: Record<HostState, string> = {
  alive: 'Alive',
  alive_tcp_only: 'Answer TCP only, ICMP filtered',
  prohibited: 'Prohibited by a firewall',
  unreachable: 'Unreachable',
  silent: 'Silent',
};

const SUMMARY_WORDS: Record<HostState, string> = {
  alive: 'alive',
  alive_tcp_only: 'answer TCP only',
  prohibited: 'prohibited',
  unreachable: 'unreachable',
  silent: 'silent',
};

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** `12 alive · 3 answer TCP only · 1 prohibited · 238 silent · 1.1 s`: only the states that occurred. */
export function summaryLine(summary: SweepSummary, durationMs: number): string {
  const parts: string[] = [];
  for (const state of Object.keys(SUMMARY_WORDS) as HostState[]) {
    const count = summary[state];
    if (count > 0) parts.push(`${formatCount(count)} ${SUMMARY_WORDS[state]}`);
  }
  if (parts.length === 0) parts.push('no hosts');
  parts.push(formatDuration(durationMs));
  return parts.join(' · ');
}

/** `from 198.18.0.254: communication administratively prohibited` or `the sweeper: no route (ENETUNREACH)`. */
export function describeReporter(reporter: Reporter, hostIp?: string): string {
  if (reporter.address === 'local') {
    return `${reporter.reason}${reporter.errno ? ` (${reporter.errno})` : ''}`;
  }
  const who = reporter.address === hostIp ? `${reporter.address} (the host itself)` : reporter.address;
  return `${reporter.reason}, said ${who}`;
}

export function describePort(port: PortResult): string {
  if (port.unanswered) return `${port.port}/tcp unanswered (the sweep stopped first)`;
  const base = `${port.port}/tcp ${port.state}`;
  if ((port.state === 'open' || port.state === 'closed') && port.ms !== undefined) {
    return `${base} ${port.ms.toFixed(port.ms < 10 ? 2 : 0)} ms`;
  }
  return base;
}

/** ping's own words: `3 sent, 3 received, 0% loss, rtt min/avg/max/mdev = 0.040/0.050/0.060/0.007 ms`. */
export function describeEcho(host: HostResult): string {
  const { icmp } = host;
  if (icmp.sent === 0) return 'no echo sent';
  const base = `${icmp.sent} sent, ${icmp.received} received, ${icmp.lossPct}% loss`;
  return icmp.rtt ? `${base}, rtt min/avg/max/mdev = ${formatRtt(icmp.rtt)} ms` : base;
}

const RESOLVER_ERRORS: Record<string, string> = {
  ENOTFOUND: 'no such name',
  ENODATA: 'the name has no A or AAAA record',
  EAI_AGAIN: 'the DNS server did not answer',
  ETIMEOUT: 'name resolution timed out',
  ESERVFAIL: 'the DNS server failed',
};

/** `no such name (ENOTFOUND)`: a resolver error in words, code kept. */
export function describeResolverError(code: string): string {
  const words = RESOLVER_ERRORS[code];
  return words ? `${words} (${code})` : code;
}

export function packetTotals(report: SweepReport): { echoesSent: number; echoesReceived: number; tcpAttempts: number } {
  let echoesSent = 0;
  let echoesReceived = 0;
  let tcpAttempts = 0;
  for (const host of report.hosts) {
    echoesSent += host.icmp.sent;
    echoesReceived += host.icmp.received;
    for (const port of host.ports) tcpAttempts += port.attempts;
  }
  return { echoesSent, echoesReceived, tcpAttempts };
}

const ANSWERING_WORDS: Record<HostState, string> = {
  alive: 'alive',
  alive_tcp_only: 'TCP only',
  prohibited: 'prohibited',
  unreachable: 'unreachable',
  silent: 'silent',
};

function listAddresses(addresses: readonly string[], limit: number): string {
  const folded = foldAddresses(addresses);
  const shown = folded.slice(0, limit).join(', ');
  return folded.length > limit ? `${shown} and ${folded.length - limit} more` : shown;
}

/**
 * What changed between two sweeps, in a few lines: `Appeared (2): 198.18.0.7, 198.18.0.9`,
 * `Went silent (1): 198.18.0.10 (now unreachable)`, `Changed (1): 198.18.0.20 alive → TCP only`. Each list shows
 * at most `limit` entries. One line `No change (254 hosts)` when nothing changed.
 */
export function describeDiff(diff: SweepDiff, limit = 20): string[] {
  const lines: string[] = [];
  if (diff.appeared.length > 0) {
    lines.push(`Appeared (${diff.appeared.length}): ${listAddresses(diff.appeared.map(([ip]) => ip), limit)}`);
  }
  if (diff.wentSilent.length > 0) {
    const byState = new Map<HostState, string[]>();
    for (const [ip, state] of diff.wentSilent) byState.set(state, [...(byState.get(state) ?? []), ip]);
    const parts = [...byState].map(([state, ips]) =>
      state === 'silent' ? listAddresses(ips, limit) : `${listAddresses(ips, limit)} (now ${ANSWERING_WORDS[state]})`,
    );
    lines.push(`Went silent (${diff.wentSilent.length}): ${parts.join('; ')}`);
  }
  if (diff.changed.length > 0) {
    const shown = diff.changed.slice(0, limit).map((c) => `${c.ip} ${ANSWERING_WORDS[c.from]} → ${ANSWERING_WORDS[c.to]}`);
    const more = diff.changed.length > limit ? ` and ${diff.changed.length - limit} more` : '';
    lines.push(`Changed (${diff.changed.length}): ${shown.join(', ')}${more}`);
  }
  if (lines.length === 0) lines.push(`No change (${formatCount(diff.unchanged)} hosts)`);
  return lines;
}

/**
 * `65534` → `65,534`. Not toLocaleString: its first call loads ICU data, about 35 ms of every CLI run.
 */
export function formatCount(value: number | bigint): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
