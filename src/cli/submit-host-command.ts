import { parseArgs } from 'node:util';
import type { DiagReport } from '../core/diag.js';
import { tokenize } from '../core/grammar.js';
import { parseDiagTokens, parseTraceTokens } from '../core/trace-grammar.js';
import type { TraceReport } from '../core/trace.js';
import { HostJobs, hostJobTimeoutMs } from '../queue/host-jobs.js';
import type { HostJobKind, HostRequest } from '../queue/host-jobs.js';
import { renderDiagText } from '../views/diag/text.js';
import { renderTraceText } from '../views/trace/text.js';
import { connect, requester } from './submit-command.js';
import type { CommandIo } from './sweep-command.js';

/**
 * `zensweep submit trace|diag <host> …`: the trace or diag runs on an agent of the group that covers the host, as a
 * sweep of that host would; bad input exits 2 before Redis is asked, a refusal exits 2 with nothing enqueued.
 */
export async function submitHostCommand(kind: HostJobKind, argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { json: { type: 'boolean' }, 'no-progress': { type: 'boolean' } },
  });
  const tokens = tokenize(positionals.join(' '));
  const job: HostRequest = kind === 'trace' ? { kind, request: parseTraceTokens(tokens) } : { kind, request: parseDiagTokens(tokens) };
  const redis = await connect(io);
  const jobs = new HostJobs(redis);
  try {
    const planned = await jobs.plan(job);
    const queued = await jobs.submit(job, planned, requester());
    io.stderr.write(`zensweep: ${kind} ${queued.id} of ${queued.target} on ${queued.group}\n`);
    const report = await jobs.wait(queued, hostJobTimeoutMs(job));
    if (values.json) io.stdout.write(`${JSON.stringify(report)}\n`);
    else io.stdout.write(kind === 'trace' ? renderTraceText(report as TraceReport) : renderDiagText(report as DiagReport));
    return 0;
  } finally {
    await jobs.close();
    redis.disconnect();
  }
}
