import { commandArgs } from './args.js';
import type { DiagReport } from '../core/diag.js';
import { tokenize } from '../core/grammar.js';
import { parseDiagTokens, parseTraceTokens } from '../core/trace-grammar.js';
import type { TraceReport } from '../core/trace.js';
import { hostJobTimeoutMs } from '../queue/host-jobs.js';
import type { HostJobKind } from '../queue/host-jobs.js';
import { renderDiagText } from '../views/diag/text.js';
import { renderTraceText } from '../views/trace/text.js';
import { cliDoor, connect } from './door.js';
import type { CommandIo } from './sweep-command.js';

export const SUBMIT_TRACE_USAGE = `usage: zensweep submit trace <host> [tcp:PORT | udp | icmp] [count:N] [max:HOPS] [timeout:MS] [dns:on] [vpc:NAME] [--json]

Runs the trace on an agent of the group whose networks hold the host (vpc:NAME to choose the group), through Redis,
and prints its report as zensweep trace does here.

example: zensweep submit trace 10.0.2.15 tcp:443
`;

export const SUBMIT_DIAG_USAGE = `usage: zensweep submit diag <host> [tcp:PORTS] [vpc:NAME] [--json]

Runs the diag on an agent of the group whose networks hold the host (vpc:NAME to choose the group), through Redis,
and prints its report as zensweep diag does here.

example: zensweep submit diag 10.0.2.15 tcp:443,5432
`;

/**
 * `zensweep submit trace|diag <host> …`: the trace or diag runs on an agent of the group that covers the host, as a
 * sweep of that host would; bad input exits 2 before Redis is asked, a refusal exits 2 with nothing enqueued.
 */
export async function submitHostCommand(kind: HostJobKind, argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = commandArgs(`submit ${kind}`, argv, { json: { type: 'boolean' }, 'no-progress': { type: 'boolean' } }, { words: true });
  if (values.help) {
    io.stdout.write(kind === 'trace' ? SUBMIT_TRACE_USAGE : SUBMIT_DIAG_USAGE);
    return 0;
  }
  const tokens = tokenize(positionals.join(' '));
  const command =
    kind === 'trace' ? { kind: 'trace' as const, request: parseTraceTokens(tokens) } : { kind: 'diag' as const, request: parseDiagTokens(tokens) };
  const redis = await connect(io);
  const opened = cliDoor(io, redis);
  const asked = opened.request(`${kind} ${positionals.join(' ')}`);
  let release = async (): Promise<void> => undefined;
  try {
    const { job } = command.kind === 'trace' ? await opened.door.run(asked, command) : await opened.door.run(asked, command);
    release = () => opened.slots.release({ requester: asked.user, id: job.id });
    io.stderr.write(`zensweep: ${kind} ${job.id} of ${job.target} on ${job.group}\n`);
    const report = await opened.hostJobs.wait(job, hostJobTimeoutMs(job));
    if (values.json) io.stdout.write(`${JSON.stringify(report)}\n`);
    else io.stdout.write(kind === 'trace' ? renderTraceText(report as TraceReport) : renderDiagText(report as DiagReport));
    return 0;
  } finally {
    await release().catch(() => undefined);
    await opened.close();
    redis.disconnect();
  }
}
