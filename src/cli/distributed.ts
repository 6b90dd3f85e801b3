/**
 * The commands that work through Redis or Slack: submit, agents, cancel, history, agent and bot. The build makes
 * them a bundle of their own (dist/bundle/distributed.cjs, scripts/bundle.mjs), so that `zensweep sweep` does not
 * load zod, the Slack app, the agent and the queue code at every start; main.ts loads it when one of them is run.
 */
import type { DistributedCommand } from './commands.js';
import { reportFailure } from './failure.js';
import type { CommandIo } from './sweep-command.js';

type Command = (argv: string[], io: CommandIo) => Promise<number>;

/** Each command's module, loaded on use: `submit` does not pay for the Slack app, nor `bot` for the agent. */
const COMMANDS: Record<DistributedCommand, () => Promise<Command>> = {
  submit: async () => (await import('./submit-command.js')).submitCommand,
  agents: async () => (await import('./submit-command.js')).agentsCommand,
  cancel: async () => (await import('./submit-command.js')).cancelCommand,
  history: async () => (await import('./submit-command.js')).historyCommand,
  agent: async () => (await import('./agent-command.js')).agentCommand,
  bot: async () => (await import('./bot-command.js')).botCommand,
};

/** Runs one of these commands and returns its exit code; its errors are reported here, with this bundle's classes. */
export async function runDistributed(command: DistributedCommand, argv: string[], io: CommandIo): Promise<number> {
  try {
    // The services read their settings from the environment, or from a .env file beside them.
    (await import('dotenv')).config({ quiet: true });
    return await (await COMMANDS[command]())(argv, io);
  } catch (error) {
    return reportFailure(error, io.stderr);
  }
}

/**
 * Loads every command's module, without running any: the build calls it before it writes this bundle's code cache
 * (bundle-loader.cts), so the cache holds their module code compiled.
 */
export async function warmUp(): Promise<void> {
  await Promise.all(Object.values(COMMANDS).map((load) => load()));
}
