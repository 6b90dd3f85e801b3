import { parseArgs } from 'node:util';
import { tokenize } from '../core/grammar.js';
import { parseDiagTokens } from '../core/trace-grammar.js';
import { runDiag } from '../engine/diag/run-diag.js';
import { renderDiagText } from '../views/diag/text.js';
import type { CommandIo } from './sweep-command.js';
import { untilInterrupted } from './trace-command.js';

export const DIAG_USAGE = `usage: zensweep diag <host> [tcp:PORTS] [--json]

  The facts a network team asks for, gathered from this machine in about 10 s: source address and interface with
  its MTU, the route and default gateway, the next hop's ARP entry, name resolution, 10 pings, a connect to each
  TCP port, the trace (TCP to the first port when ICMP is filtered), the path MTU, the UTC time window, and the
  equivalent Linux commands. Ready to paste into a ticket.

example: zensweep diag 10.0.2.15 tcp:443,5432
`;

/** `zensweep diag`: the escalation report, from this machine. */
export async function diagCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    io.stdout.write(DIAG_USAGE);
    return 0;
  }
  const request = parseDiagTokens(tokenize(positionals.join(' ')));
  const { result: report, interrupted } = await untilInterrupted((signal) => runDiag(request, { signal }));
  io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : renderDiagText(report));
  return interrupted ? 130 : 0;
}
