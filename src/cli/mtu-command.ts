import { InvalidOptionError } from '../core/errors.js';
import { parseHost } from '../core/trace-grammar.js';
import { findPathMtu } from '../engine/trace/pmtu.js';
import { resolveTarget } from '../engine/trace/run-trace.js';
import { renderPathMtuText } from '../views/trace/path-mtu-text.js';
import { hostReportCommand } from './host-command.js';
import type { CommandIo } from './sweep-command.js';

export const MTU_USAGE = `usage: zensweep mtu <host> [--json]

  Finds the path MTU to one host from this machine: ICMP echoes with Don't Fragment at 1500, 8500, 9001 bytes
  and the interface MTU, then a search between what passed and what failed (about 10 s at most). Names who sent
  "fragmentation needed", or the black hole where nobody did.

example: zensweep mtu 10.0.2.15
`;

/** `zensweep mtu`: the path MTU from this machine. */
export function mtuCommand(argv: string[], io: CommandIo): Promise<number> {
  return hostReportCommand(
    'mtu',
    argv,
    io,
    MTU_USAGE,
    async (words, signal) => {
      if (words.length > 1) throw new InvalidOptionError('mtu takes one host and nothing else, e.g. zensweep mtu 10.0.2.15');
      const { address, family } = await resolveTarget(parseHost('mtu', words[0]), {});
      return findPathMtu(address, family, { signal });
    },
    renderPathMtuText,
  );
}
