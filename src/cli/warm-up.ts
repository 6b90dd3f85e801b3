import { loadEngineConfig } from '../config.js';
import { parseSweepText } from '../core/grammar.js';
import { summarize } from '../core/report.js';
import type { HostResult, SweepReport } from '../core/report.js';
import { HOST_STATES } from '../core/states.js';
import { AddressSet } from '../core/targets.js';
import { writeReport } from './report-output.js';
import { renderText } from '../views/text.js';

/**
 * Runs, on made-up data and without any I/O, the code that every sweep runs before its first probe and after its
 * last: parsing, address iteration, the three report formats. The build calls it before it writes the bundle's
 * code cache (bundle-loader.cts), so the cache holds these functions already compiled and a sweep starts sooner.
 */
export function warmUp(): void {
  const config = loadEngineConfig({});
  const request = parseSweepText('127.0.0.0/28 127.0.1.5-9 ::1 localhost tcp:22,80-81 count:2 timeout=500 retries:0', {
    maxAddresses: config.maxAddresses,
  });
  const specs = request.targets.filter((t) => t.kind !== 'name');
  const set = AddressSet.fromSpecs(specs);
  const hosts: HostResult[] = [];
  let n = 0;
  for (const ip of set) {
    const state = HOST_STATES[n++ % HOST_STATES.length] ?? 'silent';
    const reporter = { verdict: 'unreachable' as const, address: '127.0.0.254', icmpType: 3, icmpCode: 1, reason: 'host unreachable' };
    hosts.push({
      ip,
      state,
      icmp:
        state === 'alive'
          ? { sent: 2, received: 2, lossPct: 0, rtt: { min: 0.05, avg: 0.06, max: 0.07, mdev: 0.01 } }
          : { sent: 2, received: 0, lossPct: 100 },
      ports: request.options.ports.map((port) => ({ port, state: port === 22 ? 'open' : 'closed', ms: 0.2, attempts: 1 })),
      ...(state === 'prohibited' || state === 'unreachable' ? { reporter } : {}),
    });
  }
  const report: SweepReport = {
    targets: request.targets.map((t) => t.text),
    options: request.options,
    startedAt: new Date(0).toISOString(),
    durationMs: 1,
    complete: true,
    planned: hosts.length,
    icmp: { available: true },
    summary: summarize(hosts),
    names: [{ name: 'localhost', addresses: [], error: 'ENOTFOUND' }],
    hosts,
  };
  const sink = { write: () => true } as unknown as NodeJS.WritableStream;
  for (const flags of [{ json: true }, { csv: true }, {}]) writeReport(sink, report, flags, renderText);
}
