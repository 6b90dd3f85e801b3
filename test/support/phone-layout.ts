/**
 * How many rows a line of Slack mrkdwn takes in the mobile app's text column, without a browser: the glyph
 * advances (with kerning) of the same font files the phone picture (test/support/phone-html.ts) uses, read with
 * opentype.js, and the line breaking a browser does — at spaces and after a dash, an emoji alone on its box, a
 * word longer than the column broken anywhere. Checked once against Chromium's own layout (see
 * test/views/phone.test.ts). The fonts come from Debian's fonts-lato and fonts-dejavu-core (.ci/run installs them).
 */
import { readFileSync } from 'node:fs';
import opentype from 'opentype.js';
import type { Font } from 'opentype.js';

/** The phone: a 390 px screen, the text column beside a 36 px avatar, Slack's mobile type sizes. */
export const PHONE = {
  screen: 390,
  left: 16,
  avatar: 36,
  gap: 8,
  /** Width of the text column, in px. */
  column: 306,
  fontPx: 15,
  linePx: 22,
  contextFontPx: 13,
  contextLinePx: 18,
  monoFontPx: 12,
  /** Horizontal padding of a code span on each side, in px (plus a 1 px border). */
  codePadPx: 3,
  /** Width Slack gives an inline emoji, in px. */
  emojiPx: 22,
} as const;

export const PHONE_FONTS = {
  regular: '/usr/share/fonts/truetype/lato/Lato-Regular.ttf',
  bold: '/usr/share/fonts/truetype/lato/Lato-Bold.ttf',
  mono: '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf',
} as const;

type Face = 'regular' | 'bold' | 'mono';

const faces = new Map<Face, Font>();

function font(face: Face): Font {
  let loaded = faces.get(face);
  if (!loaded) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(PHONE_FONTS[face]);
    } catch {
      throw new Error(`the phone layout needs ${PHONE_FONTS[face]}: apt-get install fonts-lato fonts-dejavu-core`);
    }
    loaded = opentype.parse(new Uint8Array(bytes).buffer);
    faces.set(face, loaded);
  }
  return loaded;
}

/** A piece of a line in one face; `emoji` pieces are one emoji each. */
interface Run {
  face: Face | 'emoji';
  text: string;
  /** Extra width at the start and at the end (a code span's padding and border). */
  edge: number;
}

const EMOJI = /(\p{Extended_Pictographic}\uFE0F?|[\u25AA\u25AB\u25FB-\u25FE\u2B1B\u2B1C]\uFE0F?)/u;

/** The emoji codes the bot writes (`:rotating_light:`), as the one character Slack draws for each. */
const SHORTCODES: Record<string, string> = {
  rotating_light: '\u{1F6A8}',
  eyes: '\u{1F440}',
  no_bell: '\u{1F515}',
  bell: '\u{1F514}',
  white_check_mark: '\u2705',
  heavy_minus_sign: '\u2796',
  no_entry_sign: '\u{1F6AB}',
  double_vertical_bar: '\u23F8\uFE0F',
  arrow_forward: '\u25B6\uFE0F',
  warning: '\u26A0\uFE0F',
  large_green_square: '\u{1F7E9}',
  large_blue_square: '\u{1F7E6}',
  large_red_square: '\u{1F7E5}',
  large_orange_square: '\u{1F7E7}',
};

/** Text with the emoji codes Slack would draw as pictures replaced by them. */
export function withEmoji(text: string): string {
  return text.replace(/:([a-z_]+):/g, (code, name: string) => SHORTCODES[name] ?? code);
}

/** The runs of one line of mrkdwn, markup removed. */
export function mrkdwnRuns(mrkdwn: string): Run[] {
  const line = withEmoji(mrkdwn);
  const runs: Run[] = [];
  const unescape = (text: string): string => text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  for (const part of line.split(/(`[^`]+`)/)) {
    if (part.length === 0) continue;
    if (part.startsWith('`') && part.endsWith('`') && part.length >= 2) {
      runs.push({ face: 'mono', text: unescape(part.slice(1, -1)), edge: PHONE.codePadPx + 1 });
      continue;
    }
    const plain = part.replace(/<@(\w+)>/g, '@$1').replace(/<[^|>]+\|([^>]+)>/g, '$1');
    for (const piece of plain.split(/((?:^|(?<=[\s(]))\*[^*\n]+\*)/)) {
      if (piece.length === 0) continue;
      const bold = piece.startsWith('*') && piece.endsWith('*') && piece.length >= 2;
      const text = bold ? piece.slice(1, -1) : piece;
      for (const bit of text.split(EMOJI)) {
        if (bit.length === 0) continue;
        if (EMOJI.test(bit) && [...bit.replace('\uFE0F', '')].length === 1) runs.push({ face: 'emoji', text: bit, edge: 0 });
        else runs.push({ face: bold ? 'bold' : 'regular', text: unescape(bit), edge: 0 });
      }
    }
  }
  return runs;
}

function sizeOf(face: Face, context: boolean): number {
  if (face === 'mono') return PHONE.monoFontPx;
  return context ? PHONE.contextFontPx : PHONE.fontPx;
}

/** Advances and kerning pairs in font units, asked of opentype.js once each (it takes milliseconds a string). */
const advances = new Map<string, number>();

function units(face: Face, text: string): number {
  const key = `${face}\u0000${text}`;
  const known = advances.get(key);
  if (known !== undefined) return known;
  const f = font(face);
  const value = f.getAdvanceWidth(text, f.unitsPerEm, { kerning: true });
  advances.set(key, value);
  return value;
}

function width(face: Face | 'emoji', text: string, context: boolean): number {
  if (face === 'emoji') return PHONE.emojiPx;
  // Zero-width characters (the word joiner in a range) have no glyph in the font: its .notdef box is not drawn.
  const chars = [...text.replace(/[\u2060\u200b\ufe0f]/g, '')];
  let total = 0;
  chars.forEach((char, i) => {
    total += units(face, char);
    const previous = chars[i - 1];
    // The kerning of a pair: what the two together take beyond each alone.
    if (previous !== undefined) total += units(face, previous + char) - units(face, previous) - units(face, char);
  });
  return (total * sizeOf(face, context)) / font(face).unitsPerEm;
}

/** A piece that ends where a line may break (after it), with its width with and without its trailing spaces. */
interface Word {
  width: number;
  /** Width without trailing spaces: what must fit at the end of a row. */
  inked: number;
  /** The pieces, for breaking a word that is wider than the whole column. */
  parts: { face: Face | 'emoji'; text: string; edge: number }[];
}

const BREAK_AFTER = /(\s+|[-\u2013\u2014](?!\u2060))/u;

function words(runs: readonly Run[], context: boolean): Word[] {
  const result: Word[] = [];
  let current: Word = { width: 0, inked: 0, parts: [] };
  const flush = (): void => {
    if (current.parts.length > 0) result.push(current);
    current = { width: 0, inked: 0, parts: [] };
  };
  for (const run of runs) {
    if (run.face === 'emoji') {
      flush();
      current.parts.push({ face: 'emoji', text: run.text, edge: 0 });
      current.width = current.inked = PHONE.emojiPx;
      flush();
      continue;
    }
    const pieces = run.text.split(BREAK_AFTER).filter((p) => p.length > 0);
    pieces.forEach((piece, i) => {
      const first = i === 0 ? run.edge : 0;
      const last = i === pieces.length - 1 ? run.edge : 0;
      const w = width(run.face as Face, piece, context) + first + last;
      current.parts.push({ face: run.face, text: piece, edge: first + last });
      if (/^\s+$/.test(piece)) {
        current.width += w;
        flush();
      } else {
        current.width += w;
        current.inked = current.width;
        if (/[-\u2013\u2014]$/.test(piece) && !/\u2060/.test(pieces[i + 1] ?? '')) flush();
      }
    });
  }
  flush();
  return result;
}

/** Rows one line of mrkdwn takes in the phone's text column (`context`: a context block's smaller type). */
export function phoneRows(line: string, options: { context?: boolean; column?: number } = {}): number {
  const context = options.context ?? false;
  const column = options.column ?? PHONE.column;
  const all = words(mrkdwnRuns(line), context);
  if (all.length === 0) return 1;
  let rows = 1;
  let used = 0;
  for (const word of all) {
    if (used > 0 && used + word.inked > column) {
      rows += 1;
      used = 0;
    }
    if (used === 0 && word.inked > column) {
      // Longer than the column: broken anywhere, character by character.
      for (const part of word.parts) {
        for (const char of part.face === 'emoji' ? [part.text] : [...part.text]) {
          const w = part.face === 'emoji' ? PHONE.emojiPx : width(part.face, char, context);
          if (used > 0 && used + w > column && !/\s/.test(char)) {
            rows += 1;
            used = 0;
          }
          used += w;
        }
        used += part.edge;
      }
      continue;
    }
    used += word.width;
  }
  return rows;
}

/** Rows each line of a mrkdwn text takes (one entry per `\n`-separated line). */
export function phoneRowsPerLine(text: string, options: { context?: boolean; column?: number } = {}): number[] {
  return text.split('\n').map((line) => phoneRows(line, options));
}

/** A message as the thread shows it, for `phoneThreadHeight`. */
export interface LaidOutMessage {
  text?: string;
  blocks?: readonly unknown[];
  /** Files: a picture with its size in px, or a file card. */
  files?: readonly { picture?: { width: number; height: number } }[];
}

interface LaidOutBlock {
  type: string;
  text?: { text: string };
  elements?: { text?: string | { text: string } }[];
}

/** Rows of buttons an actions block takes: 14 px bold labels, 12 px padding, 8 px apart, wrapping. */
function buttonRows(labels: readonly string[]): number {
  let rows = labels.length > 0 ? 1 : 0;
  let used = 0;
  for (const label of labels) {
    const w = font('bold').getAdvanceWidth(label, 14, { kerning: true }) + 26;
    if (used > 0 && used + 8 + w > PHONE.column) {
      rows += 1;
      used = 0;
    }
    used += (used > 0 ? 8 : 0) + w;
  }
  return rows;
}

/**
 * The height in px of a thread laid out as test/support/phone-html.ts draws it (same margins, same line heights):
 * each message's padding and name row, sections, contexts, buttons, pictures scaled to the column, file cards, and
 * the divider before the replies.
 */
export function phoneThreadHeight(messages: readonly LaidOutMessage[]): number {
  let height = 0;
  messages.forEach((message, index) => {
    if (index === 1) height += 36;
    height += 16 + PHONE.linePx;
    const blocks = (message.blocks ?? []) as LaidOutBlock[];
    if (blocks.length === 0) height += 4 + sum(phoneRowsPerLine(message.text ?? '')) * PHONE.linePx;
    for (const block of blocks) {
      if (block.type === 'section') height += 4 + sum(phoneRowsPerLine(block.text?.text ?? '')) * PHONE.linePx;
      if (block.type === 'context') {
        const text = (block.elements ?? []).map((e) => (typeof e.text === 'string' ? e.text : '')).join(' ');
        height += 4 + sum(phoneRowsPerLine(text, { context: true })) * PHONE.contextLinePx;
      }
      if (block.type === 'actions') {
        const rows = buttonRows((block.elements ?? []).map((e) => (typeof e.text === 'object' ? e.text.text : '')));
        height += 8 + rows * 32 + Math.max(0, rows - 1) * 8;
      }
    }
    for (const file of message.files ?? []) {
      height += 6 + (file.picture ? ((PHONE.column - 2) * file.picture.height) / file.picture.width + 2 : 52);
    }
  });
  return Math.round(height);
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Width and height of a PNG, in CSS px for a picture drawn at 3 device px a CSS px, from its IHDR chunk. */
export function pngSize(png: Buffer, scale = 3): { width: number; height: number } {
  return { width: png.readUInt32BE(16) / scale, height: png.readUInt32BE(20) / scale };
}
