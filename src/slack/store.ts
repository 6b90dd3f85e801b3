import type { Redis } from 'ioredis';
import { z } from 'zod';
import { KEY_PREFIX } from '../queue/names.js';
import { checkRecord } from '../queue/records.js';
import type { OnBadRecord } from '../queue/records.js';

/** Slack's response_url, as kept by the command: nothing else is posted to. */
const RESPONSE_URL = z.url({ protocol: /^https?$/ });

/** Steps of a report's delivery, each recorded once done so a delivery that runs again does only what is left. */
export type DeliveryStep = 'report' | 'files' | 'parent';

/** How long a delivered step is remembered, in seconds: a week, longer than any delivery retries. */
const DELIVERED_TTL_SECONDS = 7 * 24 * 3600;
/** How long a slash command's trigger id is remembered, in seconds. */
const TRIGGER_TTL_SECONDS = 3600;
/** How long Slack honours a response_url, in seconds. */
const RESPONSE_URL_TTL_SECONDS = 30 * 60;
/** How long a user's running sweeps are counted at most, in seconds (a lost delivery cannot block them longer). */
const RUNNING_TTL_SECONDS = 24 * 3600;

/**
 * What the bot keeps in Redis besides its queues, behind one class. Keys, each with a TTL:
 * `PREFIX:slack:trigger:ID` (requests already handled, an hour), `PREFIX:slack:active:USER` (a user's running
 * sweeps, a day after the last one started), `PREFIX:slack:response:SWEEP` (the response_url, kept apart from job
 * data, 30 minutes), `PREFIX:slack:reach:SWEEP` (what a sweep reaches, for the policy check of its buttons, as long
 * as the history keeps the sweep), `PREFIX:slack:delivered:SWEEP:STEP` (delivery steps done, a week).
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

  async runningCount(user: string): Promise<number> {
    return this.redis.scard(this.key('active', user));
  }

  async addRunning(user: string, sweepId: string): Promise<void> {
    const key = this.key('active', user);
    await this.redis.multi().sadd(key, sweepId).expire(key, RUNNING_TTL_SECONDS).exec();
  }

  async removeRunning(user: string, sweepId: string): Promise<void> {
    await this.redis.srem(this.key('active', user), sweepId);
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

  /** Keeps what a sweep reaches (its JSON record, checked by whoever reads it) for `ttlSeconds`. */
  async saveReach(sweepId: string, record: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(this.key('reach', sweepId), record, 'EX', ttlSeconds);
  }

  async reach(sweepId: string): Promise<string | undefined> {
    return (await this.redis.get(this.key('reach', sweepId))) ?? undefined;
  }

  /** Records a delivery step as done, with what it produced (e.g. the ts of the posted message). */
  async markDelivered(sweepId: string, step: DeliveryStep, value = '1'): Promise<void> {
    await this.redis.set(this.key('delivered', sweepId, step), value, 'EX', DELIVERED_TTL_SECONDS);
  }

  async delivered(sweepId: string, step: DeliveryStep): Promise<boolean> {
    return (await this.redis.exists(this.key('delivered', sweepId, step))) === 1;
  }
}
