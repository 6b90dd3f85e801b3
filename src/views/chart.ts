/**
 * A watch's chart for a phone (the thread of its alert, the Graph button): round trips over time, the median of the
 * hosts shown and the worst of them, above their loss; the incident's span shaded. The last day, or with an incident
 * from before it began (twice its length, an hour at least) so that its span reads. Drawn as SVG MAP_WIDTH px wide
 * (the phone's text column), its few figures in the map's pixel font, so no font is needed to draw it; the message
 * beside it says what each colour is.
 */
import type { SeriesPoint } from '../core/series.js';
import { MAP_WIDTH, pixelText, pixelTextWidth, r } from './map.js';
import type { MapPicture } from './map.js';

export const CHART_COLOURS = { median: '#2f80ed', worst: '#e5484d', loss: '#f5a524', incident: 'rgba(229,72,77,0.13)' } as const;

/** How far back the chart looks: a day, or from a little before the incident when it began earlier. */
const DAY_MS = 24 * 3600_000;

export interface ChartInput {
  points: readonly SeriesPoint[];
  /** The hosts drawn: those of the incident, or the watch's worst. */
  hosts: readonly string[];
  incident?: { from: number; to?: number };
  now: number;
}

/** The hosts worth a chart when no incident names them: the worst of the last day by loss, then by round trip. */
export function worstHosts(points: readonly SeriesPoint[], now: number, count = 3): string[] {
  const score = new Map<string, [number, number]>();
  for (const point of points) {
    if (now - Date.parse(point.at) > DAY_MS) continue;
    for (const [ip, [loss, , worst]] of Object.entries(point.hosts)) {
      const [l, w] = score.get(ip) ?? [0, 0];
      score.set(ip, [Math.max(l, loss), Math.max(w, worst ?? 0)]);
    }
  }
  return [...score].sort(([, a], [, b]) => b[0] - a[0] || b[1] - a[1]).slice(0, count).map(([ip]) => ip);
}

/** 1, 2 or 5 × 10^k at or above `value`: the top of an axis. */
function niceTop(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** The chart as SVG; undefined when the series has no point of these hosts to draw. */
export function chartSvg(input: ChartInput): MapPicture | undefined {
  // With an incident: from before it began (twice its length, an hour at least), so that its span reads; else a day.
  const since = input.incident ? input.incident.from - Math.max(3600_000, 2 * ((input.incident.to ?? input.now) - input.incident.from)) : input.now - DAY_MS;
  const shown = new Set(input.hosts);
  const rows = input.points
    .filter((p) => Date.parse(p.at) >= since)
    .map((p) => {
      const hosts = Object.entries(p.hosts).filter(([ip]) => shown.has(ip)).map(([, v]) => v);
      return {
        at: Date.parse(p.at),
        median: median(hosts.flatMap(([, avg]) => (avg === null ? [] : [avg]))),
        worst: hosts.reduce<number | undefined>((m, [, , max]) => (max === null ? m : Math.max(m ?? 0, max)), undefined),
        loss: hosts.reduce((m, [loss]) => Math.max(m, loss), 0),
        any: hosts.length > 0,
      };
    })
    .filter((row) => row.any);
  if (rows.length === 0) return undefined;
  const px = 1.5;
  const left = pixelTextWidth('9999', px) + 6;
  const width = MAP_WIDTH - left - 2;
  const rtt = { top: 4, height: 118 };
  const loss = { top: rtt.top + rtt.height + 14, height: 44 };
  const height = loss.top + loss.height + 14;
  const t0 = rows[0]?.at ?? input.now;
  const t1 = Math.max(rows.at(-1)?.at ?? input.now, t0 + 60_000);
  const x = (t: number): number => left + ((t - t0) / (t1 - t0)) * width;
  const top = niceTop(Math.max(...rows.map((row) => row.worst ?? row.median ?? 0)));
  const yRtt = (ms: number): number => rtt.top + rtt.height - (Math.min(ms, top) / top) * rtt.height;
  const yLoss = (pct: number): number => loss.top + loss.height - (pct / 100) * loss.height;
  const line = (pick: (row: (typeof rows)[number]) => number | undefined): string => {
    let d = '';
    let pen = false;
    for (const row of rows) {
      const value = pick(row);
      if (value === undefined) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${r(x(row.at))} ${r(yRtt(value))}`;
      pen = true;
    }
    return d;
  };
  const bar = Math.max(1, Math.min(6, width / rows.length - 0.5));
  const bars = rows
    .filter((row) => row.loss > 0)
    .map((row) => `M${r(x(row.at) - bar / 2)} ${r(yLoss(row.loss))}h${r(bar)}V${r(loss.top + loss.height)}h${r(-bar)}z`)
    .join('');
  const span = input.incident
    ? (() => {
        const from = Math.max(x(input.incident.from), left);
        const to = Math.min(x(input.incident.to ?? t1), left + width);
        return to > from ? `<rect x="${r(from)}" y="${rtt.top}" width="${r(Math.max(2, to - from))}" height="${r(loss.top + loss.height - rtt.top)}" fill="${CHART_COLOURS.incident}"/>` : '';
      })()
    : '';
  const labels =
    pixelText(String(top), left - 4 - pixelTextWidth(String(top), px), rtt.top, px) +
    pixelText('0', left - 4 - pixelTextWidth('0', px), rtt.top + rtt.height - 5 * px, px) +
    pixelText('100%', left - 4 - pixelTextWidth('100%', px), loss.top, px) +
    pixelText(hhmm(t0), left, height - 5 * px - 1, px) +
    pixelText(hhmm((t0 + t1) / 2), left + width / 2 - pixelTextWidth('00:00', px) / 2, height - 5 * px - 1, px) +
    pixelText(hhmm(t1), left + width - pixelTextWidth(hhmm(t1), px), height - 5 * px - 1, px);
  const grid = [rtt.top, rtt.top + rtt.height, loss.top, loss.top + loss.height].map((y) => `M${left} ${r(y)}h${r(width)}`).join('');
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${MAP_WIDTH}" height="${r(height)}" viewBox="0 0 ${MAP_WIDTH} ${r(height)}">` +
    `<rect width="${MAP_WIDTH}" height="${r(height)}" fill="#ffffff"/>${span}` +
    `<path d="${grid}" stroke="#d0d4d9" stroke-width="0.6" fill="none"/>` +
    `<path d="${bars}" fill="${CHART_COLOURS.loss}"/>` +
    `<path d="${line((row) => row.worst)}" stroke="${CHART_COLOURS.worst}" stroke-width="1.4" fill="none" stroke-linejoin="round"/>` +
    `<path d="${line((row) => row.median)}" stroke="${CHART_COLOURS.median}" stroke-width="1.8" fill="none" stroke-linejoin="round"/>` +
    `<path d="${labels}" fill="#5e6670"/></svg>`;
  return { width: MAP_WIDTH, height, svg };
}
