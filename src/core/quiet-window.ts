/**
 * Maintenance windows of a watch (`quiet:"sat 02:00-04:00 UTC"`): the days and the hours in which its runs go on and
 * its alerts wait, said in one summary when the window ends. Pure: parsed once, asked at any instant.
 *
 *   quiet:"sat 02:00-04:00 UTC"        Saturdays, two hours
 *   quiet:"daily 23:30-00:30"          every night, across midnight (UTC when no zone is said)
 *   quiet:"mon,wed 01:00-03:00 +09:00" in a zone given as an offset from UTC
 *   quiet:"weekdays 12:00-13:00 UTC"   Monday to Friday; `weekends`: Saturday and Sunday
 *
 * A window that crosses midnight begins on its day and ends on the next.
 */
import { InvalidOptionError } from './errors.js';

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

export interface QuietWindow {
  /** Days it begins on (0 Sunday … 6 Saturday), in its zone. */
  days: number[];
  /** Minutes after midnight, in its zone. */
  start: number;
  end: number;
  /** Its zone, minutes east of UTC. */
  offset: number;
  /** The window in canonical words: `sat 02:00-04:00 UTC`. */
  text: string;
}

const EXAMPLE = 'quiet:"sat 02:00-04:00 UTC"';

function fail(spec: string, why: string): never {
  throw new InvalidOptionError(`quiet:"${spec}" is not a maintenance window: ${why}, e.g. ${EXAMPLE}`);
}

function minutesOf(spec: string, text: string): number {
  const match = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!match) fail(spec, `${text} is not a time of day (HH:MM, 00:00 to 23:59)`);
  return Number(match[1]) * 60 + Number(match[2]);
}

const pad = (n: number): string => String(n).padStart(2, '0');
const clock = (minutes: number): string => `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;

function zoneWords(offset: number): string {
  if (offset === 0) return 'UTC';
  const sign = offset < 0 ? '-' : '+';
  return `${sign}${clock(Math.abs(offset))}`;
}

/** Reads a window: `[DAYS] HH:MM-HH:MM [UTC|±HH:MM]`; throws InvalidOptionError naming what is wrong. */
export function parseQuietWindow(spec: string): QuietWindow {
  const said = spec.trim().split(/\s+/).filter(Boolean);
  const words = said.map((w) => w.toLowerCase());
  if (words.length === 0) fail(spec, 'it is empty');
  let days = [0, 1, 2, 3, 4, 5, 6];
  let daysText = 'daily';
  if (!/^\d/.test(words[0] ?? '')) {
    const dayWord = words.shift() ?? '';
    daysText = dayWord;
    if (dayWord === 'daily') days = [0, 1, 2, 3, 4, 5, 6];
    else if (dayWord === 'weekdays') days = [1, 2, 3, 4, 5];
    else if (dayWord === 'weekends') days = [6, 0];
    else {
      days = dayWord.split(',').map((d) => {
        const at = DAY_NAMES.indexOf(d.slice(0, 3) as (typeof DAY_NAMES)[number]);
        if (at < 0 || d.length < 3) fail(spec, `${d} is not a day (mon … sun, daily, weekdays, weekends)`);
        return at;
      });
      days = [...new Set(days)];
      daysText = days.map((d) => DAY_NAMES[d]).join(',');
    }
  }
  const range = words.shift();
  const hours = range ? /^([^-]+)-([^-]+)$/.exec(range) : null;
  if (!range || !hours) fail(spec, 'it needs a range of hours, HH:MM-HH:MM');
  const start = minutesOf(spec, hours[1] ?? '');
  const end = minutesOf(spec, hours[2] ?? '');
  if (start === end) fail(spec, 'it begins when it ends');
  let offset = 0;
  const zone = words.shift();
  if (zone !== undefined && zone !== 'utc' && zone !== 'z') {
    const match = /^([+-])(\d{1,2}):?(\d{2})$/.exec(zone);
    if (!match || Number(match[2]) > 14) fail(spec, `${said[said.length - words.length - 1] ?? zone} is not a zone (UTC, or an offset such as +09:00)`);
    offset = (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3]));
  }
  if (words.length > 0) fail(spec, `${said.slice(said.length - words.length).join(' ')} is left over`);
  return { days, start, end, offset, text: `${daysText} ${clock(start)}-${clock(end)} ${zoneWords(offset)}` };
}

/** Minutes a window lasts. */
function lengthOf(window: QuietWindow): number {
  return (window.end - window.start + 1440) % 1440;
}

/**
 * Whether `at` lies in the window, and if so when that window ends (the instant, in ms since the epoch). A window
 * that began yesterday evening and crosses midnight counts.
 */
export function quietAt(window: QuietWindow, at: Date): { inside: false } | { inside: true; endsAt: number } {
  const local = at.getTime() + window.offset * 60_000;
  const dayStart = Math.floor(local / 86_400_000) * 86_400_000;
  for (const back of [0, 1]) {
    const begins = dayStart - back * 86_400_000;
    const weekday = new Date(begins).getUTCDay();
    if (!window.days.includes(weekday)) continue;
    const from = begins + window.start * 60_000;
    const to = from + lengthOf(window) * 60_000;
    if (local >= from && local < to) return { inside: true, endsAt: to - window.offset * 60_000 };
  }
  return { inside: false };
}
