/**
 * The `zensweep` command line: picks the command and turns errors into exit codes. `src/cli.cts` (the executable)
 * runs it from the bundle that `npm run build` makes, or from these modules when there is none.
 */
import { loadBundle } from '../bundle-loader.cjs';
import { nearest } from './args.js';
import { DISTRIBUTED_COMMANDS, LOCAL_COMMANDS, isDistributedCommand } from './commands.js';
import { reportFailure } from './failure.js';
import { SWEEP_USAGE, sweepCommand } from './sweep-command.js';
import type { CommandIo } from './sweep-command.js';

export { warmUp } from './warm-up.js';

type Distributed = typeof import('./distributed.js');

/**
 * The commands that work through Redis or Slack, loaded on use: `zensweep sweep` does not pay for zod, BullMQ, the
 * agent or the Slack app at start. From their own bundle with its code cache when the build made one; the build
 * leaves './distributed.js' out of this bundle (scripts/bundle.mjs).
 */
async function loadDistributed(): Promise<Distributed> {
  return loadBundle<Distributed>('distributed')?.exports ?? (await import('./distributed.js'));
}

const USAGE = `usage: zensweep <command> [arguments]

commands:
  sweep <targets…> [options]   probe from this machine and print the report (no Redis, no Slack)
  trace <host> [options]       trace the path to one host, hop by hop, in ICMP, UDP or TCP (zensweep trace --help)
  mtu <host>                   the path MTU to one host, and who limits it (zensweep mtu --help)
  diag <host> [tcp:PORTS]      the escalation report for one host, ready for a ticket (zensweep diag --help)
  submit <targets…> [options]  run the sweep on the agents inside the target network, through Redis
  submit trace <host>          run the trace on an agent of the host's network, through Redis
  submit diag <host>           run the diag on an agent of the host's network, through Redis
  agents                       list the live agents, their groups and networks
  history [targets…]           recent sweeps, all or of the same targets
  cancel <sweep id>            stop a running sweep
  agent                        run an agent (settings from the environment; see zensweep agent --help)
  bot                          run the Slack app (settings from the environment; see zensweep bot --help)
  help                         this text

Every command answers --help (or -h) with what it takes.

${SWEEP_USAGE}`;

let stdoutOpened = false;

/**
 * process.stdout, opened on first use: opening it loads Node's stream modules (~5 ms), which a sweep can do while
 * its first probes are out rather than before.
 */
function stdout(): NodeJS.WriteStream {
  if (!stdoutOpened) {
    stdoutOpened = true;
    // A reader that stops early (`zensweep sweep … | head`) is not an error.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  return process.stdout;
}

/** What is said of a command that is none: the one it was probably meant to be, or one to try. */
function unknownCommand(command: string): string {
  const meant = nearest(command, [...LOCAL_COMMANDS, ...DISTRIBUTED_COMMANDS]);
  return meant
    ? `unknown command '${command}': did you mean ${meant}? (zensweep help lists them)`
    : `unknown command '${command}'; try: zensweep sweep 127.0.0.0/28 (zensweep help lists them)`;
}

/** Runs one command line (without `node` and the script) and returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const io: CommandIo = {
    get stdout() {
      return stdout();
    },
    get stderr() {
      return process.stderr;
    },
    env: process.env,
  };
  try {
    switch (command) {
      case 'sweep':
        return await sweepCommand(rest, io);
      case 'trace':
        return await (await import('./trace-command.js')).traceCommand(rest, io);
      case 'mtu':
        return await (await import('./mtu-command.js')).mtuCommand(rest, io);
      case 'diag':
        return await (await import('./diag-command.js')).diagCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(USAGE);
        return 0;
      default:
        if (isDistributedCommand(command)) return await (await loadDistributed()).runDistributed(command, rest, io);
        process.stderr.write(`zensweep: ${unknownCommand(command)}\n`);
        return 2;
    }
  } catch (error) {
    return reportFailure(error, process.stderr);
  }
}
