import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { ZenSweepError } from '../core/errors.js';
import type { WatchState } from '../core/watch.js';
import { KEY_PREFIX } from './names.js';
import { WATCHES_TAG, isCluster, scanKeys } from './key-layout.js';
import { bullmq } from './load.js';
import { retention } from './retention.js';
import type { JobRetention } from './retention.js';
import { printBadRecord, readRecord } from './records.js';
import type { OnBadRecord } from './records.js';

/** The queue of watch runs: one BullMQ job scheduler per watch puts a run in it every interval. */
export const WATCH_QUEUE = '{watch-runs}';
/** Its name before queue names carried a hash tag: schedules found there are moved (WatchStore.upgrade). */
const OLD_WATCH_QUEUE = 'watch-runs';

const signature = z.string().max(20_000);
const address = z.string().min(1).max(64);
const change = z.object({ ip: address, from: signature, to: signature });
const flapping = z.object({ ip: address, changes: z.number().int().min(0) });

/** Changes of a silenced incident, held back until the silence ends (core/watch.ts HeldChanges). */
const heldSchema = z.object({ changes: z.array(change), flapping: z.array(flapping), calmed: z.array(change) });

/** Times a notice is tried at most (once a run) while Slack fails for a reason that may pass; then it is dropped. */
export const MAX_NOTICE_ATTEMPTS = 10;
/** Notices kept at most for a watch that cannot post; beyond it the oldest goes. */
export const MAX_OUTBOX = 100;

/** Failed tries so far (absent: none), for notices Slack refused for a reason that may pass (429, 5xx, no answer). */
const attempts = z.number().int().min(1).max(MAX_NOTICE_ATTEMPTS).optional();

/**
 * What a run has to tell the channel, kept until it is posted: a watch that cannot reach Slack says it later
 * rather than never, and a run that runs again does not say it twice. Rendered when posted.
 */
const noticeSchema = z.discriminatedUnion('kind', [
  /** A new incident: the channel message every later notice of it answers in its thread. */
  z.object({ kind: z.literal('alert'), changes: z.array(change), flapping: z.array(flapping), summary: z.string().max(500), attempts }),
  z.object({
    kind: z.literal('update'),
    changes: z.array(change),
    flapping: z.array(flapping),
    calmed: z.array(change),
    summary: z.string().max(500),
    attempts,
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
    /** The reply in the alert's thread is posted; only the edit of the alert is left. */
    replied: z.boolean().optional(),
    /** The incident was silenced when it ended: who silenced it and why, and what changed meanwhile. */
    silence: z.object({ by: z.string().max(64), at: z.string(), reason: z.string().max(500) }).optional(),
    held: heldSchema.optional(),
    attempts,
  }),
  /**
   * `confirm:agents`: hosts some vantage (an agent) alone saw otherwise than the watch's baseline, while the others
   * saw them as before: that vantage's own view (its path, its firewall), said once, not an incident.
   */
  z.object({
    kind: z.literal('vantage'),
    views: z.array(z.object({ vantage: z.string().min(1).max(200), changes: z.array(change) })).max(100),
    summary: z.string().max(500),
    attempts,
  }),
  /** The incident changed while silenced: its alert is edited to say how it stands now, nothing is posted. */
  z.object({ kind: z.literal('refresh'), attempts }),
  /** A silence of the incident ended before the incident: a reply in its thread with what changed meanwhile. */
  z.object({
    kind: z.literal('silence_ended'),
    silence: z.object({ by: z.string().max(64), at: z.string(), reason: z.string().max(500) }),
    held: heldSchema.optional(),
    summary: z.string().max(500),
    attempts,
  }),
  /** A maintenance window ended: what its runs found while the alerts waited, in one channel message. */
  z.object({
    kind: z.literal('quiet_summary'),
    window: z.string().max(100),
    since: z.string(),
    lines: z.array(z.string().max(2000)).max(200),
    summary: z.string().max(500),
    attempts,
  }),
  /** The watch cannot run (no live agent, the policy, the plan), or can again. */
  z.object({ kind: z.enum(['paused', 'resumed']), cause: z.enum(['agents', 'policy', 'plan']), reason: z.string().max(1000), attempts }),
]);
export type WatchNoticeRecord = z.infer<typeof noticeSchema>;

const stateSchema = z.object({
  facts: z.literal(1).optional(),
  runs: z.number().int().min(0),
  baseline: z.record(address, signature),
  lastSeen: z.record(address, signature),
  pending: z.record(address, z.object({ signature, runs: z.number().int().min(1) })),
  transitions: z.record(address, z.array(z.number().int())),
  flapping: z.array(address),
  dissent: z.record(z.string().min(1).max(200), z.record(address, signature)).optional(),
  incident: z
    .object({
      openedAt: z.string(),
      reference: z.record(address, signature),
      quietRuns: z.number().int().min(0),
      alert: z.object({ ts: z.string(), text: z.string() }).optional(),
      held: heldSchema.optional(),
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
  /** `confirm:agents`: a change counts only when every vantage of the sweep sees it. */
  agents: z.literal(true).optional(),
  /** `loss:>20%`, `rtt:>50ms`, `rtt:>2x`: what else opens an incident (core/watch-conditions.ts). */
  conditions: z
    .object({ lossPct: z.number().min(1).max(99).optional(), rttMs: z.number().min(0.01).max(60_000).optional(), rttFactor: z.number().min(1.1).max(100).optional() })
    .optional(),
  /** The agent groups the sweep ran in when the watch was made: the ones whose agents it needs. */
  groups: z.array(z.string().min(1).max(63)).max(1000),
  /** Set while the watch cannot run, with why (said once in the channel). */
  blocked: z.object({ cause: z.enum(['agents', 'policy', 'plan']), reason: z.string().max(1000), since: z.string() }).optional(),
  /**
   * Set while Slack refuses every post in the channel (channel gone or archived, bot removed, token revoked), with
   * Slack's error code: the watch still sweeps, keeps what it has to say and tries once a run to say it (told once
   * to its creator and in the logs). Cleared by the first post that goes through.
   */
  cannotPost: z.object({ code: z.string().max(100), since: z.string() }).optional(),
  /** Set while a maintenance window holds its notices back: since when (the first run in it), and which window. */
  quietHold: z.object({ since: z.string(), window: z.string().max(100) }).optional(),
  state: stateSchema.optional(),
  lastRun: z
    .object({
      at: z.string(),
      outcome: z.string().max(40),
      sweepId: z.string().max(64).optional(),
      summary: z.string().max(500).optional(),
    })
    .optional(),
  outbox: z.array(noticeSchema).max(MAX_OUTBOX),
});
export type WatchRecord = z.infer<typeof watchRecordSchema>;

// The stored state is the core's, field for field: a change to one is a compile error until the other follows.
const sameState: WatchState = {} as z.infer<typeof stateSchema>;
void sameState;

/** The caps on watches, each checked atomically with the others when a watch is made. */
export interface WatchLimits {
  /** Most watches one channel (or DM) may have (ZENSWEEP_WATCH_MAX_PER_CHANNEL). */
  perChannel: number;
  /** Most watches one user may have made, in all channels (ZENSWEEP_WATCH_MAX_PER_USER). */
  perUser: number;
  /** Most watches in all (ZENSWEEP_WATCH_MAX_TOTAL). */
  total: number;
}

/** Which cap a new watch would break. */
export type WatchCap = 'channel' | 'user' | 'total';

/** A new watch would break one of the caps: the message says which, and how to free a place. */
export class TooManyWatchesError extends ZenSweepError {
  constructor(
    readonly cap: WatchCap,
    message: string,
  ) {
    super('too_many_watches', message);
  }
}

/**
 * Creates the record and its place in the channel's, the user's and the whole list, unless one of them is full.
 * KEYS: channel set, record, user set, owners hash. ARGV: channel cap, id, record, user cap, total cap, owner entry.
 * Returns 1 (made), 0 (channel full), -2 (user full), -3 (total full), -1 (id taken).
 */
const CREATE_SCRIPT = `
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[4]) then return -2 end
if redis.call('HLEN', KEYS[4]) >= tonumber(ARGV[5]) then return -3 end
if redis.call('SET', KEYS[2], ARGV[3], 'NX') == false then return -1 end
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[2], ARGV[6])
return 1`;

/** Who did something about an incident, and when. */
export interface ResponseMark {
  by: string;
  at: string;
}

/** A silence of an incident: why, and until when (absent: until the incident ends). */
export interface SilenceMark extends ResponseMark {
  reason: string;
  until?: string;
}

/** How an open incident is being handled, from the buttons of its alert. */
export interface IncidentResponse {
  /** The incident it is about: its `openedAt`. */
  incident: string;
  ack?: ResponseMark;
  silence?: SilenceMark;
}

const markSchema = z.object({ by: z.string().min(1).max(64), at: z.string().max(40) });
const silenceSchema = markSchema.extend({ reason: z.string().max(500), until: z.string().max(40).optional() });

/** A response read back from its hash; undefined when it holds none or does not read. */
function readResponse(entries: string[] | Record<string, string>): IncidentResponse | undefined {
  const fields: Record<string, string> = Array.isArray(entries) ? Object.fromEntries(entries.flatMap((_, i) => (i % 2 === 0 ? [[entries[i], entries[i + 1]]] : []))) : entries;
  if (typeof fields.incident !== 'string') return undefined;
  const response: IncidentResponse = { incident: fields.incident };
  const ack = markSchema.safeParse(safeJson(fields.ack ?? ''));
  if (ack.success) response.ack = ack.data;
  const silence = silenceSchema.safeParse(safeJson(fields.silence ?? ''));
  if (silence.success) response.silence = silence.data;
  return response;
}

/** How long a response is kept after its last change, in ms. */
const RESPONSE_TTL_MS = 30 * 24 * 3600_000;

/**
 * Sets (or, `nx`, sets unless set; `del`, deletes) one field of an incident's response, after dropping a response to
 * another incident. KEYS: the response hash. ARGV: incident, field, mode, value, TTL in ms. Returns the hash.
 */
const RESPOND_SCRIPT = `
if redis.call('HGET', KEYS[1], 'incident') ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'incident', ARGV[1])
end
if ARGV[3] == 'del' then redis.call('HDEL', KEYS[1], ARGV[2])
elseif ARGV[3] == 'nx' then redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[4])
else redis.call('HSET', KEYS[1], ARGV[2], ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return redis.call('HGETALL', KEYS[1])`;

/** Deletes a lock only if it is still the holder's. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export function newWatchId(): string {
  return `w${randomBytes(3).toString('hex')}`;
}

/** A stored watch that does not read as one: listed by its id, so that it can be removed. */
export interface UnreadableWatch {
  id: string;
  /** The first thing wrong with it (never any of its content). */
  reason: string;
}

/** What `removeById` removed: the watch's sweep, when its record could still be read. */
export interface RemovedWatch {
  id: string;
  sweep?: string;
}

/** Where a watch belongs, as the owners hash keeps it (`CHANNEL USER`), whether its record reads or not. */
interface WatchOwner {
  channel: string;
  user?: string;
}

const CHANNEL_ID = /^[CGD][A-Z0-9]+$/;

/** Channel and creator of a stored record that may not pass its schema (an older or damaged one). */
function ownerOfText(text: string | null): WatchOwner | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as { channel?: unknown; createdBy?: unknown };
    if (typeof value.channel !== 'string' || !CHANNEL_ID.test(value.channel)) return undefined;
    return typeof value.createdBy === 'string' && /^[A-Za-z0-9]{1,64}$/.test(value.createdBy)
      ? { channel: value.channel, user: value.createdBy }
      : { channel: value.channel };
  } catch {
    return undefined;
  }
}

/**
 * Watches in Redis, and their schedules. Keys, each with a TTL or a bound:
 * - `PREFIX:watch:ID`: the record (written by its runs; the commands only create and delete it); no TTL, bounded
 *   by the caps: at most `total` of them;
 * - `PREFIX:watch:ID:mute`: expires when the mute ends; `PREFIX:watch:ID:lock`: held by the run in progress,
 *   expires after the run's timeout; `PREFIX:watch:ID:response`: who acknowledged or silenced its open incident
 *   (a hash: `incident`, `ack`, `silence`), deleted when the incident ends, expires 30 days after its last change;
 *   `PREFIX:watch:ID:quiet`: its maintenance window (`quiet:`), removed with the watch; `PREFIX:watch:ID:series`:
 *   its hosts' loss and round trips run after run (watch-series.ts), bounded, removed with it, expiring 8 days after;
 * - `PREFIX:watches:CHANNEL`: the channel's ids (at most `perChannel`);
 * - `PREFIX:watches-of:USER`: the ids of the watches a user made (at most `perUser`);
 * - `PREFIX:watch-owners`: id → `CHANNEL USER` for every watch (at most `total` entries): the total's count, and
 *   how a watch whose record does not read is still found and removed.
 * Sets and the hash lose an id when its watch is removed (an empty set is no key at all). The schedule is a
 * BullMQ job scheduler on WATCH_QUEUE named by the id, whose job template carries the watch runs' retention: it
 * lives in Redis, so it survives the bot's restarts.
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
    return `${this.prefix}:${WATCHES_TAG}:watch:${id}`;
  }

  private channelKey(channel: string): string {
    return `${this.prefix}:${WATCHES_TAG}:channel:${channel}`;
  }

  private userKey(user: string): string {
    return `${this.prefix}:${WATCHES_TAG}:user:${user}`;
  }

  private ownersKey(): string {
    return `${this.prefix}:${WATCHES_TAG}:owners`;
  }

  private async schedule(id: string, everyMs: number): Promise<void> {
    await this.queue.upsertJobScheduler(id, { every: everyMs }, { name: 'run', data: { v: 1, watchId: id }, opts: { ...this.runRetention } });
  }

  /**
   * Stores a new watch and schedules it, with a first run at once (its baseline). Throws TooManyWatchesError, saying
   * which cap, when its channel, its creator or the whole bot already has as many watches as allowed.
   */
  async create(record: WatchRecord, limits: WatchLimits): Promise<void> {
    const created = await this.redis.eval(
      CREATE_SCRIPT,
      4,
      this.channelKey(record.channel),
      this.key(record.id),
      this.userKey(record.createdBy),
      this.ownersKey(),
      limits.perChannel,
      record.id,
      JSON.stringify(watchRecordSchema.parse(record)),
      limits.perUser,
      limits.total,
      `${record.channel} ${record.createdBy}`,
    );
    if (created === -1) throw new Error(`watch id ${record.id} is taken`);
    if (created === 0) {
      throw new TooManyWatchesError(
        'channel',
        `this channel already has ${limits.perChannel} watches, the most it may have: remove one with /sweep unwatch ID (see /sweep watches)`,
      );
    }
    if (created === -2) {
      const where = await this.channelsOf(record.createdBy);
      throw new TooManyWatchesError(
        'user',
        `you already have ${limits.perUser} watches, the most one person may have: remove one with /sweep unwatch ID in its channel` +
          (where.length > 0 ? ` (yours are in ${where.join(', ')})` : ''),
      );
    }
    if (created !== 1) {
      throw new TooManyWatchesError(
        'total',
        `this bot already runs ${limits.total} watches, the most it may run: remove one with /sweep unwatch ID (see /sweep watches), or ask whoever runs ZenSweep to raise ZENSWEEP_WATCH_MAX_TOTAL`,
      );
    }
    await this.schedule(record.id, record.everyMs);
    await this.queue.add('run', { v: 1, watchId: record.id }, { jobId: `${record.id}-first`, ...this.runRetention });
  }

  /** The channel ids where a user's watches are, at most 5, for the message of the per-user cap. */
  private async channelsOf(user: string): Promise<string[]> {
    const ids = (await this.redis.smembers(this.userKey(user))).slice(0, 100);
    if (ids.length === 0) return [];
    const owners = await this.redis.hmget(this.ownersKey(), ...ids);
    const channels = new Set(owners.flatMap((entry) => (entry ? [entry.split(' ')[0] ?? ''] : [])).filter((c) => CHANNEL_ID.test(c)));
    return [...channels].sort().slice(0, 5);
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

  /**
   * The channel's watches, oldest first, and apart from them those whose record does not read as one (each also
   * told to `onBadRecord`), by id, so that they can be removed. An id whose record is gone altogether (evicted,
   * deleted by hand) is removed with its schedule on the way.
   */
  async list(channel: string): Promise<{ watches: WatchRecord[]; unreadable: UnreadableWatch[] }> {
    const ids = (await this.redis.smembers(this.channelKey(channel))).sort();
    const watches: WatchRecord[] = [];
    const unreadable: UnreadableWatch[] = [];
    for (const id of ids) {
      const key = this.key(id);
      const text = await this.redis.get(key);
      if (text === null) {
        await this.removeById(id, channel);
        continue;
      }
      const record = readRecord(watchRecordSchema, text, { what: 'watch record', key }, (bad) => {
        unreadable.push({ id, reason: bad.reason });
        this.onBadRecord(bad);
      });
      if (record) watches.push(record);
    }
    watches.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    return { watches, unreadable };
  }

  /** The watches `user` made, in every channel, oldest first (those whose record does not read left out). */
  async listOf(user: string): Promise<WatchRecord[]> {
    const ids = (await this.redis.smembers(this.userKey(user))).sort();
    const watches: WatchRecord[] = [];
    for (const id of ids) {
      const watch = await this.get(id);
      if (watch) watches.push(watch);
    }
    return watches.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /**
   * Removes the watch `id` of `channel` with all it has in Redis: its record, mute, lock, its place in the channel's,
   * its creator's and the whole list, and its schedule, whether its record reads as a watch or not. Undefined when
   * the channel has no watch of that id (another channel's is left alone).
   */
  async removeById(id: string, channel: string): Promise<RemovedWatch | undefined> {
    const key = this.key(id);
    const [member, entry, text] = await Promise.all([
      this.redis.sismember(this.channelKey(channel), id),
      this.redis.hget(this.ownersKey(), id),
      this.redis.get(key),
    ]);
    const [ownerChannel, ownerUser] = entry ? entry.split(' ') : [];
    const stored = ownerOfText(text);
    const belongs = member === 1 || ownerChannel === channel || (entry === null && stored?.channel === channel);
    if (!belongs) return undefined;
    const user = ownerUser ?? stored?.user;
    const record = text ? watchRecordSchema.safeParse(safeJson(text)) : undefined;
    await this.unschedule(id);
    const tx = this.redis.multi().del(key, `${key}:mute`, `${key}:lock`, `${key}:response`, `${key}:quiet`, `${key}:series`).srem(this.channelKey(channel), id).hdel(this.ownersKey(), id);
    if (user) tx.srem(this.userKey(user), id);
    await tx.exec();
    return record?.success ? { id, sweep: record.data.sweep } : { id };
  }

  /** Removes a watch and its schedule. */
  async remove(record: Pick<WatchRecord, 'id' | 'channel'>): Promise<void> {
    await this.removeById(record.id, record.channel);
  }

  /** Stops a watch's schedule (its record is already gone). */
  async unschedule(id: string): Promise<void> {
    await this.queue.removeJobScheduler(id);
  }

  /**
   * Brings watches made by an older version under what this one keeps: each record gets its place in the owners
   * hash and its creator's list (so the caps count it and `removeById` finds it), and each schedule whose job
   * template has no retention gets one. Returns how many watches it changed. Cheap when there is nothing to do.
   */
  async upgrade(): Promise<number> {
    let changed = 0;
    const ids = new Set<string>();
    const head = `${this.prefix}:${WATCHES_TAG}:watch:`;
    for (const key of await scanKeys(this.redis, `${head}w*`)) {
      const id = key.slice(head.length);
      if (/^w[0-9a-f]{6}$/.test(id)) ids.add(id);
    }
    for (const id of ids) {
      if ((await this.redis.hexists(this.ownersKey(), id)) === 1) continue;
      const owner = ownerOfText(await this.redis.get(this.key(id)));
      if (!owner) continue;
      const tx = this.redis.multi().hset(this.ownersKey(), id, `${owner.channel} ${owner.user ?? ''}`.trim()).sadd(this.channelKey(owner.channel), id);
      if (owner.user) tx.sadd(this.userKey(owner.user), id);
      await tx.exec();
      changed += 1;
    }
    // Schedules on the queue of watch runs before its name carried a hash tag: moved to this one.
    if (!isCluster(this.redis)) {
      const old = new bullmq.Queue(OLD_WATCH_QUEUE, { connection: this.redis }).on('error', () => undefined);
      try {
        for (const scheduler of await old.getJobSchedulers()) {
          if (ids.has(scheduler.key) && scheduler.every !== undefined && scheduler.every !== null) {
            await this.schedule(scheduler.key, Number(scheduler.every));
            changed += 1;
          }
          await old.removeJobScheduler(scheduler.key);
        }
      } finally {
        await old.close();
      }
    }
    for (const scheduler of await this.queue.getJobSchedulers()) {
      const id = scheduler.key;
      if (!ids.has(id) || scheduler.every === undefined || scheduler.every === null) continue;
      if (scheduler.template?.opts?.removeOnComplete !== undefined) continue;
      await this.schedule(id, Number(scheduler.every));
      changed += 1;
    }
    return changed;
  }

  /**
   * Records how the incident opened at `incident` is being handled: `ack` once (the first acknowledgement stays),
   * `silence` replaced by each new one, or ended (`undefined`). A response to an earlier incident is dropped first.
   * Returns the response as it now stands.
   */
  async respond(id: string, incident: string, field: 'ack' | 'silence', value: ResponseMark | SilenceMark | undefined): Promise<IncidentResponse> {
    const mode = value === undefined ? 'del' : field === 'ack' ? 'nx' : 'set';
    const entries = (await this.redis.eval(RESPOND_SCRIPT, 1, `${this.key(id)}:response`, incident, field, mode, value === undefined ? '' : JSON.stringify(value), RESPONSE_TTL_MS)) as string[];
    return readResponse(entries) ?? { incident };
  }

  /** How the incident opened at `incident` is being handled; nothing for another incident's response. */
  async response(id: string, incident: string): Promise<IncidentResponse | undefined> {
    const response = readResponse(await this.redis.hgetall(`${this.key(id)}:response`));
    return response?.incident === incident ? response : undefined;
  }

  /** Forgets how an incident was handled (it has ended). */
  async forgetResponse(id: string): Promise<void> {
    await this.redis.del(`${this.key(id)}:response`);
  }

  /** Sets a watch's maintenance window (its canonical words), or ends it (`undefined`). */
  async setQuiet(id: string, window: string | undefined): Promise<void> {
    if (window === undefined) await this.redis.del(`${this.key(id)}:quiet`);
    else await this.redis.set(`${this.key(id)}:quiet`, window);
  }

  /** A watch's maintenance window, in its canonical words, if it has one. */
  async quietOf(id: string): Promise<string | undefined> {
    return (await this.redis.get(`${this.key(id)}:quiet`)) ?? undefined;
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

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
