import type { Redis } from 'ioredis';
import { z } from 'zod';
import { KEY_PREFIX } from '../queue/names.js';
import { checkRecord } from '../queue/records.js';
import type { OnBadRecord } from '../queue/records.js';

/** Slack's response_url, as kept by the command: nothing else is posted to. */
const RESPONSE_URL = z.url({ protocol: /^https?$/ });

/**
 * Steps of a delivery, each recorded once done so a delivery that runs again does only what is left: the parent
 * message posted (`posted`, with its ts; empty where the bot cannot post), the work enqueued (`started`), the answer
 * posted (`report`), its files (`files`), the parent marked done (`parent`).
 */
export type DeliveryStep = 'posted' | 'started' | 'report' | 'files' | 'parent';

/** How long a delivered step is remembered, in seconds: a week, longer than any delivery retries. */
const DELIVERED_TTL_SECONDS = 7 * 24 * 3600;
/** How long a slash command's trigger id is remembered, in seconds. */
const TRIGGER_TTL_SECONDS = 3600;
/** How long Slack honours a response_url, in seconds. */
const RESPONSE_URL_TTL_SECONDS = 30 * 60;

/**
 * What the bot keeps in Redis besides its queues, behind one class; every key expires. Keys:
 * `PREFIX:slack:trigger:ID` (requests already handled, an hour), `PREFIX:slack:response:ID` (the response_url, kept
 * apart from job data, 30 minutes), `PREFIX:slack:delivered:ID` (a hash of the delivery steps done, a week from the
 * last; deliveries made before steps shared one key kept them as `…:delivered:ID:STEP`, still read).
 */
export class SlackStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = KEY_PREFIX,
  ) {}

  private key(...parts: string[]): string {
    return [this.prefix, 'slack', ...parts].join(':');
  }

  /** True the first time a request id is seen: Slack retries a slash command it thinks was lost. */
  async firstRequest(triggerId: string): Promise<boolean> {
    return (await this.redis.set(this.key('trigger', triggerId), '1', 'EX', TRIGGER_TTL_SECONDS, 'NX')) === 'OK';
  }

  async saveResponseUrl(sweepId: string, url: string): Promise<void> {
    await this.redis.set(this.key('response', sweepId), url, 'EX', RESPONSE_URL_TTL_SECONDS);
  }

  /** The sweep's response_url; undefined when it expired, or (told to `onBad`) when what is kept is not one. */
  async responseUrl(sweepId: string, onBad: OnBadRecord): Promise<string | undefined> {
    const key = this.key('response', sweepId);
    const stored = await this.redis.get(key);
    return stored === null ? undefined : checkRecord(RESPONSE_URL, stored, { what: 'response_url', key }, onBad);
  }

  /** Records a delivery step as done, with what it produced (e.g. the ts of the posted message). */
  async markDelivered(sweepId: string, step: DeliveryStep, value = '1'): Promise<void> {
    const key = this.key('delivered', sweepId);
    await this.redis.multi().hset(key, step, value).expire(key, DELIVERED_TTL_SECONDS).exec();
  }

  async delivered(sweepId: string, step: DeliveryStep): Promise<boolean> {
    return (await this.deliveredValue(sweepId, step)) !== undefined;
  }

  /** What a step done produced (e.g. the parent's ts); undefined when the step is not done. */
  async deliveredValue(sweepId: string, step: DeliveryStep): Promise<string | undefined> {
    // Two keys, each read alone (on a cluster they are in different slots); the second is an older version's.
    const [value, older] = await Promise.all([this.redis.hget(this.key('delivered', sweepId), step), this.redis.get(this.key('delivered', sweepId, step))]);
    return value ?? older ?? undefined;
  }
}
