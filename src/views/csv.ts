import type { DistributedReport, HostResult, SweepReport } from '../core/report.js';
import { echoNotSent } from '../core/facts.js';

const HEADER = [
  'ip',
  'names',
  'state',
  'echo_sent',
  'echo_received',
  'loss_pct',
  'rtt_min_ms',
  'rtt_avg_ms',
  'rtt_max_ms',
  'rtt_mdev_ms',
  'ports',
  'reported_by',
  'reason',
  'link',
  'mac',
  'icmp',
  'ptr',
];

function cell(value: string | number | undefined): string {
  if (value === undefined) return '';
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function hostCells(host: HostResult): (string | number | undefined)[] {
  const rtt = host.icmp.rtt;
  return [
    host.names?.join(' '),
    host.state,
    host.icmp.sent,
    host.icmp.received,
    host.icmp.lossPct,
    rtt?.min.toFixed(3),
    rtt?.avg.toFixed(3),
    rtt?.max.toFixed(3),
    rtt?.mdev.toFixed(3),
    host.ports.map((p) => `${p.port}/${p.state}`).join(';'),
    host.reporter?.address,
    host.reporter?.reason,
    host.link,
    host.mac,
    // `state` is the engine's word: where no echo went, `alive_tcp_only` is "TCP answered" and `silent` "not probed".
    echoNotSent(host) ? 'not_sent' : 'sent',
    host.ptr,
  ];
}

/**
 * One row per host; ports as `5432/open;22/closed`. `link` and `mac` are empty for routed targets; on-link ones have
 * `answered` (with the MAC that answered ARP/ND, when the neighbour table held it) or `no_answer`. A sweep from several
 * vantages (`from:all`, `from:each`) has one row per vantage per host, in the hosts' order, with the vantage (agent or
 * group) in a `from` column after `ip`. `icmp` is `not_sent` for a host no echo went to (its agent ran without ICMP):
 * its `alive_tcp_only` then means TCP answered and ICMP was not asked, its `silent` that no TCP port answered. `ptr`
 * is the PTR name of a host that answered, with `dns:on`.
 */
export function renderCsv(report: SweepReport | DistributedReport): string {
  const vantages = 'vantages' in report ? report.vantages : undefined;
  if (vantages) {
    const rows = [['ip', 'from', ...HEADER.slice(1)].join(',')];
    const seen = vantages.map((v) => new Map(v.hosts.map((h) => [h.ip, h])));
    for (const { ip } of report.hosts) {
      vantages.forEach((vantage, i) => {
        const host = seen[i]?.get(ip);
        if (host) rows.push([ip, vantage.name, ...hostCells(host)].map(cell).join(','));
      });
    }
    return rows.join('\n') + '\n';
  }
  const rows = [HEADER.join(',')];
  for (const host of report.hosts) rows.push([host.ip, ...hostCells(host)].map(cell).join(','));
  return rows.join('\n') + '\n';
}
