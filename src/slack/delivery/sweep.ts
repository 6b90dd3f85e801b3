import type { Logger } from 'pino';
import type { DistributedReport } from '../../core/report.js';
import { SweepFailedError } from '../../queue/dispatcher.js';
import type { SweepFlow } from '../../queue/dispatcher.js';
import { renderCsv } from '../../views/csv.js';
import { filesComment, finishedBlocks, progressBlocks, reportBlocks } from '../../views/blocks.js';
import type { SweepHeader } from '../../views/blocks.js';
import { mapSvg, sweepMap } from '../../views/map.js';
import { mapPng } from '../map-picture.js';
import type { DeliveryDeps } from './delivery.js';
import type { Delivery } from './delivery.js';
import type { StartedSweepDelivery, SweepDelivery } from './jobs.js';

/** Live progress edits the parent message at most this often, in ms (chat.update is rate limited per message). */
export const PROGRESS_EVERY_MS = 1000;

function csvName(sweepId: string): string {
  return `zensweep-${sweepId}.csv`;
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
  uploads.push({ filename: csvName(report.sweepId), title: 'Every host (CSV)', content: renderCsv(report) });
  return {
    channel_id: channel,
    thread_ts: threadTs,
    initial_comment: filesComment(report, drawn),
    file_uploads: uploads.map((u) => (u.file ? { filename: u.filename, title: u.title, file: u.file } : { filename: u.filename, title: u.title, content: u.content ?? '' })),
  };
}

/**
 * A sweep's delivery: posts the parent message (with live progress and a Cancel button), enqueues the sweep (once),
 * follows it, posts the report in the parent's thread (or through response_url where the bot cannot post), attaches
 * the map and the CSV, marks the parent done, and ends the requester's slot. Each step is recorded in Redis once
 * done, so a delivery that runs again (Slack failed, the bot restarted) does only what is left: the report is posted
 * once. A sweep that fails for good is said so, where the report would have gone.
 */
export async function deliverSweep(
  data: SweepDelivery | StartedSweepDelivery,
  delivery: Delivery,
  deps: DeliveryDeps,
  signal?: AbortSignal,
): Promise<{ posted: boolean }> {
  const { sweepId, channel, header } = data;
  const parentTs =
    data.v === 1
      ? data.parentTs
      : await delivery.parent({
          text: `<@${header.user}> swept ${header.text} in ${header.groups.join(', ')}`,
          blocks: progressBlocks(header, sweepId, { done: 0, total: header.addresses, alive: 0 }),
        });
  if (data.v === 2) await delivery.step('started', () => deps.dispatcher.submitFlow(data.flow as SweepFlow));

  let lastUpdate = 0;
  let updating: Promise<unknown> = Promise.resolve();
  let report: DistributedReport;
  try {
    report = await deps.dispatcher.waitForReport(
      {
        sweepId,
        plan: {
          groups: header.groups,
          chunks: [],
          addresses: header.addresses,
          // from:all: the agents' own queues are followed too, and the progress counts each vantage's probes.
          ...(data.v === 2 && data.flow.report.vantages ? { vantages: data.flow.report.vantages } : {}),
        },
        agents: [],
        // Enqueued again by this delivery if Redis loses it whole (v1 deliveries were given a sweep already started).
        ...(data.v === 2 ? { flow: data.flow as SweepFlow } : {}),
      },
      {
        signal,
        onResubmit: (groups) => deps.log.warn({ event: 'sweep_resubmitted', sweepId, groups }),
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
  } catch (error) {
    await updating;
    if (!(error instanceof SweepFailedError)) throw error;
    await delivery.fail(parentTs, error.message);
    return { posted: false };
  }
  await updating;
  const view = reportBlocks(report, header);
  const posted = await delivery.answer(parentTs, { text: view.text, blocks: view.blocks });
  if (parentTs && report.hosts.length > 0) {
    const files = reportFiles(report, header, channel, parentTs, deps.log);
    // Found again by the CSV, always there (the map may be drawn on one try and not on another).
    await delivery.files(parentTs, { name: csvName(sweepId), upload: () => deps.client.files.uploadV2(files) });
  }
  if (parentTs) {
    await delivery.step('parent', () => deps.client.chat.update({ channel, ts: parentTs, text: view.text, blocks: finishedBlocks(header, report) }));
  }
  await delivery.end(posted, report.cancelled ? 'cancelled' : 'delivered');
  return { posted };
}
