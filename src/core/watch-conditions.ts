/**
 * Conditions of a watch beyond a host's state: `loss:>20%` (echoes lost in one run), `rtt:>50ms` (the run's average
 * round trip) and `rtt:>2x` (that average against the host's own median of the last day). A host that meets one gets
 * a word in its signature (`loss/>20%`), so a watch confirms it, opens an incident, and resolves it, as it does a
 * change of state: a host answering 80% of its echoes is not "alive, all well" (Uptime Kuma #4234).
 *
 * The words carry the threshold, not the figure: two runs at 35% and 60% loss say the same (confirmed), and the
 * figures are said from the runs' own numbers.
 */
import { InvalidOptionError } from './errors.js';
import type { EchoStats } from './stats.js';
import { quoteToken } from './targets.js';

export interface WatchConditions {
  /** Loss above this share of a run's echoes, in percent (1 to 99). */
  lossPct?: number;
  /** Average round trip above this, in milliseconds (fractions too: a LAN answers in well under one). */
  rttMs?: number;
  /** Average round trip above this many times the host's own median of the last day (1.1 to 100). */
  rttFactor?: number;
}

const LOSS = /^>?(\d{1,2})%?$/;
const RTT_MS = /^>?(\d{1,5}(?:\.\d{1,3})?)(ms)?$/i;
const RTT_FACTOR = /^>?(\d{1,3}(?:\.\d)?)x$/i;

/** Reads `loss:>20%`, `rtt:>50ms` or `rtt:>2x` into `into`; throws InvalidOptionError naming the token. */
export function parseCondition(token: string, key: 'loss' | 'rtt', value: string, into: WatchConditions): void {
  if (key === 'loss') {
    const match = LOSS.exec(value);
    const pct = Number(match?.[1]);
    if (!match || pct < 1 || pct > 99) {
      throw new InvalidOptionError(`${quoteToken(token)} is not valid: loss takes a share of echoes lost in one run, 1 to 99 percent, e.g. loss:>20%`);
    }
    into.lossPct = pct;
    return;
  }
  const factor = RTT_FACTOR.exec(value);
  if (factor) {
    const times = Number(factor[1]);
    if (times < 1.1 || times > 100) throw new InvalidOptionError(`${quoteToken(token)} is not valid: a relative rtt is 1.1 to 100 times the host's own median, e.g. rtt:>2x`);
    into.rttFactor = times;
    return;
  }
  const ms = RTT_MS.exec(value);
  const limit = Number(ms?.[1]);
  if (!ms || limit < 0.01 || limit > 60_000) {
    throw new InvalidOptionError(
      `${quoteToken(token)} is not valid: rtt takes a round trip in ms (0.01 to 60000: on a LAN, rtt:>0.5ms), or a multiple of the host's own median, e.g. rtt:>50ms or rtt:>2x`,
    );
  }
  into.rttMs = limit;
}

/** The conditions in the grammar's words: `loss:>20% rtt:>50ms`. */
export function conditionWords(conditions: WatchConditions | undefined): string[] {
  if (!conditions) return [];
  return [
    ...(conditions.lossPct !== undefined ? [`loss:>${conditions.lossPct}%`] : []),
    ...(conditions.rttMs !== undefined ? [`rtt:>${conditions.rttMs}ms`] : []),
    ...(conditions.rttFactor !== undefined ? [`rtt:>${conditions.rttFactor}x`] : []),
  ];
}

/** The signature words of a host that meets its watch's conditions this run (none when it meets none). */
export function qualityWords(icmp: EchoStats, conditions: WatchConditions, usualRttMs?: number): string[] {
  if (icmp.sent === 0 || icmp.received === 0) return [];
  const words: string[] = [];
  if (conditions.lossPct !== undefined && icmp.lossPct > conditions.lossPct) words.push(`loss/>${conditions.lossPct}%`);
  const avg = icmp.rtt?.avg;
  if (avg !== undefined && conditions.rttMs !== undefined && avg > conditions.rttMs) words.push(`rtt/>${conditions.rttMs}ms`);
  if (avg !== undefined && conditions.rttFactor !== undefined && usualRttMs !== undefined && avg > conditions.rttFactor * usualRttMs) {
    words.push(`rtt/>${conditions.rttFactor}x`);
  }
  return words;
}

/** The quality words of a signature (`loss/>20%`, `rtt/>50ms`, `rtt/>2x`). */
export function qualityOf(signature: string): string[] {
  return signature.split(' ').filter((w) => w.startsWith('loss/') || w.startsWith('rtt/'));
}

/** A quality word in words: `loss over 20%`, `rtt over 50 ms`, `rtt over 2× its usual`. */
export function qualityPhrase(word: string): string {
  const [what, limit = ''] = word.split('/');
  const bare = limit.replace(/^>/, '');
  if (what === 'loss') return `loss over ${bare}`;
  if (bare.endsWith('x')) return `rtt over ${bare.slice(0, -1)}× its usual`;
  return `rtt over ${bare.replace(/ms$/, ' ms')}`;
}

/** Whether a watch keeps its hosts' loss and round trips (watch-series.ts): with conditions, or several echoes a host. */
export function keepsSeries(watch: { conditions?: WatchConditions; sweep: string }): boolean {
  return watch.conditions !== undefined || Number(/(?:^| )count:(\d+)/.exec(watch.sweep)?.[1] ?? 1) > 1;
}

/**
 * A signature with the figures of a run beside the limits it is over (`lost/55%`, `avg/80.2ms`), for the words of a
 * notice or an alert; never stored in a watch's state (the limits, not the figures, are what is compared).
 */
export function withFigures(signature: string, lossPct: number, avgMs: number | undefined): string {
  const quality = qualityOf(signature);
  const figures = [
    ...(quality.some((w) => w.startsWith('loss/')) ? [`lost/${lossPct}%`] : []),
    ...(quality.some((w) => w.startsWith('rtt/')) && avgMs !== undefined ? [`avg/${Math.round(avgMs * 10) / 10}ms`] : []),
  ];
  return [signature, ...figures].join(' ');
}
