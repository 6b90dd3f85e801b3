import type { SweepReport } from '../core/report.js';
import type { HostState } from '../core/states.js';
import { InvalidOptionError } from '../core/errors.js';
import { fsPromisesModule } from '../engine/builtins.js';
import { renderCsv } from '../views/csv.js';
import { jsonChunks } from '../views/json.js';

/** The flags every report-printing command takes (node:util parseArgs options). */
export const REPORT_FLAGS = {
  json: { type: 'boolean' },
  csv: { type: 'boolean' },
  alive: { type: 'boolean' },
  unreachable: { type: 'boolean' },
  file: { type: 'string', short: 'f' },
  'no-progress': { type: 'boolean' },
} as const;

export interface ReportFlags {
  json?: boolean;
  csv?: boolean;
  alive?: boolean;
  unreachable?: boolean;
}

/** What the report flags say of the usage text (sweep and submit share them). */
export const REPORT_FLAGS_USAGE = `  --json, --csv       the whole report as JSON or CSV (one row per host)
  --alive             only the addresses that answered (ping or TCP), one a line, as fping -a
  --unreachable       only the addresses that did not, one a line, as fping -u
                      with either: exit 0 when every address answered, 1 when one did not
  -f FILE, -f -       targets (and options) from a file or standard input, one or more a line, # comments`;

const OUTPUTS = ['json', 'csv', 'alive', 'unreachable'] as const;

export function checkReportFlags(flags: ReportFlags): void {
  const chosen = OUTPUTS.filter((name) => flags[name]);
  if (chosen.length > 1) throw new InvalidOptionError(`${chosen.map((name) => `--${name}`).join(' and ')} cannot be used together; pick one`);
}

/** Whether a host answered anything: ping, or TCP alone. */
function answered(host: { state: HostState }): boolean {
  return host.state === 'alive' || host.state === 'alive_tcp_only';
}

/** Writes the report as --json (streamed in pieces), --csv, the addresses of --alive or --unreachable, or the text. */
export function writeReport<R extends SweepReport>(
  stdout: NodeJS.WritableStream,
  report: R,
  flags: ReportFlags,
  text: (report: R) => string,
): void {
  if (flags.json) for (const chunk of jsonChunks(report)) stdout.write(chunk);
  else if (flags.csv) stdout.write(renderCsv(report));
  else if (flags.alive || flags.unreachable) {
    const wanted = report.hosts.filter((host) => answered(host) === (flags.alive === true));
    stdout.write(wanted.map((host) => `${host.ip}\n`).join(''));
  } else stdout.write(text(report));
}

/**
 * The exit code of a report that ran to its end: 0, except with --alive or --unreachable, where it says as fping's
 * does whether every address answered (0) or one did not (1).
 */
export function exitOfComplete(report: SweepReport, flags: ReportFlags): number {
  if (!flags.alive && !flags.unreachable) return 0;
  return report.hosts.every(answered) ? 0 : 1;
}

/**
 * The targets of a command line: its words, then those of `--file` (a path, or `-` for standard input), one or more a
 * line, `#` starting a comment.
 */
export async function targetWords(words: readonly string[], file: string | undefined, stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  if (file === undefined) return words.join(' ');
  let text: string;
  try {
    text = file === '-' ? await readAll(stdin) : await fsPromisesModule().readFile(file, 'utf8');
  } catch (error) {
    throw new InvalidOptionError(`-f ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const lines = text.split('\n').map((line) => line.replace(/#.*$/, '').trim()).filter((line) => line !== '');
  return [...words, ...lines].join(' ');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
