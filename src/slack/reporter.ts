import type { Job } from 'bullmq';
import type { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { renderCsv } from '../cli/render/csv.js';
import type { Dispatcher } from '../queue/dispatcher.js';
import type { DistributedReport } from '../queue/jobs.js';
import { bullmq } from '../queue/load.js';
import { KEY_PREFIX } from '../queue/names.js';
import { checkRecord, firstIssue, logBadRecords } from '../queue/records.js';
import type { AuditTrail } from './audit.js';
import { finishedBlocks, progressBlocks, reportBlocks } from './render/blocks.js';
import { INVITE_HINT } from './render/replies.js';
import { deliveryJobSchema } from './sweeps.js';

/** Slack's response_url, as kept in Redis by the command: nothing else is posted to. */
const RESPONSE_URL = z.url({ protocol: /^https?$/ });

/** Live progress edits the parent message at most this often, in ms (chat.update is rate limited per message). */
export const PROGRESS_EVERY_MS = 1000;

export interface ReporterDeps {
  client: WebClient;
  redis: Redis;
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
 * A delivery job, one per sweep: follows the sweep's progress on the parent message, then posts the report in
 * its thread (or through response_url where the bot cannot post), attaches the CSV when the message had to fold,
 * and marks the parent done. Each step is recorded in Redis once done, so a job that runs again (Slack failed,
 * the bot restarted) does only what is left: the report is posted once.
 */
export function deliveryProcessor(deps: ReporterDeps) {
  const post = deps.post ?? postJson;
  const stepKey = (sweepId: string, step: string): string => `${KEY_PREFIX}:slack:delivered:${sweepId}:${step}`;
  const done = async (sweepId: string, step: string, value = '1'): Promise<void> => {
    await deps.redis.set(stepKey(sweepId, step), value, 'EX', 7 * 24 * 3600);
  };
  const isDone = async (sweepId: string, step: string): Promise<boolean> =>
    (await deps.redis.exists(stepKey(sweepId, step))) === 1;

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
    if (!(await isDone(sweepId, 'report'))) {
      if (parentTs) {
        const reply = await deps.client.chat.postMessage({
          channel,
          thread_ts: parentTs,
          text: view.text,
          blocks: view.blocks,
          metadata: { event_type: 'zensweep_report', event_payload: { sweep_id: sweepId } },
        });
        await done(sweepId, 'report', reply.ts ?? '1');
      } else {
        const key = `${KEY_PREFIX}:slack:response:${sweepId}`;
        const stored = await deps.redis.get(key);
        const url = stored === null ? undefined : checkRecord(RESPONSE_URL, stored, { what: 'response_url', key }, logBadRecords(deps.log));
        if (!url) throw new bullmq.UnrecoverableError('the response_url of this sweep has expired or is unreadable: the report is in the history only');
        await post(url, {
          response_type: 'ephemeral',
          replace_original: false,
          text: view.text,
          blocks: [{ type: 'context', elements: [{ type: 'mrkdwn', text: INVITE_HINT }] }, ...view.blocks.slice(0, 49)],
        });
        await done(sweepId, 'report');
      }
      posted = true;
    }
    if (parentTs && view.folded && !(await isDone(sweepId, 'csv'))) {
      await deps.client.files.uploadV2({
        channel_id: channel,
        thread_ts: parentTs,
        filename: `zensweep-${sweepId}.csv`,
        title: `${header.text}: every host`,
        content: renderCsv(report),
      });
      await done(sweepId, 'csv');
    }
    if (parentTs && !(await isDone(sweepId, 'parent'))) {
      await deps.client.chat.update({ channel, ts: parentTs, text: view.text, blocks: finishedBlocks(header, report) });
      await done(sweepId, 'parent');
    }
    await deps.redis.srem(`${KEY_PREFIX}:slack:active:${header.user}`, sweepId);
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
