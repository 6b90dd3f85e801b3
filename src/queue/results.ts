import { gunzipSync, gzipSync } from 'node:zlib';
import type { Redis } from 'ioredis';
import type { DistributedReport, HostResult, NameResolution } from '../core/report.js';
import { KEY_PREFIX } from './names.js';

/** Level 1: a /16 report packs about as small as at the default level, in a fraction of the time. */
function pack(value: unknown): Buffer {
  return gzipSync(JSON.stringify(value), { level: 1 });
}

/** How long results stay in Redis, in seconds: a day, time enough for a reporter that was down to catch up. */
export const RESULT_TTL_SECONDS = 24 * 3600;

/** What a chunk found, kept apart from its job's return value. */
export interface ChunkHosts {
  hosts: HostResult[];
  names: NameResolution[];
}

/**
 * Host results and reports live in their own keys, gzipped, not in job return values: BullMQ copies a job's
 * return value into its queue's event stream, so a /16 report (about 15 MB of JSON) would be written twice more
 * and kept there by the thousand. Gzipped, a /16 report takes about 1 MB.
 */
export class ResultStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = KEY_PREFIX,
  ) {}

  chunkKey(sweepId: string, index: number): string {
    return `${this.prefix}:chunk:${sweepId}:${index}`;
  }

  private reportKey(sweepId: string): string {
    return `${this.prefix}:report:${sweepId}`;
  }

  /** Stores a chunk's hosts; a chunk that runs again writes the same key, so it is never counted twice. */
  async saveChunk(sweepId: string, index: number, result: ChunkHosts): Promise<void> {
    await this.redis.set(this.chunkKey(sweepId, index), pack(result), 'EX', RESULT_TTL_SECONDS);
  }

  async loadChunk(sweepId: string, index: number): Promise<ChunkHosts | undefined> {
    const data = await this.redis.getBuffer(this.chunkKey(sweepId, index));
    return data ? (JSON.parse(gunzipSync(data).toString('utf8')) as ChunkHosts) : undefined;
  }

  async deleteChunks(sweepId: string, indexes: readonly number[]): Promise<void> {
    if (indexes.length > 0) await this.redis.del(...indexes.map((i) => this.chunkKey(sweepId, i)));
  }

  async saveReport(report: DistributedReport): Promise<void> {
    await this.redis.set(this.reportKey(report.sweepId), pack(report), 'EX', RESULT_TTL_SECONDS);
  }

  async loadReport(sweepId: string): Promise<DistributedReport | undefined> {
    const data = await this.redis.getBuffer(this.reportKey(sweepId));
    return data ? (JSON.parse(gunzipSync(data).toString('utf8')) as DistributedReport) : undefined;
  }
}
