import type { SweepReport } from '../core/report.js';
import { InvalidOptionError } from '../core/errors.js';
import { renderCsv } from '../views/csv.js';
import { jsonChunks } from '../views/json.js';

/** The flags every report-printing command takes (node:util parseArgs options). */
export const REPORT_FLAGS = {
  json: { type: 'boolean' },
  csv: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ReportFlags {
  json?: boolean;
  csv?: boolean;
}

export function checkReportFlags(flags: ReportFlags): void {
  if (flags.json && flags.csv) throw new InvalidOptionError('--json and --csv cannot be used together; pick one');
}

/** Writes the report as --json (streamed in pieces), --csv, or the human text. */
export function writeReport<R extends SweepReport>(
  stdout: NodeJS.WritableStream,
  report: R,
  flags: ReportFlags,
  text: (report: R) => string,
): void {
  if (flags.json) for (const chunk of jsonChunks(report)) stdout.write(chunk);
  else if (flags.csv) stdout.write(renderCsv(report));
  else stdout.write(text(report));
}
