import { parseTraceTokens } from '../core/trace-grammar.js';
import { runTrace } from '../engine/trace/run-trace.js';
import { renderTraceText } from '../views/trace/text.js';
import { hostReportCommand } from './host-command.js';
import type { CommandIo } from './sweep-command.js';

export const TRACE_USAGE = `usage: zensweep trace <host> [tcp:PORT | udp | icmp] [count:N] [max:HOPS] [timeout:MS] [dns:on] [--json]

  Traces the path to one host from this machine, every hop at once, with a constant flow (Paris traceroute).
  mode      default: ICMP, then TCP 443 when ICMP gets no answer from the host
            tcp:PORT  SYNs to PORT (the end says open or closed)   udp  to port 33434   icmp  echo only
  count:    probes per hop (3)          max:      highest hop (30)
  timeout:  ms to wait for one probe (1000)     dns:on  reverse DNS of the hops (off)

example: zensweep trace 10.0.2.15 tcp:443
`;

/** `zensweep trace`: from this machine, no Redis and no Slack. */
export function traceCommand(argv: string[], io: CommandIo): Promise<number> {
  return hostReportCommand('trace', argv, io, TRACE_USAGE, (words, signal) => runTrace(parseTraceTokens(words), { signal }), renderTraceText);
}
