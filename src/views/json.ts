import type { SweepReport } from '../core/report.js';

const HOSTS_PER_CHUNK = 1024;

/**
 * The report model as JSON, in pieces: a /16 report is about 9 MB of text, and building it as one string would
 * hold that (and its intermediate copies) in memory at once. The hosts come last, after every other field.
 */
export function* jsonChunks(report: SweepReport): Generator<string> {
  const { hosts, ...head } = report;
  yield `${JSON.stringify(head).slice(0, -1)},"hosts":[`;
  for (let i = 0; i < hosts.length; i += HOSTS_PER_CHUNK) {
    const part = JSON.stringify(hosts.slice(i, i + HOSTS_PER_CHUNK));
    yield (i > 0 ? ',' : '') + part.slice(1, -1);
  }
  yield ']}\n';
}
