/**
 * A watch's series, as numbers: its hosts' loss and round trips run after run, kept bounded (a week of points at most,
 * MAX_POINTS at most, the oldest merged in pairs), and each host's usual round trip. Pure; queue/watch-series.ts keeps
 * it in Redis.
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
