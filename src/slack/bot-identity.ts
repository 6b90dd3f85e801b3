import type { AuthorizeResult } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { slackRefusal } from './slack-refusal.js';

/** After a failed auth.test, how long before the next one, in ms (default 15 s), doubled after each failure. */
export const IDENTITY_RETRY_MS = 15_000;
/** The longest wait between two auth.test calls while they fail, in ms (default 10 minutes). */
export const IDENTITY_RETRY_MAX_MS = 600_000;

/**
 * Who the bot is in Slack (its bot id and user id, from auth.test), learned in the background, and Bolt's `authorize`
 * answered from what is known without ever waiting for it.
 *
 * Given a `token`, Bolt calls auth.test once at construction and makes every request's authorization wait for that
 * call: with the Web API down, slow or rate limited (the client retries for ~30 minutes), no listener runs and no
 * command is acked, and Slack shows a 404 after 3 s. Here the token is all an authorization needs; the ids (which
 * Bolt uses only to ignore the bot's own events) come when auth.test answers. While it fails it is asked again, on
 * the next request at the earliest, after 15 s, then 30 s, up to once every 10 minutes: never a storm.
 */
export class BotIdentity {
  private botId: string | undefined;
  private botUserId: string | undefined;
  private asking = false;
  private nextTryAt = 0;
  private retryMs: number;
  private refuse: ((error: Error) => void) | undefined;
  /** Resolves, once, when Slack says the bot token will never work (invalid_auth…): the bot ends with it. */
  readonly refused: Promise<Error> = new Promise((resolve) => (this.refuse = resolve));

  /**
   * @param client a client with this bot token that gives up quickly: no retries, a short timeout, rate-limited
   *   calls rejected at once (a client that waits out Retry-After pauses every call it makes).
   */
  constructor(
    private readonly botToken: string,
    private readonly client: WebClient,
    private readonly log: Logger,
    private readonly options: { retryMs?: number; retryMaxMs?: number; now?: () => number } = {},
  ) {
    this.retryMs = options.retryMs ?? IDENTITY_RETRY_MS;
  }

  /** Whether auth.test has answered. */
  get known(): boolean {
    return this.botId !== undefined;
  }

  /** Asks auth.test, unless it answered already, is being asked, or failed too recently. Never waits for it. */
  learn(): void {
    const now = this.options.now ?? Date.now;
    if (this.known || this.asking || now() < this.nextTryAt) return;
    this.asking = true;
    this.client.auth.test().then(
      (result) => {
        this.botId = result.bot_id;
        this.botUserId = result.user_id;
        this.log.info({ event: 'slack_identity', botId: result.bot_id, botUserId: result.user_id, team: result.team_id });
        this.asking = false;
      },
      (error: unknown) => {
        const refusal = slackRefusal(error, 'SLACK_BOT_TOKEN');
        if (refusal) {
          // Asking again cannot help.
          this.nextTryAt = Number.POSITIVE_INFINITY;
          this.refuse?.(refusal);
          return;
        }
        // A rate limit says when to ask again, in seconds: never sooner.
        const retryAfter = (error as { retryAfter?: unknown }).retryAfter;
        const waitMs = Math.max(this.retryMs, typeof retryAfter === 'number' ? retryAfter * 1000 : 0);
        // The failed request itself is logged by the client's transport (slack_api_failed, with the URL).
        const code = (error as { data?: { error?: unknown } }).data?.error;
        this.log.warn({
          event: 'slack_identity_unknown',
          message: typeof code === 'string' ? `auth.test answered ${code}` : (error as Error).message,
          retryInMs: waitMs,
        });
        this.nextTryAt = now() + waitMs;
        this.retryMs = Math.min(this.retryMs * 2, this.options.retryMaxMs ?? IDENTITY_RETRY_MAX_MS);
        this.asking = false;
      },
    );
  }

  /** Bolt's `authorize`: the token, and the ids once known; asks for them in the background meanwhile. */
  readonly authorize = async (): Promise<AuthorizeResult> => {
    this.learn();
    return {
      botToken: this.botToken,
      ...(this.botId === undefined ? {} : { botId: this.botId }),
      ...(this.botUserId === undefined ? {} : { botUserId: this.botUserId }),
    };
  };
}
