import type { KnownBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { AuditTrail } from '../../door/audit.js';
import type { RequestSlots } from '../../door/slots.js';
import type { Dispatcher } from '../../queue/dispatcher.js';
import type { HostJobs } from '../../queue/host-jobs.js';
import { bullmq } from '../../queue/load.js';
import { logBadRecords } from '../../queue/records.js';
import { CANNOT_POST, slackErrorCode } from '../errors.js';
import { INVITE_HINT } from '../render/replies.js';
import type { DeliveryStep, SlackStore } from '../store.js';
import { deliveryMetadata } from './posted.js';
import type { PostedMessages } from './posted.js';

export interface DeliveryDeps {
  client: WebClient;
  store: SlackStore;
  dispatcher: Dispatcher;
  hostJobs: HostJobs;
  audit: AuditTrail;
  slots: RequestSlots;
  log: Logger;
  /** Finds in Slack what a delivery posted when its record in Redis is lost: one for the bot (it says once when it cannot). */
  posted: PostedMessages;
  /** Where response_url messages go; default: fetch. */
  post?: (url: string, body: unknown) => Promise<void>;
}

async function postJson(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`response_url answered ${response.status}`);
}

/**
 * The request a delivery answers: its id (a sweep id, a trace id), where it was asked, by whom, in which words, and
 * when it was queued (ms; where its parent message is looked for when the record of it is lost).
 */
export interface Asked {
  id: string;
  channel: string;
  user: string;
  text: string;
  slot?: { requester: string; id: string } | undefined;
  at?: number;
}

/** A message of a delivery: its text and blocks (the delivery adds the metadata that finds it again). */
export interface DeliveryMessage {
  text: string;
  blocks?: KnownBlock[];
}

/** A file the delivery shares in the parent's thread, with the upload that shares it (files.uploadV2's arguments). */
export interface DeliveryFiles {
  /** The name of the first file: what finds the upload in the thread again. */
  name: string;
  upload: () => Promise<unknown>;
}

/**
 * The steps every delivery shares, each done once (recorded in Redis when done): the parent message, the answer in
 * its thread or privately, its files, and the end — the requester's slot released and the audit line written —
 * whether the request was answered or failed for good.
 *
 * Every message it posts carries the request's id in its metadata, and a step whose record is missing is looked for
 * in Slack before it is done (PostedMessages): a failover that lost the record, or a bot killed between posting and
 * recording, does not post it twice.
 */
export class Delivery {
  /** Steps this run posted itself: what comes after one of them cannot have been posted before, and is not looked for. */
  private readonly postedNow = new Set<DeliveryStep>();

  constructor(
    private readonly deps: DeliveryDeps,
    readonly asked: Asked,
  ) {}

  /** Runs a step unless it is done, and records it done with what it produced. */
  async step(step: DeliveryStep, work: () => Promise<unknown>, valueOf: (done: unknown) => string = () => '1'): Promise<void> {
    if (await this.deps.store.delivered(this.asked.id, step)) return;
    const done = await work();
    await this.deps.store.markDelivered(this.asked.id, step, valueOf(done));
  }

  /** Posts the parent message once; its ts, or undefined where the bot cannot post in the channel. */
  async parent(message: DeliveryMessage): Promise<string | undefined> {
    const { store, client, log } = this.deps;
    const { id, channel } = this.asked;
    const posted = await store.deliveredValue(id, 'posted');
    if (posted !== undefined) return posted === '' ? undefined : posted;
    const found = this.asked.at === undefined ? undefined : await this.deps.posted.parent(channel, id, this.asked.at);
    if (found) {
      this.found('posted', found);
      await store.markDelivered(id, 'posted', found);
      return found;
    }
    let ts = '';
    try {
      ts = (await client.chat.postMessage({ channel, ...message, metadata: deliveryMetadata(id, 'posted') })).ts ?? '';
      this.postedNow.add('posted');
    } catch (error) {
      const code = slackErrorCode(error);
      if (!code || !CANNOT_POST.has(code)) throw error;
      log.info({ event: 'cannot_post', channel, error: code });
    }
    await store.markDelivered(id, 'posted', ts);
    return ts === '' ? undefined : ts;
  }

  /** The request's response_url, when it has one still (Slack honours it for 30 minutes). */
  responseUrl(): Promise<string | undefined> {
    return this.deps.store.responseUrl(this.asked.id, logBadRecords(this.deps.log));
  }

  /**
   * Posts the answer once: in the parent's thread, or privately through response_url where the bot has no parent
   * message (with how to invite it). True when it was posted now, or found in the thread though not recorded (a try
   * whose record was lost posted it). An expired response_url fails the delivery for good: the answer is in the
   * history only. What goes through response_url is ephemeral: nobody can look for it, and a lost record means it is
   * posted again.
   */
  async answer(parentTs: string | undefined, message: DeliveryMessage): Promise<boolean> {
    const { store, client } = this.deps;
    const { id, channel } = this.asked;
    if (await store.delivered(id, 'report')) return false;
    if (parentTs) {
      // Posted by a try whose record is lost: recorded now, and said as posted (its audit line was lost with it).
      const found = this.postedNow.has('posted') ? undefined : await this.deps.posted.reply(channel, parentTs, id);
      if (found) {
        this.found('report', found);
        await store.markDelivered(id, 'report', found);
        return true;
      }
      const reply = await client.chat.postMessage({ channel, thread_ts: parentTs, ...message, metadata: deliveryMetadata(id, 'report') });
      this.postedNow.add('report');
      await store.markDelivered(id, 'report', reply.ts ?? '1');
      return true;
    }
    const url = await this.responseUrl();
    if (!url) throw new bullmq.UnrecoverableError('the response_url of this request has expired or is unreadable: the answer is in the history only');
    const hint: KnownBlock = { type: 'context', elements: [{ type: 'mrkdwn', text: INVITE_HINT }] };
    await (this.deps.post ?? postJson)(url, {
      response_type: 'ephemeral',
      replace_original: false,
      text: message.text,
      ...(message.blocks ? { blocks: [hint, ...message.blocks.slice(0, 49)] } : {}),
    });
    await store.markDelivered(id, 'report');
    return true;
  }

  /** Shares the answer's files in the parent's thread, once (found there by the first file's name). */
  async files(parentTs: string, files: DeliveryFiles): Promise<void> {
    const { store } = this.deps;
    const { id, channel } = this.asked;
    if (await store.delivered(id, 'files')) return;
    if (!this.postedNow.has('report') && (await this.deps.posted.file(channel, parentTs, files.name))) this.found('files', files.name);
    else await files.upload();
    await store.markDelivered(id, 'files');
  }

  private found(step: DeliveryStep, what: string): void {
    this.deps.log.info({ event: 'delivery_found_posted', id: this.asked.id, step, found: what });
  }

  /** The request ended with its answer: its slot is released, and the audit says so when it was posted now. */
  async end(posted: boolean, outcome: 'delivered' | 'cancelled'): Promise<void> {
    await this.release();
    if (posted) await this.audit(outcome);
  }

  /**
   * The request failed for good (its sweep failed, its agent refused it): said on the parent message, or privately
   * where there is none, then its slot is released and the audit says why. Telling is best effort: the failure stands
   * whether Slack hears it or not.
   */
  async fail(parentTs: string | undefined, reason: string): Promise<void> {
    const { client, log } = this.deps;
    const { id, channel } = this.asked;
    const text = `\`${this.asked.text}\` failed: ${reason}`;
    try {
      if (parentTs) await client.chat.update({ channel, ts: parentTs, text, blocks: [] });
      else {
        const url = await this.responseUrl();
        if (url) await (this.deps.post ?? postJson)(url, { response_type: 'ephemeral', replace_original: false, text });
      }
    } catch (error) {
      log.warn({ event: 'failure_not_told', id, message: (error as Error).message });
    }
    await this.release();
    await this.audit('failed', reason);
  }

  private async release(): Promise<void> {
    const slot = this.asked.slot;
    if (slot) await this.deps.slots.release(slot);
  }

  private async audit(outcome: 'delivered' | 'cancelled' | 'failed', reason?: string): Promise<void> {
    const { user, channel, text, id } = this.asked;
    await this.deps.audit.record({ user, channel, text, outcome, sweepId: id, ...(reason ? { reason } : {}) });
  }
}

