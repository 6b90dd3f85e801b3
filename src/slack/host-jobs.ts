import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { DiagReport } from '../core/diag.js';
import { isZenSweepError } from '../core/errors.js';
import { describeTrace } from '../core/trace-grammar.js';
import type { TraceReport } from '../core/trace.js';
import { hostJobTimeoutMs, sweepRequestOf } from '../queue/host-jobs.js';
import type { HostJobs, HostRequest, PlannedHostJob } from '../queue/host-jobs.js';
import { renderDiagText } from '../views/diag/text.js';
import { diagBlocks, traceBlocks } from '../views/trace/slack.js';
import { renderTraceText } from '../views/trace/text.js';
import type { AuditTrail } from './audit.js';
import { checkPolicy, checkRequest } from './policy.js';
import type { Policy, Requester } from './policy.js';
import { errorText } from './render/replies.js';
import type { Ack, SweepOrigin } from './sweeps.js';

export interface SlackHostJobsDeps {
  client: WebClient;
  jobs: HostJobs;
  policy: Policy;
  audit: AuditTrail;
  log: Logger;
  /** The requester the policy judges (with the user groups it names), as for a sweep. */
  requester: (user: string, channel: string) => Promise<Requester>;
}

/** `trace 10.0.2.15 tcp:443`, `diag 10.0.2.15 tcp:443,5432`: the words of the request, canonical. */
export function describeHostJob(job: HostRequest): string {
  if (job.kind === 'trace') return `trace ${describeTrace(job.request)}`;
  const { options, target } = job.request;
  return `diag ${target.text} tcp:${options.ports.join(',')}${options.vpc ? ` vpc:${options.vpc}` : ''}`;
}

/**
 * `/sweep trace …` and `/sweep diag …`: authorized exactly as a sweep of that one host (the policy on the request,
 * then on the plan), answered at once, then run on an agent of the group that covers the host; the result goes in
 * the thread of a parent message, with the full report as a text file to paste into a ticket.
 */
export class SlackHostJobs {
  constructor(private readonly deps: SlackHostJobsDeps) {}

  async handle(origin: SweepOrigin, job: HostRequest): Promise<{ ack: Ack; after?: () => Promise<void> }> {
    const { deps } = this;
    const text = describeHostJob(job);
    try {
      const who = await deps.requester(origin.user, origin.channel);
      checkRequest(deps.policy, who, sweepRequestOf(job));
      const planned = await deps.jobs.plan(job, (reach) => checkPolicy(deps.policy, who, reach));
      const verb = job.kind === 'trace' ? 'Tracing' : 'Gathering the diag of';
      return {
        ack: { response_type: 'ephemeral', text: `${verb} \`${job.request.target.text}\` from ${planned.group}…` },
        after: () => this.run(origin, job, planned, text),
      };
    } catch (error) {
      if (!isZenSweepError(error)) throw error;
      const outcome = error.code === 'invalid_target' || error.code === 'invalid_option' ? 'invalid' : 'refused';
      await deps.audit.record({ user: origin.user, channel: origin.channel, text, outcome, reason: error.message });
      return { ack: { response_type: 'ephemeral', text: errorText(error.message) } };
    }
  }

  private async run(origin: SweepOrigin, job: HostRequest, planned: PlannedHostJob, text: string): Promise<void> {
    const { deps } = this;
    const { channel, user } = origin;
    const parent = await deps.client.chat.postMessage({ channel, text: `<@${user}> asked for \`${text}\` on ${planned.group}: running…` });
    const queued = await deps.jobs.submit(job, planned, user);
    await deps.audit.record({ user, channel, text, outcome: 'started', sweepId: queued.id });
    let report: TraceReport | DiagReport;
    try {
      report = await deps.jobs.wait(queued, hostJobTimeoutMs(job));
    } catch (error) {
      const reason = isZenSweepError(error) ? error.message : 'the agent did not answer';
      deps.log.warn({ event: 'host_job_failed', kind: job.kind, id: queued.id, message: (error as Error).message });
      await deps.audit.record({ user, channel, text, outcome: 'failed', sweepId: queued.id, reason });
      if (parent.ts) await deps.client.chat.update({ channel, ts: parent.ts, text: `\`${text}\` failed: ${reason}` });
      return;
    }
    const trace = job.kind === 'trace' ? (report as TraceReport) : undefined;
    const summary = trace ? trace.conclusion : (report as DiagReport).summary.join('; ');
    const blocks = trace ? traceBlocks(trace) : diagBlocks(report as DiagReport);
    await deps.client.chat.postMessage({ channel, thread_ts: parent.ts, text: summary, blocks });
    const file = { filename: `zensweep-${queued.id}.txt`, title: text, content: trace ? renderTraceText(trace) : renderDiagText(report as DiagReport) };
    await deps.client.files.uploadV2(parent.ts ? { channel_id: channel, thread_ts: parent.ts, ...file } : { channel_id: channel, ...file });
    if (parent.ts) await deps.client.chat.update({ channel, ts: parent.ts, text: `<@${user}> \`${text}\` on ${planned.group}: ${summary}` });
    await deps.audit.record({ user, channel, text, outcome: 'delivered', sweepId: queued.id });
  }
}
