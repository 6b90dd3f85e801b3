import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { slackErrorCode } from '../errors.js';

/** The metadata event every message of a delivery carries, with the request's id and the step that posted it. */
export const DELIVERY_EVENT = 'zensweep_delivery';

/** The steps whose message is looked for: the parent message and the answer in its thread. */
export type PostedStep = 'posted' | 'report';

/** What a message of a delivery carries (Slack keeps it with the message, and gives it back to the app). */
export function deliveryMetadata(id: string, step: PostedStep): { event_type: string; event_payload: Record<string, string> } {
  return { event_type: DELIVERY_EVENT, event_payload: { id, step } };
}

/** The scopes that let the bot read back what it posted: public and private channels, DMs, group DMs. */
export const HISTORY_SCOPES = ['channels:history', 'groups:history', 'im:history', 'mpim:history'];

/** Errors that say the bot may not read this conversation's history at all (its token lacks the scope). */
const NO_HISTORY = new Set(['missing_scope', 'not_allowed_token_type', 'no_permission']);
/** Errors that say there is nothing to find: the conversation or thread is gone, or the bot is not in it. */
const NOTHING_THERE = new Set(['channel_not_found', 'not_in_channel', 'thread_not_found', 'is_archived']);

/** How far back a parent message is looked for, before the request was queued, in seconds (clocks differ). */
const PARENT_SLACK_S = 60;
/** At most this many pages of 200 messages are read for one look. */
const MAX_PAGES = 10;

interface Message {
  ts?: string;
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
  files?: { name?: string }[];
}

interface Page {
  messages?: Message[];
  response_metadata?: { next_cursor?: string };
}

/**
 * Finds in Slack what a delivery posted, when the record of it in Redis is gone: a failover promoted a replica that
 * had not yet received the write (Redis replicates asynchronously), or the bot was killed between posting and
 * recording. The delivery then records what Slack has instead of posting it again, so an answer is posted once.
 *
 * Messages are found by the metadata they carry (DELIVERY_EVENT, the request's id, the step), files by name. This
 * reads the conversation's history: the bot needs HISTORY_SCOPES. Without them, nothing is found, the bot says once
 * that a lost record may mean a message posted twice, and posts as before.
 */
export class PostedMessages {
  private unreadable = false;

  constructor(
    private readonly client: WebClient,
    private readonly log: Pick<Logger, 'warn'>,
  ) {}

  /** The ts of the parent message posted for `id` in `channel`, looked for from `askedAt` (ms) on. */
  async parent(channel: string, id: string, askedAt: number): Promise<string | undefined> {
    const oldest = String(Math.max(0, Math.floor(askedAt / 1000) - PARENT_SLACK_S));
    const history = (cursor: string | undefined): Promise<Page> =>
      this.client.conversations.history({ channel, oldest, limit: 200, include_all_metadata: true, ...(cursor ? { cursor } : {}) });
    return (await this.find(history, (m) => isStep(m, id, 'posted')))?.ts;
  }

  /** The ts of the answer posted for `id` in the thread of `parentTs`. */
  async reply(channel: string, parentTs: string, id: string): Promise<string | undefined> {
    return (await this.find((cursor) => this.replies(channel, parentTs, cursor), (m) => isStep(m, id, 'report')))?.ts;
  }

  /** Whether a file named `name` was shared in the thread of `parentTs`. */
  async file(channel: string, parentTs: string, name: string): Promise<boolean> {
    return (await this.find((cursor) => this.replies(channel, parentTs, cursor), (m) => (m.files ?? []).some((f) => f.name === name))) !== undefined;
  }

  private replies(channel: string, ts: string, cursor: string | undefined): Promise<Page> {
    return this.client.conversations.replies({ channel, ts, limit: 200, include_all_metadata: true, ...(cursor ? { cursor } : {}) });
  }

  /** The first message `matches` accepts, page by page; undefined when none, or when the history cannot be read. */
  private async find(page: (cursor: string | undefined) => Promise<Page>, matches: (m: Message) => boolean): Promise<Message | undefined> {
    if (this.unreadable) return undefined;
    let cursor: string | undefined;
    try {
      for (let read = 0; read < MAX_PAGES; read += 1) {
        const answer = await page(cursor);
        const found = (answer.messages ?? []).find(matches);
        if (found) return found;
        cursor = answer.response_metadata?.next_cursor || undefined;
        if (!cursor) return undefined;
      }
      return undefined;
    } catch (error) {
      const code = slackErrorCode(error);
      if (code && NOTHING_THERE.has(code)) return undefined;
      if (code && NO_HISTORY.has(code)) {
        this.unreadable = true;
        this.log.warn({
          event: 'history_unreadable',
          error: code,
          message: `the bot cannot read what it posted (it needs ${HISTORY_SCOPES.join(', ')}): a delivery whose record in Redis is lost may post its answer twice`,
        });
        return undefined;
      }
      // Slack is away or busy: the delivery is tried again later, rather than post what may be there already.
      throw error;
    }
  }
}

function isStep(message: Message, id: string, step: PostedStep): boolean {
  const metadata = message.metadata;
  return metadata?.event_type === DELIVERY_EVENT && metadata.event_payload?.id === id && metadata.event_payload.step === step;
}
