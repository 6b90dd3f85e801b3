import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { WatchState } from '../core/watch.js';
import { KEY_PREFIX } from './names.js';
import { retention } from './retention.js';
import type { JobRetention } from './retention.js';
import { printBadRecord, readRecord } from './records.js';
import type { OnBadRecord } from './records.js';

/** The queue of watch runs: one BullMQ job scheduler per watch puts a run in it every interval. */
export const WATCH_QUEUE = 'watch-runs';

const signature = z.string().max(20_000);
const address = z.string().min(1).max(64);
const change = z.object({ ip: address, from: signature, to: signature });
const flapping = z.object({ ip: address, changes: z.number().int().min(0) });

/**
 * What a run has to tell the channel, kept until it is posted: a watch that cannot reach Slack says it later
 * rather than never, and a run that runs again does not say it twice. Rendered when posted.
 */
const noticeSchema = z.discriminatedUnion('kind', [
  /** A new incident: the channel message every later notice of it answers in its thread. */
  z.object({ kind: z.literal('alert'), changes: z.array(change), flapping: z.array(flapping), summary: z.string().max(500) }),
  z.object({
    kind: z.literal('update'),
    changes: z.array(change),
    flapping: z.array(flapping),
    calmed: z.array(change),
    summary: z.string().max(500),
  }),
  /** The incident ended: its hosts are back (`resolved`) or kept their new states (`settled`). */
  z.object({
    kind: z.enum(['resolved', 'settled']),
    changes: z.array(change),
    calmed: z.array(change),
    openedAt: z.string(),
    at: z.string(),
    summary: z.string().max(500),
    /** The incident's alert, to answer in its thread and mark as ended. */
    alert: z.object({ ts: z.string(), text: z.string() }).optional(),
  }),
  /** The watch cannot run (no live agent, the policy, the plan), or can again. */
  z.object({ kind: z.enum(['paused', 'resumed']), cause: z.enum(['agents', 'policy', 'plan']), reason: z.string().max(1000) }),
]);
export type WatchNoticeRecord = z.infer<typeof noticeSchema>;

const stateSchema = z.object({
  runs: z.number().int().min(0),
  baseline: z.record(address, signature),
  lastSeen: z.record(address, signature),
  pending: z.record(address, z.object({ signature, runs: z.number().int().min(1) })),
  transitions: z.record(address, z.array(z.number().int())),
  flapping: z.array(address),
  incident: z
    .object({
      openedAt: z.string(),
      reference: z.record(address, signature),
      quietRuns: z.number().int().min(0),
      alert: z.object({ ts: z.string(), text: z.string() }).optional(),
    })
    .optional(),
});

export const watchRecordSchema = z.object({
  v: z.literal(1),
  id: z.string().regex(/^w[0-9a-f]{6}$/),
  channel: z.string().regex(/^[CGD][A-Z0-9]+$/),
  createdBy: z.string().min(1).max(64),
  createdAt: z.string(),
  /** The sweep each run makes, in the grammar's words (parsed again at each run). */
  sweep: z.string().min(1).max(10_000),
  everyMs: z.number().int().min(1000),
  confirm: z.number().int().min(1).max(10),
  /** The agent groups the sweep ran in when the watch was made: the ones whose agents it needs. */
  groups: z.array(z.string().min(1).max(63)).max(1000),
  /** Set while the watch cannot run, with why (said once in the channel). */
  blocked: z.object({ cause: z.enum(['agents', 'policy', 'plan']), reason: z.string().max(1000), since: z.string() }).optional(),
  state: stateSchema.optional(),
  lastRun: z
    .object({
      at: z.string(),
      outcome: z.string().max(40),
      sweepId: z.string().max(64).optional(),
      summary: z.string().max(500).optional(),
    })
    .optional(),
  outbox: z.array(noticeSchema).max(100),
});
export type WatchRecord = z.infer<typeof watchRecordSchema>;

// The stored state is the core's, field for field: a change to one is a compile error until the other follows.
const sameState: WatchState = {} as z.infer<typeof stateSchema>;
void sameState;

/** Creates the record and its place in the channel's list unless the channel already has `max` watches. */
const CREATE_SCRIPT = `
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
if redis.call('SET', KEYS[2], ARGV[3], 'NX') == false then return -1 end
redis.call('SADD', KEYS[1], ARGV[2])
return 1`;

/** Deletes a lock only if it is still the holder's. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export function newWatchId(): string {
  return `w${randomBytes(3).toString('hex')}`;
}

/**
 * Watches in Redis, and their schedules. Keys: `PREFIX:watch:ID` (the record: written by its runs; the commands
 * only create and delete it), `PREFIX:watch:ID:mute` (expires when the mute ends), `PREFIX:watch:ID:lock` (held
 * by the run in progress), `PREFIX:watches:CHANNEL` (the channel's ids). The schedule is a BullMQ job scheduler on
 * WATCH_QUEUE named by the id, whose job template carries the watch runs' retention: it lives in Redis, so it
 * survives the bot's restarts.
 */
export class WatchStore {
  constructor(
    private readonly redis: Redis,
    private readonly queue: Queue,
    private readonly prefix = KEY_PREFIX,
    /** Told of a stored record that does not read as a watch (it is then skipped), default: a line on stderr. */
    private readonly onBadRecord: OnBadRecord = printBadRecord,
    /** How long finished runs are kept (the job options of every run), default RETENTION.watchRuns. */
    private readonly runRetention: JobRetention = retention('watchRuns'),
  ) {}

  private key(id: string): string {
    return `${this.prefix}:watch:${id}`;
  }

  private channelKey(channel: string): string {
    return `${this.prefix}:watches:${channel}`;
  }

  /** Stores a new watch and schedules it, with a first run at once (its baseline); false when the channel is full. */
  async create(record: WatchRecord, maxPerChannel: number): Promise<boolean> {
    const created = await this.redis.eval(
      CREATE_SCRIPT,
      2,
      this.channelKey(record.channel),
      this.key(record.id),
      maxPerChannel,
      record.id,
      JSON.stringify(watchRecordSchema.parse(record)),
    );
    if (created === -1) throw new Error(`watch id ${record.id} is taken`);
    if (created !== 1) return false;
    await this.queue.upsertJobScheduler(
      record.id,
      { every: record.everyMs },
      { name: 'run', data: { v: 1, watchId: record.id }, opts: { ...this.runRetention } },
    );
    await this.queue.add('run', { v: 1, watchId: record.id }, { jobId: `${record.id}-first`, ...this.runRetention });
    return true;
  }

  /** The record; undefined when there is none, or when it does not read as one (then `onBadRecord` is told). */
  async get(id: string): Promise<WatchRecord | undefined> {
    const key = this.key(id);
    const text = await this.redis.get(key);
    return text ? readRecord(watchRecordSchema, text, { what: 'watch record', key }, this.onBadRecord) : undefined;
  }

  /** Whether a watch of this id is stored at all (readable or not). */
  async exists(id: string): Promise<boolean> {
    return (await this.redis.exists(this.key(id))) === 1;
  }

  /** Writes a run's result; false when the watch was removed meanwhile (then nothing is written). */
  async save(record: WatchRecord): Promise<boolean> {
    const written = await this.redis.set(this.key(record.id), JSON.stringify(watchRecordSchema.parse(record)), 'XX');
    return written === 'OK';
  }

  /** The channel's watches, oldest first. */
  async list(channel: string): Promise<WatchRecord[]> {
    const ids = await this.redis.smembers(this.channelKey(channel));
    const records: WatchRecord[] = [];
    for (const id of ids) {
      const record = await this.get(id);
      if (record) records.push(record);
    }
    return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Removes a watch and its schedule. */
  async remove(record: Pick<WatchRecord, 'id' | 'channel'>): Promise<void> {
    await this.unschedule(record.id);
    await this.redis
      .multi()
      .del(this.key(record.id), `${this.key(record.id)}:mute`)
      .srem(this.channelKey(record.channel), record.id)
      .exec();
  }

  /** Stops a watch's schedule (its record is already gone). */
  async unschedule(id: string): Promise<void> {
    await this.queue.removeJobScheduler(id);
  }

  /** Silences a watch for `forMs` milliseconds; 0 ends a mute. */
  async mute(id: string, forMs: number): Promise<void> {
    if (forMs <= 0) await this.redis.del(`${this.key(id)}:mute`);
    else await this.redis.set(`${this.key(id)}:mute`, new Date(Date.now() + forMs).toISOString(), 'PX', forMs);
  }

  /** When the mute ends (ISO 8601), or undefined when not muted. */
  async mutedUntil(id: string): Promise<string | undefined> {
    return (await this.redis.get(`${this.key(id)}:mute`)) ?? undefined;
  }

  /** Takes the run lock for `ttlMs`; returns its release, or undefined when another run holds it. */
  async lock(id: string, ttlMs: number): Promise<(() => Promise<void>) | undefined> {
    const token = randomBytes(8).toString('hex');
    const key = `${this.key(id)}:lock`;
    if ((await this.redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return undefined;
    return async () => {
      await this.redis.eval(RELEASE_SCRIPT, 1, key, token);
    };
  }
}
