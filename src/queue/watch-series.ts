import { gunzipSync, gzipSync } from 'node:zlib';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { KEY_PREFIX } from './names.js';
import { WATCHES_TAG } from './key-layout.js';

/**
 * Loss and round trips of a watch's hosts, run after run (`count:N`, `loss:`, `rtt:`), for its conditions
 * (`rtt:>2x` is against the host's own median of the last day) and its chart. One key a watch,
 * `PREFIX:{watches}:watch:ID:series`, gzipped JSON, removed with the watch and expiring 8 days after its last run.
 * Bounded: a week of points at most, MAX_POINTS at most; past that the oldest are merged in pairs (their means,
 * their worst), so the last day keeps the watch's own interval.
 */

/** One host in one point: loss %, average and worst round trip (ms), the first open port's connect time (ms). */
export type HostPoint = [lossPct: number, rttAvg: number | null, rttMax: number | null, connectMs: number | null];

export interface SeriesPoint {
  /** When the run (the first of merged runs) finished, ISO 8601. */
  at: string;
  /** Runs merged into it, when more than one. */
  runs?: number;
  hosts: Record<string, HostPoint>;
}

/** Points kept at most: a week at 5 minutes. */
export const MAX_POINTS = 2016;
const WEEK_MS = 7 * 24 * 3600_000;
const TTL_S = 8 * 24 * 3600;

const hostPoint = z.tuple([z.number(), z.number().nullable(), z.number().nullable(), z.number().nullable()]);
const seriesSchema = z.object({
  v: z.literal(1),
  points: z.array(z.object({ at: z.string(), runs: z.number().int().min(2).optional(), hosts: z.record(z.string().max(64), hostPoint) })).max(MAX_POINTS),
});

const mean = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : (a + b) / 2);
const worst = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));

/** Two neighbouring points as one: each host's means (its worst round trip, the worst), dated by the first. */
function merge(a: SeriesPoint, b: SeriesPoint): SeriesPoint {
  const hosts: Record<string, HostPoint> = {};
  for (const ip of new Set([...Object.keys(a.hosts), ...Object.keys(b.hosts)])) {
    const x = a.hosts[ip];
    const y = b.hosts[ip];
    hosts[ip] = x && y ? [(x[0] + y[0]) / 2, mean(x[1], y[1]), worst(x[2], y[2]), mean(x[3], y[3])] : ((x ?? y) as HostPoint);
  }
  return { at: a.at, runs: (a.runs ?? 1) + (b.runs ?? 1), hosts };
}

/** Points within a week and MAX_POINTS, the oldest merged in pairs when there are too many. */
export function bounded(points: readonly SeriesPoint[], now: number): SeriesPoint[] {
  let kept = points.filter((p) => now - Date.parse(p.at) <= WEEK_MS);
  if (kept.length <= MAX_POINTS) return kept;
  // The oldest half merged in pairs: a quarter of the room is freed, the newest keep their own runs.
  const half = Math.floor(kept.length / 2);
  const old = kept.slice(0, half);
  const merged: SeriesPoint[] = [];
  for (let i = 0; i < old.length; i += 2) merged.push(old[i + 1] ? merge(old[i] as SeriesPoint, old[i + 1] as SeriesPoint) : (old[i] as SeriesPoint));
  kept = [...merged, ...kept.slice(half)];
  return kept.length <= MAX_POINTS ? kept : kept.slice(kept.length - MAX_POINTS);
}

/** Each host's median of its average round trips in the points since `sinceMs` (three points at least). */
export function usualRtts(points: readonly SeriesPoint[], sinceMs: number): Map<string, number> {
  const byHost = new Map<string, number[]>();
  for (const point of points) {
    if (Date.parse(point.at) < sinceMs) continue;
    for (const [ip, [, avg]] of Object.entries(point.hosts)) if (avg !== null) byHost.set(ip, [...(byHost.get(ip) ?? []), avg]);
  }
  const usual = new Map<string, number>();
  for (const [ip, values] of byHost) {
    if (values.length < 3) continue;
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    usual.set(ip, sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2);
  }
  return usual;
}

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
