import { parseDiagTokens } from '../core/trace-grammar.js';
import { runDiag } from '../engine/diag/run-diag.js';
import { renderDiagText } from '../views/diag/text.js';
import { hostReportCommand } from './host-command.js';
import type { CommandIo } from './sweep-command.js';

export const DIAG_USAGE = `usage: zensweep diag <host> [tcp:PORTS] [--json]

  The facts a network team asks for, gathered from this machine in about 10 s: source address and interface with
  its MTU, the route and default gateway, the next hop's ARP entry, name resolution, 10 pings, a connect to each
  TCP port, the trace (TCP to the first port when ICMP is filtered), the path MTU, the UTC time window, and the
  equivalent Linux commands. Ready to paste into a ticket.

example: zensweep diag 10.0.2.15 tcp:443,5432
`;

/** `zensweep diag`: the escalation report, from this machine. */
export function diagCommand(argv: string[], io: CommandIo): Promise<number> {
  return hostReportCommand('diag', argv, io, DIAG_USAGE, (words, signal) => runDiag(parseDiagTokens(words), { signal }), renderDiagText);
}
