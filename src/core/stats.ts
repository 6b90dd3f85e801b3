/** Round-trip statistics as `ping` prints them: `rtt min/avg/max/mdev = …` in milliseconds, to the microsecond. */
export interface RttStats {
  min: number;
  avg: number;
  max: number;
  mdev: number;
}

/** Echo statistics for one host, as ping's summary: packets transmitted, received, loss %. */
export interface EchoStats {
  sent: number;
  received: number;
  /** 0–100, rounded to one decimal. */
  lossPct: number;
  /** Present when at least one reply came back. */
  rtt?: RttStats;
}

/**
 * Statistics from running sums (no array of samples is kept): mdev as iputils ping computes it,
 * sqrt(mean(rtt²) − mean(rtt)²). Undefined when there was no sample.
 */
export function rttStats(count: number, sum: number, sumSquares: number, min: number, max: number): RttStats | undefined {
  if (count === 0) return undefined;
  const avg = sum / count;
  // Guard against tiny negative values from floating-point cancellation.
  const mdev = Math.sqrt(Math.max(0, sumSquares / count - avg * avg));
  return { min: microseconds(min), avg: microseconds(avg), max: microseconds(max), mdev: microseconds(mdev) };
}

/** Milliseconds kept to the microsecond, the precision ping prints (and all a clock read in JS can promise). */
function microseconds(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export function lossPercent(sent: number, received: number): number {
  if (sent === 0) return 0;
  return Math.round(((sent - received) / sent) * 1000) / 10;
}

/** `0.340/0.402/0.450/0.041`: three decimals, as ping prints them. */
export function formatRtt(rtt: RttStats): string {
  return [rtt.min, rtt.avg, rtt.max, rtt.mdev].map((v) => v.toFixed(3)).join('/');
}
