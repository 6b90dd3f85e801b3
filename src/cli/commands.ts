/** The commands that run in this process alone (main.ts). */
export const LOCAL_COMMANDS = ['sweep', 'trace', 'mtu', 'diag', 'help'] as const;

/** The commands of distributed.ts, named here so that main.ts can tell them without loading their bundle. */
export const DISTRIBUTED_COMMANDS = ['submit', 'agents', 'cancel', 'history', 'agent', 'bot'] as const;

export type DistributedCommand = (typeof DISTRIBUTED_COMMANDS)[number];

export function isDistributedCommand(command: string): command is DistributedCommand {
  return (DISTRIBUTED_COMMANDS as readonly string[]).includes(command);
}
