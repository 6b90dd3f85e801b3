import type { Redis } from 'ioredis';
import { ZenSweepError } from '../core/errors.js';
import { KEY_PREFIX } from '../queue/names.js';

/** A requester already has as many sweeps, traces and diags running as the limit allows. */
export class TooManyRunningError extends ZenSweepError {
  constructor(message: string) {
    super('too_many_running', message);
  }
}

/**
 * Takes a slot if the requester holds fewer than the limit. Each slot is a member of the requester's sorted set,
 * scored with the time it expires on its own: slots past it are dropped first, so a request that never ended (a bot
 * killed for good) frees its slot at its own time, and a new slot never lengthens another's life. The key itself
 * lives as long as its longest slot. Time is Redis's, so every bot and CLI agrees on it.
 * KEYS[1] the requester's slots; ARGV: slot id, its life in ms, the limit. Returns the slots held before it was taken
 * (0 or more), or -1 - the slots held when it was refused.
 */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local held = redis.call('ZCARD', KEYS[1])
if held >= tonumber(ARGV[3]) then return -1 - held end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return held`;

/** One slot taken: released once, by whoever ends the request. */
export interface Slot {
  readonly requester: string;
  readonly id: string;
}

/**
 * Requests a requester has running (sweeps, traces, diags, from Slack and from `zensweep submit` alike), counted
 * atomically: a burst of N requests with limit L starts exactly L, however many bots take them at once.
 * Key: `PREFIX:running:REQUESTER`, a sorted set of request ids scored by when each slot expires (bounded by the
 * limit, and gone with its last slot).
 */
export class RequestSlots {
  constructor(
    private readonly redis: Redis,
    /** Requests one requester may have running at once (ZENSWEEP_MAX_SWEEPS_PER_USER), default 3. */
    readonly limit = 3,
    private readonly prefix = KEY_PREFIX,
  ) {}

  private key(requester: string): string {
    return `${this.prefix}:running:${requester}`;
  }

  /**
   * Takes a slot for request `id` for at most `lifeMs` ms (then it expires on its own); taking the same id again is a
   * no-op. Throws TooManyRunningError naming the limit.
   */
  async take(requester: string, id: string, lifeMs: number): Promise<Slot> {
    const held = Number(await this.redis.eval(TAKE_SCRIPT, 1, this.key(requester), id, Math.max(1000, Math.ceil(lifeMs)), this.limit));
    if (held < 0) {
      const running = -1 - held;
      throw new TooManyRunningError(
        `you already have ${running} request${running === 1 ? '' : 's'} running (sweeps, traces and diags; at most ${this.limit}): ` +
          'wait for one to finish or cancel it',
      );
    }
    return { requester, id };
  }

  /** Ends a slot; releasing one that is gone (expired, released already) does nothing. */
  async release(slot: Slot): Promise<void> {
    await this.redis.zrem(this.key(slot.requester), slot.id);
  }

  /** Slots held now (expired ones not counted). */
  async held(requester: string): Promise<string[]> {
    return this.redis.zrangebyscore(this.key(requester), `(${(await this.now()).toString()}`, '+inf');
  }

  private async now(): Promise<number> {
    const [seconds, micros] = await this.redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }
}
