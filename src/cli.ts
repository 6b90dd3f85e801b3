#!/usr/bin/env -S node --max-semi-space-size=2
// A small young generation: measured on a /16 sweep, it is faster and peaks ~15 MB lower than V8's default.
import { isZenSweepError } from './core/errors.js';
import { SWEEP_USAGE, sweepCommand } from './cli/sweep-command.js';

const USAGE = `usage: zensweep <command> [arguments]

commands:
  sweep <targets…> [options]   probe from this machine and print the report (no Redis, no Slack)
  help                         this text

${SWEEP_USAGE}`;

/** A parse error from node:util's parseArgs is bad input too. */
function isArgumentError(error: unknown): error is Error {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };
  try {
    switch (command) {
      case 'sweep':
        return await sweepCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      default:
        process.stderr.write(`zensweep: unknown command '${command}'; try: zensweep sweep 127.0.0.0/28\n`);
        return 2;
    }
  } catch (error) {
    if (isZenSweepError(error) || isArgumentError(error)) {
      process.stderr.write(`zensweep: ${(error as Error).message}\n`);
      return 2;
    }
    process.stderr.write(`zensweep: internal error: ${error instanceof Error ? error.stack : String(error)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
