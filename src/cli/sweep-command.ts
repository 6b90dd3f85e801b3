import { commandArgs } from './args.js';
import { loadEngineConfig } from '../config.js';
import { InvalidOptionError, InvalidTargetError } from '../core/errors.js';
import { parseSweepText } from '../core/grammar.js';
import { SWEEP_LIMITS } from '../core/request.js';
import { runSweep } from '../engine/sweep.js';
import type { SweepProgress } from '../engine/scheduler.js';
import { ProgressBar } from './progress.js';
import { REPORT_FLAGS, REPORT_FLAGS_USAGE, checkReportFlags, exitOfComplete, targetWords, writeReport } from './report-output.js';
import { renderText } from '../views/text.js';

export const SWEEP_USAGE = `usage: zensweep sweep <targets…> [tcp:PORTS] [count:N] [timeout:MS] [retries:N] [rate:PPS] [interval:MS] [dns:on]
                      [--json | --csv | --alive | --unreachable] [-f FILE] [--max-addresses N] [--in-flight N] [--no-progress]

  targets   10.0.1.0/24, 10.0.2.10, 10.0.3.5-20, 2001:db8::/120, db.internal (every A/AAAA record)
  tcp:      ports, ranges, presets: tcp:22,5432  tcp:8000-8010  tcp:rds (3306,5432,1433,1521) web ssh rdp
  count:    echoes per host (default 1)     timeout:  ms per probe (default 1000)
  retries:  extra tries when unanswered (1) rate:     packets/s, 0 = unlimited (10000)
  interval: ms between a host's echoes (1000) dns:on    PTR names of the hosts that answer (off)
  key=value works as well as key:value.
${REPORT_FLAGS_USAGE}

example: zensweep sweep 127.0.0.0/28 tcp:22
         zensweep sweep -f hosts.txt --alive
`;

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

function wholeNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new InvalidOptionError(`--${flag} ${value} is not a whole number, e.g. --${flag} 1024`);
  return Number(value);
}

/** `zensweep sweep`: the engine in this process, no Redis and no Slack. Returns the exit code. */
export async function sweepCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = commandArgs(
    'sweep',
    argv,
    { ...REPORT_FLAGS, 'max-addresses': { type: 'string' }, 'in-flight': { type: 'string' } },
    { words: true },
  );
  if (values.help) {
    io.stdout.write(SWEEP_USAGE);
    return 0;
  }
  checkReportFlags(values);
  const config = loadEngineConfig(io.env);
  const maxAddresses = wholeNumber('max-addresses', values['max-addresses']) ?? config.maxAddresses;
  if (maxAddresses !== undefined && (maxAddresses < 1 || maxAddresses > SWEEP_LIMITS.addresses.max)) {
    throw new InvalidOptionError(`--max-addresses ${maxAddresses} is out of range: it takes 1 to ${SWEEP_LIMITS.addresses.max}, e.g. --max-addresses 65536`);
  }
  const maxInFlight = wholeNumber('in-flight', values['in-flight']) ?? config.maxInFlight;
  if (maxInFlight !== undefined && (maxInFlight < 1 || maxInFlight > 60_000)) {
    throw new InvalidOptionError(`--in-flight ${maxInFlight} is out of range: it takes 1 to 60000, e.g. --in-flight 4096`);
  }
  const words = await targetWords(positionals, values.file);
  const request = parseSweepText(words, { maxAddresses });
  // Several vantages are several agents: this machine is one.
  if (request.options.from !== undefined) {
    throw new InvalidOptionError(`from:${request.options.from} sweeps from several agents: run it through them with zensweep submit, e.g. zensweep submit 10.0.1.0/24 from:all`);
  }
  // What only the agents and Redis can honour is refused, not dropped in silence.
  const { vpc, save, compare } = request.options;
  if (vpc !== undefined) {
    throw new InvalidOptionError(`vpc:${vpc} picks the agents that sweep: this sweep runs here; to run it on them: zensweep submit ${words}`);
  }
  for (const [key, name] of [['save', save], ['compare', compare]] as const) {
    if (name !== undefined) {
      throw new InvalidOptionError(`${key}:${name} keeps baselines in Redis, which a sweep from here does not use: zensweep submit ${words} does`);
    }
  }

  // Made at the first progress report, when the first probes are out: opening stderr (on a terminal that loads
  // node:tty and node:net) would otherwise delay them by ~10 ms.
  let bar: ProgressBar | undefined;
  let barDecided = values['no-progress'] === true;
  const showProgress = (progress: SweepProgress): void => {
    if (!barDecided) {
      barDecided = true;
      if (io.stderr.isTTY) bar = new ProgressBar(io.stderr);
    }
    bar?.update(progress);
  };
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  try {
    const report = await runSweep(request, {
      maxAddresses,
      maxInFlight,
      sendHelper: config.sendHelper,
      icmp: config.icmp,
      signal: controller.signal,
      onProgress: barDecided ? undefined : showProgress,
      onWarning: (message) => {
        bar?.clear();
        io.stderr.write(`zensweep: warning: ${message}\n`);
      },
      onNotice: (message) => {
        bar?.clear();
        io.stderr.write(`zensweep: ${message}\n`);
      },
    });
    bar?.clear();
    // Names and nothing else, none of which resolved: there was nothing to sweep, which is the input's fault.
    const unresolved = report.names.filter((n) => n.addresses.length === 0);
    if (report.hosts.length === 0 && unresolved.length > 0 && unresolved.length === request.targets.length) {
      const said = unresolved.map((n) => `${n.name} (${n.error ?? 'no address'})`).join(', ');
      throw new InvalidTargetError(`nothing to sweep: ${said} ${unresolved.length === 1 ? 'resolves' : 'resolve'} to no address`);
    }
    writeReport(io.stdout, report, values, renderText);
    if (report.complete) return exitOfComplete(report, values);
    // 130 as for Ctrl-C when cancelled; 1 when the sweep gave up past its time bound.
    return report.stopped?.code === 'over_time' ? 1 : 130;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
