import { gunzipSync, gzipSync } from 'node:zlib';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { KEY_PREFIX } from './names.js';
import { WATCHES_TAG } from './key-layout.js';
import { MAX_POINTS, bounded } from '../core/series.js';
import type { SeriesPoint } from '../core/series.js';

/**
 * Loss and round trips of a watch's hosts, run after run (`count:N`, `loss:`, `rtt:`), for its conditions
 * (`rtt:>2x` is against the host's own median of the last day) and its chart. One key a watch,
 * `PREFIX:{watches}:watch:ID:series`, gzipped JSON, removed with the watch and expiring 8 days after its last run.
 * Bounded: a week of points at most, MAX_POINTS at most; past that the oldest are merged in pairs (their means,
 * their worst), so the last day keeps the watch's own interval.
 */

const TTL_S = 8 * 24 * 3600;

const hostPoint = z.tuple([z.number(), z.number().nullable(), z.number().nullable(), z.number().nullable()]);
const seriesSchema = z.object({
  v: z.literal(1),
  points: z.array(z.object({ at: z.string(), runs: z.number().int().min(2).optional(), hosts: z.record(z.string().max(64), hostPoint) })).max(MAX_POINTS),
});

export class WatchSeries {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = KEY_PREFIX,
  ) {}

  key(id: string): string {
    return `${this.prefix}:${WATCHES_TAG}:watch:${id}:series`;
  }

  /** The watch's points, oldest first; none when it has none or they do not read. */
  async read(id: string): Promise<SeriesPoint[]> {
    const stored = await this.redis.getBuffer(this.key(id));
    if (!stored) return [];
    try {
      const parsed = seriesSchema.safeParse(JSON.parse(gunzipSync(stored).toString('utf8')));
      return parsed.success ? parsed.data.points : [];
    } catch {
      return [];
    }
  }

  /** Adds a run's point (the watch's runs never overlap: each holds its lock), keeping the series bounded. */
  async append(id: string, point: SeriesPoint, now = Date.now()): Promise<void> {
    const points = bounded([...(await this.read(id)), point], now);
    await this.redis.set(this.key(id), gzipSync(JSON.stringify({ v: 1, points })), 'EX', TTL_S);
  }

  async remove(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }
}
