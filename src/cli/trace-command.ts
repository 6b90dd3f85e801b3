import { parseArgs } from 'node:util';
import { tokenize } from '../core/grammar.js';
import { parseTraceTokens } from '../core/trace-grammar.js';
import { runTrace } from '../engine/trace/run-trace.js';
import { renderTraceText } from '../views/trace/text.js';
import type { CommandIo } from './sweep-command.js';

export const TRACE_USAGE = `usage: zensweep trace <host> [tcp:PORT | udp | icmp] [count:N] [max:HOPS] [timeout:MS] [dns:on] [--json]

  Traces the path to one host from this machine, every hop at once, with a constant flow (Paris traceroute).
  mode      default: ICMP, then TCP 443 when ICMP gets no answer from the host
            tcp:PORT  SYNs to PORT (the end says open or closed)   udp  to port 33434   icmp  echo only
  count:    probes per hop (3)          max:      highest hop (30)
  timeout:  ms to wait for one probe (1000)     dns:on  reverse DNS of the hops (off)

example: zensweep trace 10.0.2.15 tcp:443
`;

/** Runs a request until SIGINT, which stops it and prints what it found so far (exit 130). */
export async function untilInterrupted<T>(run: (signal: AbortSignal) => Promise<T>): Promise<{ result: T; interrupted: boolean }> {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  try {
    const result = await run(controller.signal);
    return { result, interrupted: controller.signal.aborted };
  } finally {
    process.off('SIGINT', onSignal);
  }
}

/** `zensweep trace`: from this machine, no Redis and no Slack. */
export async function traceCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    io.stdout.write(TRACE_USAGE);
    return 0;
  }
  const request = parseTraceTokens(tokenize(positionals.join(' ')));
  const { result: report, interrupted } = await untilInterrupted((signal) => runTrace(request, { signal }));
  io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : renderTraceText(report));
  return interrupted ? 130 : 0;
}
