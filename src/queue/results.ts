import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { DistributedReport } from '../core/report.js';
import { distributedReportSchema, sweepPartSchema } from './jobs.js';
import type { SweepPart } from './jobs.js';
import { KEY_PREFIX, REPORT_QUEUE, groupTag, sweepTag } from './names.js';
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

/** Which chunk: its group (whose slot holds its hosts) and its index in the sweep. */
export interface ChunkRef {
  group: string;
  index: number;
}

/**
 * Host results and reports live in their own keys, gzipped, not in job return values: BullMQ copies a job's
 * return value into its queue's event stream, so a /16 report (about 15 MB of JSON) would be written twice more
 * and kept there by the thousand. Gzipped, a /16 report takes about 1 MB. What is read back is checked against the
 * schema it was written with; a bad one is reported to `onBadRecord` and read as absent.
 *
 * Each key sits in the hash slot of the job whose end depends on it, so that a failover, which loses the last writes
 * of one master (replication is asynchronous), never keeps a job's end and loses what it wrote before: a chunk's hosts
 * and a group's part in the group's slot (`PREFIX:chunk:{GROUP}:SWEEP:INDEX`, `PREFIX:part:{GROUP}:SWEEP`), a report
 * in the report queue's (`PREFIX:report:{sweep-reports}:SWEEP`). The parts kept so far are counted in
 * `PREFIX:parts:{SWEEP}`. Each expires after RESULT_TTL_SECONDS; chunks and parts are deleted once the report is
 * built, a report by a watch run once read.
 */
export class ResultStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = KEY_PREFIX,
    private readonly onBadRecord: OnBadRecord = printBadRecord,
  ) {}

  chunkKey(sweepId: string, chunk: ChunkRef): string {
    return `${this.prefix}:chunk:${groupTag(chunk.group)}:${sweepId}:${chunk.index}`;
  }

  private partKey(sweepId: string, group: string): string {
    return `${this.prefix}:part:${groupTag(group)}:${sweepId}`;
  }

  private partsKey(sweepId: string): string {
    return `${this.prefix}:parts:${sweepTag(sweepId)}`;
  }

  private reportKey(sweepId: string): string {
    return `${this.prefix}:report:${REPORT_QUEUE}:${sweepId}`;
  }

  /**
   * Keeps a group's part and returns how many groups of the sweep have theirs kept: a part kept again (its job ran
   * twice) replaces itself and counts once. The count may come out low after a failover (it lives in another slot):
   * whoever waits for the report adds the report job then (Dispatcher.waitForReport).
   */
  async savePart(sweepId: string, part: SweepPart): Promise<number> {
    await this.redis.set(this.partKey(sweepId, part.group), packRecord(part), 'EX', RESULT_TTL_SECONDS);
    const replies = await this.redis.multi().sadd(this.partsKey(sweepId), part.group).expire(this.partsKey(sweepId), RESULT_TTL_SECONDS).scard(this.partsKey(sweepId)).exec();
    const failed = replies?.find(([error]) => error);
    if (!replies || failed) throw failed?.[0] ?? new Error('the part was not counted (transaction aborted)');
    return Number(replies[2]?.[1]);
  }

  /** The parts of these groups, in their order; one missing or unreadable (reported to onBadRecord) is undefined. */
  async loadParts(sweepId: string, groups: readonly string[]): Promise<(SweepPart | undefined)[]> {
    // One GET each: each group's part is in its own slot.
    return Promise.all(
      groups.map(async (group) => {
        const key = this.partKey(sweepId, group);
        const data = await this.redis.getBuffer(key);
        return data ? readPackedRecord(sweepPartSchema, data, { what: 'report part', key }, this.onBadRecord) : undefined;
      }),
    );
  }

  async deleteParts(sweepId: string, groups: readonly string[]): Promise<void> {
    await Promise.all([this.redis.del(this.partsKey(sweepId)), ...groups.map((group) => this.redis.del(this.partKey(sweepId, group)))]);
  }

  /** Stores a chunk's hosts; a chunk that runs again writes the same key, so it is never counted twice. */
  async saveChunk(sweepId: string, chunk: ChunkRef, result: ChunkHosts): Promise<void> {
    await this.redis.set(this.chunkKey(sweepId, chunk), packRecord(result), 'EX', RESULT_TTL_SECONDS);
  }

  async loadChunk(sweepId: string, chunk: ChunkRef): Promise<ChunkHosts | undefined> {
    return (await this.loadChunks(sweepId, [chunk]))[0];
  }

  /**
   * The hosts of many chunks, in the order asked, in as few round trips as there are batches of CHUNK_BATCH keys of
   * one group (a /16 on one group is 256 chunks: one MGET, where one GET each cost 256 round trips).
   */
  async loadChunks(sweepId: string, chunks: readonly ChunkRef[]): Promise<(ChunkHosts | undefined)[]> {
    const found: (ChunkHosts | undefined)[] = new Array<ChunkHosts | undefined>(chunks.length).fill(undefined);
    const byGroup = new Map<string, number[]>();
    chunks.forEach((chunk, position) => {
      const positions = byGroup.get(chunk.group);
      if (positions) positions.push(position);
      else byGroup.set(chunk.group, [position]);
    });
    for (const positions of byGroup.values()) {
      for (let from = 0; from < positions.length; from += CHUNK_BATCH) {
        const batch = positions.slice(from, from + CHUNK_BATCH);
        const keys = batch.map((position) => this.chunkKey(sweepId, chunks[position] as ChunkRef));
        const values = await this.redis.mgetBuffer(...keys);
        keys.forEach((key, i) => {
          const data = values[i];
          found[batch[i] as number] = data ? readPackedRecord(chunkHostsSchema, data, { what: 'chunk result', key }, this.onBadRecord) : undefined;
        });
      }
    }
    return found;
  }

  async deleteChunks(sweepId: string, chunks: readonly ChunkRef[]): Promise<void> {
    const byGroup = new Map<string, string[]>();
    for (const chunk of chunks) {
      const keys = byGroup.get(chunk.group);
      if (keys) keys.push(this.chunkKey(sweepId, chunk));
      else byGroup.set(chunk.group, [this.chunkKey(sweepId, chunk)]);
    }
    for (const keys of byGroup.values()) if (keys.length > 0) await this.redis.del(...keys);
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
