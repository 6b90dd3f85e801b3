import { parseArgs } from 'node:util';
import { InvalidOptionError } from '../core/errors.js';
import { tokenize } from '../core/grammar.js';
import { parseTraceTokens } from '../core/trace-grammar.js';
import { findPathMtu } from '../engine/trace/pmtu.js';
import { resolveTarget } from '../engine/trace/run-trace.js';
import { renderPathMtuText } from '../views/trace/path-mtu-text.js';
import type { CommandIo } from './sweep-command.js';
import { untilInterrupted } from './trace-command.js';

export const MTU_USAGE = `usage: zensweep mtu <host> [--json]

  Finds the path MTU to one host from this machine: ICMP echoes with Don't Fragment at 1500, 8500, 9001 bytes
  and the interface MTU, then a search between what passed and what failed (about 10 s at most). Names who sent
  "fragmentation needed", or the black hole where nobody did.

example: zensweep mtu 10.0.2.15
`;

/** `zensweep mtu`: the path MTU from this machine. */
export async function mtuCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    io.stdout.write(MTU_USAGE);
    return 0;
  }
  const request = parseTraceTokens(tokenize(positionals.join(' ')));
  if (positionals.length > 1) throw new InvalidOptionError('mtu takes one host and nothing else, e.g. zensweep mtu 10.0.2.15');
  const { address, family } = await resolveTarget(request.target, {});
  const { result: report, interrupted } = await untilInterrupted((signal) => findPathMtu(address, family, { signal }));
  io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : renderPathMtuText(report));
  return interrupted ? 130 : 0;
}
