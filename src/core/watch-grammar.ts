/**
 * The watch commands of `/sweep`: `watch <targets> [tcp:…] [every:5m] [confirm:N|agents|agents,N] [quiet:"sat 02:00-04:00 UTC"]`,
 * `watches`, `unwatch ID`, `mute ID 1h` and `quiet ID "sat 02:00-04:00 UTC"` (or off). A watch's targets and options are a sweep's (same grammar, same errors); `every:` and `confirm:`
 * are its own. Every error is one sentence naming the bad word and a valid example.
 */
import { InvalidOptionError } from './errors.js';
import { parseQuietWindow } from './quiet-window.js';
import { parseCondition } from './watch-conditions.js';
import type { WatchConditions } from './watch-conditions.js';
import type { SweepRequest } from './request.js';
import { quoteToken } from './targets.js';

export interface WatchRequest {
  request: SweepRequest;
  /** Time between two runs, in milliseconds, default 5 minutes. */
  everyMs: number;
  /** Consecutive runs a change must hold before it is reported, default 2 (1 with `confirm:agents` alone). */
  confirm: number;
  /**
   * `confirm:agents`: a change counts only when every vantage of the sweep (every live agent of the group: the sweep
   * is made `from:all` unless it says `from:`) sees it; what only some see is reported as their own view, once.
   */
  agents?: true;
  /** `quiet:"sat 02:00-04:00 UTC"`: its maintenance window, in canonical words (core/quiet-window.ts). */
  quiet?: string;
  /** `loss:>20%`, `rtt:>50ms`, `rtt:>2x`: what else opens an incident (core/watch-conditions.ts). */
  conditions?: WatchConditions;
}

export type WatchCommand =
  | { kind: 'watch'; watch: WatchRequest }
  | { kind: 'watches' }
  | { kind: 'unwatch'; id: string }
  /** `forMs` 0 ends a mute. */
  | { kind: 'mute'; id: string; forMs: number }
  /** A watch's maintenance window set (canonical words), or ended (`off`: absent). */
  | { kind: 'quiet'; id: string; window?: string };

export const DEFAULT_EVERY_MS = 5 * 60_000;
export const DEFAULT_CONFIRM = 2;
export const MAX_EVERY_MS = 24 * 3600_000;
export const MAX_CONFIRM = 10;
export const MAX_MUTE_MS = 7 * 24 * 3600_000;

/** Watch ids: `w` and six hex digits. */
export const WATCH_ID = /^w[0-9a-f]{6}$/;

const OPTION = /^(every|confirm|quiet|loss|rtt)[:=](.*)$/is;

/** `90s` → 90,000; `5m`, `1h`, `2d`, and combinations such as `1h30m`. Undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const match = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/i.exec(text);
  if (!match || text === '') return undefined;
  const [, d, h, m, s] = match.map((part) => Number(part ?? 0));
  return (((d ?? 0) * 24 + (h ?? 0)) * 60 + (m ?? 0)) * 60_000 + (s ?? 0) * 1000;
}

/** 300,000 → `5m`; 5,400,000 → `1h30m`; 90,000 → `1m30s`. */
export function formatEvery(ms: number): string {
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, seconds] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const count = Math.floor(rest / seconds);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * seconds;
  }
  return parts.join('') || '0s';
}

function duration(token: string, value: string, what: string, max: number, example: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms < 1000 || ms > max) {
    throw new InvalidOptionError(
      `${quoteToken(token)} is not a valid ${what}: write whole seconds, minutes, hours or days from 1s to ${formatEvery(max)}, e.g. ${example}`,
    );
  }
  return ms;
}

function watchId(token: string | undefined, usage: string): string {
  const id = token?.toLowerCase();
  if (id === undefined || !WATCH_ID.test(id)) {
    const what = token === undefined ? 'a watch id is missing' : `${quoteToken(token)} is not a watch id`;
    throw new InvalidOptionError(`${what}: ${usage}, with the id that /sweep watches lists`);
  }
  return id;
}

/**
 * Parses a watch command from its words (the first is the command word); undefined when the first word is not
 * one. `parseSweep` reads the targets and sweep options left once `every:` and `confirm:` are taken out.
 */
export function parseWatchCommand(tokens: readonly string[], parseSweep: (tokens: string[]) => SweepRequest): WatchCommand | undefined {
  const [first, ...rest] = tokens;
  switch (first?.toLowerCase()) {
    case 'watches':
      if (rest.length > 0) {
        throw new InvalidOptionError(`${quoteToken(rest[0] ?? '')} is not valid after watches: watches takes nothing after it, e.g. watches`);
      }
      return { kind: 'watches' };
    case 'unwatch':
      if (rest.length > 1) throw new InvalidOptionError(`${quoteToken(rest[1] ?? '')} is one word too many: unwatch takes one id, e.g. unwatch w3f9a2c`);
      return { kind: 'unwatch', id: watchId(rest[0], 'unwatch takes one id, e.g. unwatch w3f9a2c') };
    case 'mute': {
      const usage = 'mute takes an id and how long, e.g. mute w3f9a2c 1h (or off)';
      const id = watchId(rest[0], usage);
      const how = rest[1];
      if (how === undefined || rest.length > 2) {
        throw new InvalidOptionError(`${how === undefined ? 'how long is missing' : `${quoteToken(rest[2] ?? '')} is one word too many`}: ${usage}`);
      }
      if (how.toLowerCase() === 'off') return { kind: 'mute', id, forMs: 0 };
      return { kind: 'mute', id, forMs: duration(how, how, 'mute duration', MAX_MUTE_MS, 'mute w3f9a2c 1h') };
    }
    case 'quiet': {
      const usage = 'quiet takes an id and a maintenance window, e.g. quiet w3f9a2c "sat 02:00-04:00 UTC" (or off)';
      const id = watchId(rest[0], usage);
      const spec = rest.slice(1).join(' ').replace(/^["'\u201c\u2018]|["'\u201d\u2019]$/g, '');
      if (spec === '') throw new InvalidOptionError(`the window is missing: ${usage}`);
      if (spec.toLowerCase() === 'off') return { kind: 'quiet', id };
      return { kind: 'quiet', id, window: parseQuietWindow(spec).text };
    }
    case 'watch':
      return { kind: 'watch', watch: parseWatch(rest, parseSweep) };
    default:
      return undefined;
  }
}

function parseWatch(tokens: readonly string[], parseSweep: (tokens: string[]) => SweepRequest): WatchRequest {
  let everyMs: number | undefined;
  let confirm: number | undefined;
  let agents = false;
  let confirmGiven = false;
  let quiet: string | undefined;
  const conditions: WatchConditions = {};
  const sweepTokens: string[] = [];
  for (const token of tokens) {
    const match = OPTION.exec(token);
    if (!match) {
      sweepTokens.push(token);
      continue;
    }
    const key = (match[1] ?? '').toLowerCase();
    const value = match[2] ?? '';
    if (key === 'loss' || key === 'rtt') {
      // One of each: loss, an absolute rtt, a relative rtt (both rtt: may be given).
      const field = key === 'loss' ? 'lossPct' : /x$/i.test(value) ? 'rttFactor' : 'rttMs';
      if (conditions[field] !== undefined) {
        throw new InvalidOptionError(`${quoteToken(token)} repeats ${key}: give it once, e.g. ${key === 'loss' ? 'loss:>20%' : 'rtt:>50ms'}`);
      }
      parseCondition(token, key, value, conditions);
      continue;
    }
    if (key === 'quiet') {
      if (quiet !== undefined) throw new InvalidOptionError(`${quoteToken(token)} repeats quiet: give one window, e.g. quiet:"sat 02:00-04:00 UTC"`);
      quiet = parseQuietWindow(value).text;
      continue;
    }
    if (key === 'every' ? everyMs !== undefined : confirmGiven) {
      throw new InvalidOptionError(`${quoteToken(token)} repeats ${key}: give it once, e.g. ${key === 'every' ? 'every:5m' : 'confirm:2'}`);
    }
    if (key === 'every') {
      everyMs = duration(token, value, 'interval', MAX_EVERY_MS, 'every:5m');
    } else {
      confirmGiven = true;
      // confirm:2 (runs), confirm:agents (every vantage sees it), or both: confirm:agents,2.
      for (const part of value.toLowerCase().split(',')) {
        if (part === 'agents' && !agents) {
          agents = true;
          continue;
        }
        const runs = Number(part);
        if (!/^\d+$/.test(part) || runs < 1 || runs > MAX_CONFIRM || confirm !== undefined) {
          throw new InvalidOptionError(
            `${quoteToken(token)} is not valid: confirm takes the runs a change must hold, a whole number from 1 to ${MAX_CONFIRM}, ` +
              `or agents (every agent must see it), or both (agents,2), e.g. confirm:2`,
          );
        }
        confirm = runs;
      }
    }
  }
  const request = parseSweep(sweepTokens);
  // Agreement needs several views of each host: every live agent's, unless the words say which (from:each).
  if (agents && request.options.from === undefined) request.options.from = 'all';
  for (const key of ['save', 'compare'] as const) {
    if (request.options[key] !== undefined) {
      throw new InvalidOptionError(
        `${quoteToken(`${key}:${request.options[key]}`)} does not apply to a watch: each run is compared with the watch's own baseline, e.g. watch 10.0.1.0/24 tcp:5432`,
      );
    }
  }
  if (conditions.lossPct !== undefined && request.options.count < 2) {
    throw new InvalidOptionError(`loss:>${conditions.lossPct}% needs several echoes a host to measure loss: add count:5, e.g. watch 10.0.1.0/24 count:5 loss:>${conditions.lossPct}%`);
  }
  if (Object.keys(conditions).length > 0 && agents) {
    throw new InvalidOptionError('loss: and rtt: are measured from one agent: they do not go with confirm:agents');
  }
  // Agreement of every agent is itself a confirmation: confirm:agents alone needs no second run.
  return {
    request,
    everyMs: everyMs ?? DEFAULT_EVERY_MS,
    confirm: confirm ?? (agents ? 1 : DEFAULT_CONFIRM),
    ...(agents ? { agents: true as const } : {}),
    ...(quiet ? { quiet } : {}),
    ...(Object.keys(conditions).length > 0 ? { conditions } : {}),
  };
}
