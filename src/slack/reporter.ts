import type { Job } from 'bullmq';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { renderCsv } from '../views/csv.js';
import type { Dispatcher } from '../queue/dispatcher.js';
import type { DistributedReport } from '../core/report.js';
import { bullmq } from '../queue/load.js';
import { firstIssue, logBadRecords } from '../queue/records.js';
import type { AuditTrail } from './audit.js';
import type { SlackStore } from './store.js';
import { filesComment, finishedBlocks, progressBlocks, reportBlocks } from '../views/blocks.js';
import type { SweepHeader } from '../views/blocks.js';
import { mapSvg, sweepMap } from '../views/map.js';
import { mapPng } from './map-picture.js';
import { INVITE_HINT } from './render/replies.js';
import { deliveryJobSchema } from './sweeps.js';

/** Live progress edits the parent message at most this often, in ms (chat.update is rate limited per message). */
export const PROGRESS_EVERY_MS = 1000;

export interface ReporterDeps {
  client: WebClient;
  store: SlackStore;
  dispatcher: Dispatcher;
  audit: AuditTrail;
  log: Logger;
  /** Where response_url messages go; default: fetch. */
  post?: (url: string, body: unknown) => Promise<void>;
}

async function postJson(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`response_url answered ${response.status}`);
}

/**
 * The report's files, in one reply under it: the map picture (when the sweep had IPv4 addresses) and the CSV of
 * every host, with the summary as comment. A map that cannot be drawn is left out, not the CSV.
 */
function reportFiles(report: DistributedReport, header: SweepHeader, channel: string, threadTs: string, log: Logger) {
  const map = sweepMap(report);
  const uploads: { filename: string; title: string; file?: Buffer; content?: string }[] = [];
  let drawn = map;
  if (map) {
    try {
      uploads.push({ filename: `zensweep-${report.sweepId}-map.png`, title: `Map of ${header.text}`, file: mapPng(mapSvg(map)) });
    } catch (error) {
      drawn = undefined;
      log.warn({ event: 'map_not_drawn', sweepId: report.sweepId, message: (error as Error).message });
    }
  }
  uploads.push({ filename: `zensweep-${report.sweepId}.csv`, title: 'Every host (CSV)', content: renderCsv(report) });
  return {
    channel_id: channel,
    thread_ts: threadTs,
    initial_comment: filesComment(report, drawn),
    file_uploads: uploads.map((u) => (u.file ? { filename: u.filename, title: u.title, file: u.file } : { filename: u.filename, title: u.title, content: u.content ?? '' })),
  };
}

/**
 * A delivery job, one per sweep: follows the sweep's progress on the parent message, then posts the report in
 * its thread (or through response_url where the bot cannot post), attaches the CSV when the message had to fold,
 * and marks the parent done. Each step is recorded in Redis once done, so a job that runs again (Slack failed,
 * the bot restarted) does only what is left: the report is posted once.
 */
export function deliveryProcessor(deps: ReporterDeps) {
  const post = deps.post ?? postJson;
  const { store } = deps;

  return async (job: Job, _token?: string, signal?: AbortSignal): Promise<{ posted: boolean }> => {
    const parsed = deliveryJobSchema.safeParse(job.data);
    if (!parsed.success) throw new bullmq.UnrecoverableError(`bad delivery job data: ${firstIssue(parsed.error)}`);
    const { sweepId, channel, parentTs, header } = parsed.data;
    let lastUpdate = 0;
    let updating: Promise<unknown> = Promise.resolve();
    const report: DistributedReport = await deps.dispatcher.waitForReport(
      { sweepId, plan: { groups: header.groups, chunks: [], addresses: header.addresses }, agents: [] },
      {
        signal,
        onProgress: (progress) => {
          const now = Date.now();
          if (!parentTs || now - lastUpdate < PROGRESS_EVERY_MS) return;
          lastUpdate = now;
          // One edit at a time; a failed edit is only a missed frame.
          updating = updating.then(() =>
            deps.client.chat
              .update({ channel, ts: parentTs, text: `Sweeping ${header.text}…`, blocks: progressBlocks(header, sweepId, progress) })
              .catch((error: Error) => deps.log.warn({ event: 'progress_update_failed', sweepId, message: error.message })),
          );
        },
      },
    );
    await updating;
    const view = reportBlocks(report, header);
    let posted = false;
    if (!(await store.delivered(sweepId, 'report'))) {
      if (parentTs) {
        const reply = await deps.client.chat.postMessage({
          channel,
          thread_ts: parentTs,
          text: view.text,
          blocks: view.blocks,
          metadata: { event_type: 'zensweep_report', event_payload: { sweep_id: sweepId } },
        });
        await store.markDelivered(sweepId, 'report', reply.ts ?? '1');
      } else {
        const url = await store.responseUrl(sweepId, logBadRecords(deps.log));
        if (!url) throw new bullmq.UnrecoverableError('the response_url of this sweep has expired or is unreadable: the report is in the history only');
        await post(url, {
          response_type: 'ephemeral',
          replace_original: false,
          text: view.text,
          blocks: [{ type: 'context', elements: [{ type: 'mrkdwn', text: INVITE_HINT }] }, ...view.blocks.slice(0, 49)],
        });
        await store.markDelivered(sweepId, 'report');
      }
      posted = true;
    }
    if (parentTs && report.hosts.length > 0 && !(await store.delivered(sweepId, 'files'))) {
      await deps.client.files.uploadV2(reportFiles(report, header, channel, parentTs, deps.log));
      await store.markDelivered(sweepId, 'files');
    }
    if (parentTs && !(await store.delivered(sweepId, 'parent'))) {
      await deps.client.chat.update({ channel, ts: parentTs, text: view.text, blocks: finishedBlocks(header, report) });
      await store.markDelivered(sweepId, 'parent');
    }
    await store.removeRunning(header.user, sweepId);
    if (posted) {
      await deps.audit.record({
        user: header.user,
        channel,
        text: header.text,
        outcome: report.cancelled ? 'cancelled' : 'delivered',
        sweepId,
      });
    }
    return { posted };
  };
}
