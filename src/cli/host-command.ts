import { commandArgs } from './args.js';
import { tokenize } from '../core/grammar.js';
import type { CommandIo } from './sweep-command.js';

/**
 * The shape of `zensweep trace|mtu|diag`: words after the command, `--json` or the terminal view, `--help`, and
 * SIGINT stopping the run and printing what it found so far (exit 130).
 */
export async function hostReportCommand<R>(
  command: string,
  argv: string[],
  io: CommandIo,
  usage: string,
  run: (words: string[], signal: AbortSignal) => Promise<R>,
  render: (report: R) => string,
): Promise<number> {
  const { values, positionals } = commandArgs(command, argv, { json: { type: 'boolean' } }, { words: true });
  if (values.help) {
    io.stdout.write(usage);
    return 0;
  }
  const words = tokenize(positionals.join(' '));
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  try {
    const report = await run(words, controller.signal);
    io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : render(report));
    return controller.signal.aborted ? 130 : 0;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
