import type { Redis } from 'ioredis';
import { z } from 'zod';
import { AddressSet, parseTargetToken, probeRange } from '../core/targets.js';
import { DEFAULT_HISTORY_AGE_DAYS } from '../queue/history.js';
import { KEY_PREFIX } from '../queue/names.js';
import { printBadRecord, readRecord } from '../queue/records.js';
import type { OnBadRecord } from '../queue/records.js';
import type { Touched } from './policy.js';

/** Where a request came from: a Slack channel (or DM), or the command line (`zensweep submit`). */
export type RequestSource = 'slack' | 'cli';

/** A started request, as kept for what comes after it: its buttons (Cancel, Show hosts, Save), `zensweep cancel`. */
export const requestRecordSchema = z.object({
  v: z.literal(1),
  id: z.string().min(1).max(64),
  kind: z.enum(['sweep', 'trace', 'diag']),
  source: z.enum(['slack', 'cli']),
  /** Who asked: a Slack user id, or user@host. */
  requester: z.string().min(1).max(200),
  /** Where: a Slack channel id, or `cli`. */
  channel: z.string().min(1).max(64),
  /** The request in the grammar's words. */
  text: z.string().max(10_000),
  /** What it reaches: each group's targets (address ranges and names), as planned. */
  groups: z
    .array(z.object({ group: z.string().min(1).max(63), targets: z.array(z.string().min(1).max(300)).max(100_000) }))
    .max(1000),
  at: z.string(),
});
export type RequestRecord = z.infer<typeof requestRecordSchema>;

/** What a record's targets touch, by group: address ranges as addresses, names as the group alone. */
export function touchedBy(groups: readonly { group: string; targets: readonly string[] }[]): Touched {
  const touched = new Map<string, AddressSet>();
  for (const { group, targets } of groups) {
    const set = touched.get(group) ?? new AddressSet();
    for (const target of targets) {
      const spec = parseTargetToken(target);
      if (spec.kind === 'name') continue;
      const range = probeRange(spec);
      set.add(range.family, range.start, range.end);
    }
    touched.set(group, set);
  }
  return touched;
}

/**
 * Started requests in Redis, one key each (`PREFIX:request:ID`), kept as long as history keeps sweeps (their buttons
 * live as long), then gone by their TTL.
 */
export class RequestRecords {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = KEY_PREFIX,
    private readonly onBadRecord: OnBadRecord = printBadRecord,
    /** How long a record is kept, in seconds, default the history's 30 days. */
    private readonly ttlSeconds = DEFAULT_HISTORY_AGE_DAYS * 24 * 3600,
  ) {}

  private key(id: string): string {
    return `${this.prefix}:request:${id}`;
  }

  async save(record: RequestRecord): Promise<void> {
    await this.redis.set(this.key(record.id), JSON.stringify(requestRecordSchema.parse(record)), 'EX', this.ttlSeconds);
  }

  /** The record; undefined when it is gone, or does not read as one (told to onBadRecord), or names a bad target. */
  async get(id: string): Promise<RequestRecord | undefined> {
    const key = this.key(id);
    const text = await this.redis.get(key);
    if (text === null) return undefined;
    const record = readRecord(requestRecordSchema, text, { what: 'request record', key }, this.onBadRecord);
    if (!record) return undefined;
    try {
      touchedBy(record.groups);
    } catch (error) {
      this.onBadRecord({ what: 'request record', key, reason: (error as Error).message });
      return undefined;
    }
    return record;
  }
}
