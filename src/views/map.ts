/**
 * The map of a sweep: one square per address, 16 to a row, sized to what was swept — a /28 is one row, each /24
 * of a sweep over a few networks gets its own panel, a /16 is an overview with one square per /24. Drawn as SVG
 * for a phone's 306 px text column, with row offsets so a square can be found. The digits are drawn as pixels,
 * not text, so the picture needs no font wherever it is rasterized.
 */
import type { AnyReport, SweepSummary } from '../core/report.js';
import { icmpModeOf } from '../core/report.js';
import { formatCount } from '../core/format.js';
import type { HostState } from '../core/states.js';
import { addressToBigInt } from '../core/targets.js';
import { shownState, stateWords, unsentCounts } from './words.js';

export type MapCell = HostState | 'unswept';

export interface MapRow {
  /** The last octet (a network's panel) or the third octet (an overview) of the row's first square. */
  offset: number;
  /** 16 squares. */
  cells: MapCell[];
}

export interface MapPanel {
  /** `198.18.0.0/24`, `198.18.1.0-31`, or `198.18.0.0/16` for an overview. */
  title: string;
  /** True when a square stands for a /24 (its best state), not for one address. */
  overview: boolean;
  rows: MapRow[];
}

export interface SweepMap {
  panels: MapPanel[];
  /** Networks left out of the picture (more than it holds). */
  more: number;
}

/** Colours of the squares; the emoji of the legend are the nearest Slack has. */
export const MAP_COLOURS: Record<MapCell, { fill: string; emoji: string; words: string }> = {
  alive: { fill: '#2eb67d', emoji: '🟩', words: 'alive' },
  alive_tcp_only: { fill: '#1d7fd1', emoji: '🟦', words: 'TCP only' },
  prohibited: { fill: '#e01e5a', emoji: '🟥', words: 'prohibited' },
  unreachable: { fill: '#f2952f', emoji: '🟧', words: 'unreachable' },
  silent: { fill: '#4a4a4a', emoji: '⬛', words: 'silent' },
  unswept: { fill: '#ffffff', emoji: '▫️', words: 'not swept' },
};

/** The best state of a /24 in an overview: something alive there matters more than the silence around it. */
const BEST_FIRST: readonly HostState[] = ['alive', 'alive_tcp_only', 'prohibited', 'unreachable', 'silent'];

/** Panels one picture holds. */
const MAX_PANELS = 4;

function rowsOf(cells: Map<number, MapCell>): MapRow[] {
  const offsets = [...cells.keys()];
  const firstRow = Math.floor(Math.min(...offsets) / 16);
  const lastRow = Math.floor(Math.max(...offsets) / 16);
  const rows: MapRow[] = [];
  for (let row = firstRow; row <= lastRow; row += 1) {
    const squares: MapCell[] = [];
    for (let col = 0; col < 16; col += 1) squares.push(cells.get(row * 16 + col) ?? 'unswept');
    rows.push({ offset: row * 16, cells: squares });
  }
  return rows;
}

function dotted(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

/** The map of a report's IPv4 hosts; undefined when it has none. */
export function sweepMap(report: AnyReport): SweepMap | undefined {
  const networks = new Map<bigint, Map<number, MapCell>>();
  for (const host of report.hosts) {
    const { family, value } = addressToBigInt(host.ip);
    if (family !== 4) continue;
    const key = value >> 8n;
    let cells = networks.get(key);
    if (!cells) networks.set(key, (cells = new Map()));
    // As the report's lines show it: an empty on-link address is silent, whatever its probes ran into.
    cells.set(Number(value & 0xffn), shownState(host));
  }
  if (networks.size === 0) return undefined;
  const keys = [...networks.keys()].sort((a, b) => (a < b ? -1 : 1));
  if (keys.length <= MAX_PANELS) {
    return {
      panels: keys.map((key) => {
        const cells = networks.get(key) ?? new Map<number, MapCell>();
        const offsets = [...cells.keys()];
        const low = Math.min(...offsets);
        const high = Math.max(...offsets);
        const base = dotted(key << 8n);
        const title = cells.size >= 254 && low <= 1 && high >= 254 ? `${base}/24` : `${base.slice(0, base.lastIndexOf('.'))}.${low}-${high}`;
        return { title, overview: false, rows: rowsOf(cells) };
      }),
      more: 0,
    };
  }
  // An overview per /16, one square per /24 in its best state.
  const sixteens = new Map<bigint, Map<number, MapCell>>();
  for (const key of keys) {
    const states = new Set(networks.get(key)?.values());
    const best = BEST_FIRST.find((state) => states.has(state)) ?? 'silent';
    let cells = sixteens.get(key >> 8n);
    if (!cells) sixteens.set(key >> 8n, (cells = new Map()));
    cells.set(Number(key & 0xffn), best);
  }
  const shown = [...sixteens.keys()].slice(0, MAX_PANELS);
  return {
    panels: shown.map((key) => ({ title: `${dotted(key << 16n)}/16`, overview: true, rows: rowsOf(sixteens.get(key) ?? new Map()) })),
    more: sixteens.size - shown.length,
  };
}

/** A 3×5 pixel font for what the map and the chart write: digits, dot, slash, dash, colon, percent. Each row is 3 bits. */
const GLYPHS: Record<string, readonly number[]> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 3, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 2, 2, 2],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2],
  '/': [1, 1, 2, 4, 4],
  '-': [0, 0, 7, 0, 0],
  ':': [0, 2, 0, 2, 0],
  '%': [5, 1, 2, 4, 5],
  ' ': [0, 0, 0, 0, 0],
};

/** Width of `text` in the pixel font at pixel size `px`: 3 pixels a glyph and 1 between. */
export function pixelTextWidth(text: string, px: number): number {
  return text.length === 0 ? 0 : (text.length * 4 - 1) * px;
}

/** Path data drawing `text` with its top left corner at (x, y). */
export function pixelText(text: string, x: number, y: number, px: number): string {
  let d = '';
  [...text].forEach((char, i) => {
    const glyph = GLYPHS[char] ?? GLYPHS[' '] ?? [];
    glyph.forEach((bits, row) => {
      for (let col = 0; col < 3; col += 1) {
        if (bits & (4 >> col)) d += `M${r(x + (i * 4 + col) * px)} ${r(y + row * px)}h${r(px)}v${r(px)}h${r(-px)}z`;
      }
    });
  });
  return d;
}

export function r(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** The picture's size in CSS px and its SVG text. */
export interface MapPicture {
  width: number;
  height: number;
  svg: string;
}

/** Width of the phone's text column, in CSS px: the picture is drawn for it. */
export const MAP_WIDTH = 306;

/**
 * The map as SVG, `MAP_WIDTH` px wide: one panel fills the width; two or more sit two to a row, the tallest
 * first. Each row of
 * squares starts with its offset (`.0`, `.16`, … or, in an overview, the third octet).
 */
export function mapSvg(map: SweepMap): MapPicture {
  const columns = map.panels.length === 1 ? 1 : 2;
  const gutter = 12;
  const panelWidth = (MAP_WIDTH - gutter * (columns - 1)) / columns;
  const px = columns === 1 ? 1.6 : 1.2;
  const labelWidth = pixelTextWidth('.240', px) + 4;
  const cell = (panelWidth - labelWidth) / 16;
  const gap = Math.max(1, Math.round(cell * 0.12));
  const titleHeight = 5 * px + 6;
  // Panels of about the same height share a row: a /27 beside a /24 would leave a /24's worth of blank.
  const panels = columns === 1 ? map.panels : [...map.panels].sort((x, y) => y.rows.length - x.rows.length);
  const panelHeights = panels.map((panel) => titleHeight + panel.rows.length * cell);
  const rowHeights: number[] = [];
  for (let i = 0; i < panels.length; i += columns) rowHeights.push(Math.max(...panelHeights.slice(i, i + columns)));
  const height = rowHeights.reduce((sum, h) => sum + h, 0) + gutter * (rowHeights.length - 1) + 8;
  const shapes: string[] = [];
  const ink: string[] = [];
  let top = 4;
  panels.forEach((panel, i) => {
    const column = i % columns;
    if (column === 0 && i > 0) top += (rowHeights[i / columns - 1] ?? 0) + gutter;
    const left = column * (panelWidth + gutter);
    ink.push(pixelText(panel.title, left, top, px));
    panel.rows.forEach((row, j) => {
      const y = top + titleHeight + j * cell;
      const label = panel.overview ? String(row.offset) : `.${row.offset}`;
      ink.push(pixelText(label, left + labelWidth - 4 - pixelTextWidth(label, px), y + (cell - gap - 5 * px) / 2, px));
      row.cells.forEach((state, k) => {
        const x = left + labelWidth + k * cell;
        const { fill } = MAP_COLOURS[state];
        const stroke = state === 'unswept' ? ' stroke="#c8c8c8" stroke-width="0.8"' : '';
        shapes.push(`<rect x="${r(x)}" y="${r(y)}" width="${r(cell - gap)}" height="${r(cell - gap)}" rx="${r(cell / 8)}" fill="${fill}"${stroke}/>`);
      });
    });
  });
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${MAP_WIDTH}" height="${r(height)}" viewBox="0 0 ${MAP_WIDTH} ${r(height)}">` +
    `<rect width="100%" height="100%" fill="#ffffff"/>${shapes.join('')}<path d="${ink.join('')}" fill="#616061"/></svg>`;
  return { width: MAP_WIDTH, height, svg };
}

/**
 * The legend's words for a report's squares as its ICMP lets them be said: without ICMP a blue square answered TCP
 * (ICMP was not sent, not filtered) and a dark one was not probed by ICMP; where agents differed, both.
 */
export function legendWords(report: AnyReport): Partial<Record<MapCell, string>> {
  if (unsentCounts(report)) return { alive_tcp_only: 'TCP only/answered', silent: 'silent/not probed by ICMP' };
  if (icmpModeOf(report.icmp) === 'off') return { alive_tcp_only: stateWords('alive_tcp_only', report.icmp), silent: stateWords('silent', report.icmp) };
  return {};
}

/**
 * The legend, in the emoji nearest to the squares' colours, with the report's counts when they fit two phone rows
 * (`🟩 6 alive · 🟥 2 prohibited · ⬛ 245 silent · ▫️ not swept`), without them when they do not. Only what the
 * map shows.
 */
export function mapLegend(map: SweepMap, summary: SweepSummary, words: Partial<Record<MapCell, string>> = {}): string {
  const shown = new Set(map.panels.flatMap((p) => p.rows.flatMap((row) => row.cells)));
  const cells = (Object.keys(MAP_COLOURS) as MapCell[]).filter((cell) => shown.has(cell));
  const legend = (counted: boolean): string =>
    cells
      .map((cell) => {
        const { emoji } = MAP_COLOURS[cell];
        const said = words[cell] ?? MAP_COLOURS[cell].words;
        return cell === 'unswept' || !counted ? `${emoji} ${said}` : `${emoji} ${formatCount(summary[cell])} ${said}`;
      })
      .join(counted ? ' · ' : '  ');
  // An emoji is about as wide as three characters; two rows hold about 86 (test/views/phone.test.ts checks).
  const counted = legend(true);
  const text = counted.length + cells.length * 2 <= 86 ? counted : legend(false);
  return map.panels.some((p) => p.overview) ? `${text} · a square: a /24, its best state` : text;
}
