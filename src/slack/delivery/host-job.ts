import type { DiagReport } from '../../core/diag.js';
import type { TraceReport } from '../../core/trace.js';
import { HostJobFailedError, hostJobTimeoutMs } from '../../queue/host-jobs.js';
import { renderDiagText } from '../../views/diag/text.js';
import { diagBlocks, traceBlocks } from '../../views/trace/slack.js';
import { renderTraceText } from '../../views/trace/text.js';
import type { DeliveryDeps } from './delivery.js';
import type { Delivery } from './delivery.js';
import type { HostJobDelivery } from './jobs.js';

/**
 * A trace's or diag's delivery: posts the parent message, enqueues the job on the group's queue (once), waits for
 * its agent's report, posts it in the thread with the full text as a file to paste into a ticket, and marks the
 * parent with the conclusion; then ends the requester's slot. Like a sweep's, each step is done once: a bot killed
 * mid-trace and started again posts the result when it comes.
 */
export async function deliverHostJob(data: HostJobDelivery, delivery: Delivery, deps: DeliveryDeps, signal?: AbortSignal): Promise<{ posted: boolean }> {
  const { job, channel, user, text } = data;
  const parentTs = await delivery.parent({ text: `<@${user}> asked for \`${text}\` on ${job.group}: running…` });
  await delivery.step('started', () => deps.hostJobs.enqueue(job));
  let report: TraceReport | DiagReport;
  try {
    report = await deps.hostJobs.wait(job, hostJobTimeoutMs(job), signal);
  } catch (error) {
    // Stopped waiting (a shutdown) is handed back for the next bot, not the job's failure.
    if (!(error instanceof HostJobFailedError) || signal?.aborted) throw error;
    deps.log.warn({ event: 'host_job_failed', kind: job.kind, id: job.id, message: error.message });
    await delivery.fail(parentTs, error.message);
    return { posted: false };
  }
  const trace = job.kind === 'trace' ? (report as TraceReport) : undefined;
  const summary = trace ? trace.conclusion : (report as DiagReport).summary.join('; ');
  const blocks = trace ? traceBlocks(trace) : diagBlocks(report as DiagReport);
  const posted = await delivery.answer(parentTs, { text: summary, blocks });
  if (parentTs) {
    const content = trace ? renderTraceText(trace) : renderDiagText(report as DiagReport);
    const name = `zensweep-${job.id}.txt`;
    await delivery.files(parentTs, { name, upload: () => deps.client.files.uploadV2({ channel_id: channel, thread_ts: parentTs, filename: name, title: text, content }) });
    await delivery.step('parent', () => deps.client.chat.update({ channel, ts: parentTs, text: `<@${user}> \`${text}\` on ${job.group}: ${summary}` }));
  }
  await delivery.end(posted, 'delivered');
  return { posted };
}
