import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { DistributedReport } from '../core/report.js';
import { distributedReportSchema, sweepPartSchema } from './jobs.js';
import type { SweepPart } from './jobs.js';
import { KEY_PREFIX, sweepTag } from './names.js';
import { packRecord, printBadRecord, readPackedRecord } from './records.js';
import type { OnBadRecord } from './records.js';
import { hostResultSchema, nameResolutionSchema } from './report-schema.js';

/** How long results stay in Redis, in seconds: a day, time enough for a reporter that was down to catch up. */
export const RESULT_TTL_SECONDS = 24 * 3600;
/** Chunk results read in one MGET: about 1 MB of gzipped hosts at a /24 each. */
const CHUNK_BATCH = 256;

/** What a chunk found, kept apart from its job's return value. */
export const chunkHostsSchema = z.object({
  hosts: z.array(hostResultSchema),
  names: z.array(nameResolutionSchema),
});
export type ChunkHosts = z.infer<typeof chunkHostsSchema>;

/**
 * Host results and reports live in their own keys, gzipped, not in job return values: BullMQ copies a job's
 * return value into its queue's event stream, so a /16 report (about 15 MB of JSON) would be written twice more
 * and kept there by the thousand. Gzipped, a /16 report takes about 1 MB. What is read back is checked against the
 * schema it was written with; a bad one is reported to `onBadRecord` and read as absent. Keys, each expiring after
 * RESULT_TTL_SECONDS: `PREFIX:chunk:{SWEEP}:INDEX` and `PREFIX:part:{SWEEP}:GROUP` with their set
 * `PREFIX:parts:{SWEEP}` (deleted once its report is built: one hash tag, so read together in one slot), and
 * `PREFIX:report:SWEEP` (deleted by a watch run once read).
 */
export class ResultStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = KEY_PREFIX,
    private readonly onBadRecord: OnBadRecord = printBadRecord,
  ) {}

  chunkKey(sweepId: string, index: number): string {
    return `${this.prefix}:chunk:${sweepTag(sweepId)}:${index}`;
  }

  private partKey(sweepId: string, group: string): string {
    return `${this.prefix}:part:${sweepTag(sweepId)}:${group}`;
  }

  private partsKey(sweepId: string): string {
    return `${this.prefix}:parts:${sweepTag(sweepId)}`;
  }

  /**
   * Keeps a group's part and returns how many groups of the sweep have theirs kept: a part kept again (its job ran
   * twice) replaces itself and counts once.
   */
  async savePart(sweepId: string, part: SweepPart): Promise<number> {
    const replies = await this.redis
      .multi()
      .set(this.partKey(sweepId, part.group), packRecord(part), 'EX', RESULT_TTL_SECONDS)
      .sadd(this.partsKey(sweepId), part.group)
      .expire(this.partsKey(sweepId), RESULT_TTL_SECONDS)
      .scard(this.partsKey(sweepId))
      .exec();
    const failed = replies?.find(([error]) => error);
    if (!replies || failed) throw failed?.[0] ?? new Error('the part was not kept (transaction aborted)');
    return Number(replies[3]?.[1]);
  }

  /** Every part kept for the sweep; one that is unreadable is reported to onBadRecord and left out. */
  async loadParts(sweepId: string): Promise<SweepPart[]> {
    const groups = (await this.redis.smembers(this.partsKey(sweepId))).sort();
    if (groups.length === 0) return [];
    const keys = groups.map((group) => this.partKey(sweepId, group));
    const values = await this.redis.mgetBuffer(...keys);
    const parts: SweepPart[] = [];
    keys.forEach((key, i) => {
      const data = values[i];
      const part = data ? readPackedRecord(sweepPartSchema, data, { what: 'report part', key }, this.onBadRecord) : undefined;
      if (part) parts.push(part);
    });
    return parts;
  }

  async deleteParts(sweepId: string, groups: readonly string[]): Promise<void> {
    await this.redis.del(this.partsKey(sweepId), ...groups.map((group) => this.partKey(sweepId, group)));
  }

  private reportKey(sweepId: string): string {
    return `${this.prefix}:report:${sweepId}`;
  }

  /** Stores a chunk's hosts; a chunk that runs again writes the same key, so it is never counted twice. */
  async saveChunk(sweepId: string, index: number, result: ChunkHosts): Promise<void> {
    await this.redis.set(this.chunkKey(sweepId, index), packRecord(result), 'EX', RESULT_TTL_SECONDS);
  }

  async loadChunk(sweepId: string, index: number): Promise<ChunkHosts | undefined> {
    return (await this.loadChunks(sweepId, [index]))[0];
  }

  /**
   * The hosts of many chunks, in the order asked, in as few round trips as there are batches of CHUNK_BATCH keys (a
   * /16 is 256 chunks: one MGET, where one GET each cost 256 round trips).
   */
  async loadChunks(sweepId: string, indexes: readonly number[]): Promise<(ChunkHosts | undefined)[]> {
    const found: (ChunkHosts | undefined)[] = [];
    for (let from = 0; from < indexes.length; from += CHUNK_BATCH) {
      const keys = indexes.slice(from, from + CHUNK_BATCH).map((i) => this.chunkKey(sweepId, i));
      const values = await this.redis.mgetBuffer(...keys);
      keys.forEach((key, i) => {
        const data = values[i];
        found.push(data ? readPackedRecord(chunkHostsSchema, data, { what: 'chunk result', key }, this.onBadRecord) : undefined);
      });
    }
    return found;
  }

  async deleteChunks(sweepId: string, indexes: readonly number[]): Promise<void> {
    if (indexes.length > 0) await this.redis.del(...indexes.map((i) => this.chunkKey(sweepId, i)));
  }

  async saveReport(report: DistributedReport): Promise<void> {
    await this.redis.set(this.reportKey(report.sweepId), packRecord(report), 'EX', RESULT_TTL_SECONDS);
  }

  /** Deletes a report that its only reader has read (a watch run). */
  async deleteReport(sweepId: string): Promise<void> {
    await this.redis.del(this.reportKey(sweepId));
  }

  async loadReport(sweepId: string): Promise<DistributedReport | undefined> {
    const key = this.reportKey(sweepId);
    const data = await this.redis.getBuffer(key);
    return data ? readPackedRecord(distributedReportSchema, data, { what: 'report', key }, this.onBadRecord) : undefined;
  }
}
