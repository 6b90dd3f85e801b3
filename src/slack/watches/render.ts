/**
 * What watches say in Slack, written for a phone: the alert's first line says which subnet and what changed,
 * hosts changing the same way are folded into one range, and every message fits Block Kit's limits.
 */
import type { KnownBlock } from '@slack/types';
import { foldAddresses } from '../../core/ranges.js';
import type { HostState } from '../../core/states.js';
import { CALM_RUNS, FLAP_WINDOW, incidentNow, readSignature } from '../../core/watch.js';
import type { HeldChanges, HostChange } from '../../core/watch.js';
import type { ReadFact } from '../../core/facts.js';
import { formatEvery } from '../../core/watch-grammar.js';
import { conditionWords, keepsSeries, qualityOf, qualityPhrase, withFigures } from '../../core/watch-conditions.js';
import type { SeriesPoint } from '../../core/series.js';
import { chartSvg, worstHosts } from '../../views/chart.js';
import type { MapPicture } from '../../views/map.js';
import type { IncidentResponse, SilenceMark, UnreadableWatch, WatchNoticeRecord, WatchRecord } from '../../queue/watch-store.js';
import { escapeText } from '../../views/blocks.js';
import { BLOCK_LIMITS, clip, packLines } from '../../views/block-limits.js';

const STATE_WORDS: Record<HostState, string> = {
  alive: 'alive',
  alive_tcp_only: 'TCP only',
  prohibited: 'prohibited',
  unreachable: 'unreachable',
  silent: 'silent',
};

function answers(state: HostState): boolean {
  return state === 'alive' || state === 'alive_tcp_only';
}

/** A state as a signature lets it be said: a host its agent sent no ICMP echo answered TCP, it did not filter ICMP. */
function stateWords(fact: ReadFact): string {
  return !fact.echo && fact.state === 'alive_tcp_only' ? 'TCP answered (ICMP not sent)' : STATE_WORDS[fact.state];
}

/**
 * What happened to one host, without its address: `went silent`, `appeared`, `5432/tcp open → closed`. A watch whose
 * agent runs without ICMP says so: `appeared (TCP answered; ICMP not sent)`, and `stopped answering TCP (ICMP not
 * sent)` rather than "went silent" for a host that was never pinged.
 */
export function changePhrase(from: string, to: string): string {
  const a = readSignature(from);
  const b = readSignature(to);
  if (!answers(a.state) && answers(b.state)) {
    if (b.state === 'alive') return 'appeared';
    return b.echo ? 'appeared (TCP only, ICMP filtered)' : 'appeared (TCP answered; ICMP not sent)';
  }
  if (answers(a.state) && !answers(b.state)) {
    // Silent is all a signature says of a host that answers nothing: if it was not pinged before, it is not now.
    if (b.state === 'silent' && (!a.echo || !b.echo)) return 'stopped answering TCP (ICMP not sent)';
    return b.state === 'silent' ? 'went silent' : `became ${STATE_WORDS[b.state]}`;
  }
  const parts: string[] = [];
  if (a.state !== b.state) parts.push(`${stateWords(a)} → ${stateWords(b)}`);
  const ports = [...new Set([...a.ports.keys(), ...b.ports.keys()])].sort((x, y) => x - y);
  for (const port of ports) {
    const before = a.ports.get(port);
    const after = b.ports.get(port);
    if (before !== after) parts.push(`${port}/tcp ${before ?? 'not probed'} → ${after ?? 'not probed'}`);
  }
  // loss: and rtt: met or no more, with this run's figure where the notice carries it (`lost/55%`, `avg/80.2ms`).
  const was = new Set(qualityOf(from));
  const now = qualityOf(to);
  const figure = (word: string): string => {
    const words = to.split(' ');
    if (word.startsWith('loss/')) {
      const lost = words.find((w) => w.startsWith('lost/'))?.slice(5);
      return lost ? ` (${lost} lost)` : '';
    }
    const avg = words.find((w) => w.startsWith('avg/'))?.slice(4);
    return avg ? ` (avg ${avg.replace(/ms$/, ' ms')})` : '';
  };
  for (const word of now) if (!was.has(word)) parts.push(`${qualityPhrase(word)}${figure(word)}`);
  for (const word of was) if (!now.includes(word)) parts.push(qualityPhrase(word).replace(' over ', ' back under ').replace(/under (\S+)\u00d7 its usual/, 'within $1× its usual'));
  return parts.length > 0 ? parts.join(', ') : 'as before';
}

/** Hosts that changed the same way, folded: `127.0.5.10-11 5432/tcp open → closed`, `10.0.1.23 went silent`. */
export function changeLines(changes: readonly HostChange[], limit = 20): string[] {
  const byPhrase = new Map<string, string[]>();
  for (const change of changes) {
    const phrase = changePhrase(change.from, change.to);
    byPhrase.set(phrase, [...(byPhrase.get(phrase) ?? []), change.ip]);
  }
  return [...byPhrase].map(([phrase, ips]) => {
    const folded = foldAddresses(ips);
    const shown = folded.slice(0, limit).join(', ');
    const more = folded.length > limit ? ` and ${folded.length - limit} more` : '';
    return `${shown}${more} ${phrase}`;
  });
}

/** `14 min`, `2 h 5 min`, `40 s`. */
export function formatSpan(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h${minutes % 60 > 0 ? ` ${minutes % 60} min` : ''}`;
}

/** A time Slack shows in each reader's own time zone, with a UTC fallback. */
export function slackTime(iso: string): string {
  const seconds = Math.floor(Date.parse(iso) / 1000);
  return `<!date^${seconds}^{date_short_pretty} {time}|${iso.slice(0, 16).replace('T', ' ')} UTC>`;
}

/** The watch's subject: what it sweeps. */
function subject(watch: WatchRecord): string {
  return `\`${escapeText(watch.sweep)}\``;
}

function section(text: string): KnownBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: clip(text, BLOCK_LIMITS.sectionText) } };
}

function context(text: string): KnownBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: clip(text, BLOCK_LIMITS.contextText) }] };
}

function flappingLines(flapping: readonly { ip: string; changes: number }[]): string[] {
  return flapping.map(
    ({ ip, changes }) =>
      `${ip} is flapping: ${changes} changes in the last ${FLAP_WINDOW} runs; said again once still for ${CALM_RUNS} runs`,
  );
}

function calmedLines(calmed: readonly HostChange[]): string[] {
  return calmed.map(({ ip, from, to }) => `${ip} stopped flapping${from === to ? ', as it was before' : `: ${changePhrase(from, to)}`}`);
}

/** The blocks of a list of lines: as many sections as they need, within the message limit. */
function lineBlocks(lines: readonly string[]): KnownBlock[] {
  const { texts, left } = packLines(lines.map(escapeText), BLOCK_LIMITS.blocks - 4);
  const blocks = texts.map(section);
  if (left > 0) blocks.push(context(`and ${left} more lines`));
  return blocks;
}

export interface WatchMessage {
  text: string;
  blocks: KnownBlock[];
}

function footer(watch: WatchRecord, summary: string): KnownBlock {
  const agents = watch.agents ? ', seen by every agent' : '';
  return context(
    `watch \`${watch.id}\` · every ${formatEvery(watch.everyMs)}, confirm ${watch.confirm}${agents}${conditionWords(watch.conditions).map((w) => ` · ${w}`).join('')} · last run: ${escapeText(summary)}`,
  );
}

/**
 * A new incident: the channel message. Its first line is also the notification text. A later change whose
 * incident's alert was deleted comes as a new alert too (with the hosts that stopped flapping).
 */
export function alertMessage(watch: WatchRecord, notice: Extract<WatchNoticeRecord, { kind: 'alert' | 'update' }>): WatchMessage {
  const lines = [...changeLines(notice.changes), ...flappingLines(notice.flapping), ...(notice.kind === 'update' ? calmedLines(notice.calmed) : [])];
  const headline = `${watch.sweep}: ${lines.join(', ')}`;
  return {
    text: clip(`:rotating_light: ${headline}`, 300),
    blocks: [section(`:rotating_light: ${subject(watch)} changed`), ...lineBlocks(lines), footer(watch, notice.summary)],
  };
}

/** The buttons of an alert: each a request at the door about the watch whose id it carries. */
export const WATCH_ACTIONS = {
  acknowledge: 'watch_acknowledge',
  silence: 'watch_silence',
  graph: 'watch_graph',
  unwatch: 'watch_unwatch',
} as const;

/** How long a silence from the alert lasts: the modal's choices, in ms (0: until the incident ends). */
export const SILENCE_CHOICES = [
  { value: '3600000', text: '1 hour' },
  { value: '14400000', text: '4 hours' },
  { value: '0', text: 'Until resolved' },
] as const;

/** A time of day Slack shows in each reader's own time zone (`14:02`), with a UTC fallback. */
export function slackClock(iso: string): string {
  const seconds = Math.floor(Date.parse(iso) / 1000);
  return `<!date^${seconds}^{time}|${iso.slice(11, 16)} UTC>`;
}

/** A time as short as it can be said from `now`: the time of day within a day, else the date too. */
export function whenWords(iso: string, now: number): string {
  return Math.abs(Date.parse(iso) - now) < 20 * 3600_000 ? slackClock(iso) : slackTime(iso);
}

/** `:no_bell: Silenced by <@U1> until 15:02: “deploy window”`. */
export function silenceWords(silence: SilenceMark, now = Date.now()): string {
  const until = silence.until ? `until ${whenWords(silence.until, now)}` : 'until it is resolved';
  const reason = silence.reason.trim() === '' ? '' : `: “${escapeText(silence.reason.trim())}”`;
  return `:no_bell: Silenced by <@${silence.by}> ${until}${reason}`;
}

/** Whether a silence still holds at `now`. */
export function silenceHolds(silence: SilenceMark | undefined, now = Date.now()): silence is SilenceMark {
  return silence !== undefined && (silence.until === undefined || Date.parse(silence.until) > now);
}

/**
 * An open incident's alert as it stands now, edited in place at each change: its first line says what is changed
 * now (from before the incident), the lines under it every host of it, then since when it is open, who acknowledged
 * it and who silenced it, and the buttons. Undefined once the watch has no open incident.
 */
export function livingAlert(watch: WatchRecord, response?: IncidentResponse, now = Date.now(), last?: SeriesPoint): WatchMessage | undefined {
  const state = watch.state;
  const incident = state?.incident;
  if (!state || !incident) return undefined;
  const { changes: bare, flapping } = incidentNow(state);
  // A host over a loss: or rtt: limit, with its figures of the last run.
  const changes = bare.map((change) => {
    const figures = last?.hosts[change.ip];
    if (!figures || qualityOf(change.to).length === 0) return change;
    return { ...change, to: withFigures(change.to, Math.round(figures[0]), figures[1] ?? undefined) };
  });
  const lines = [
    ...changeLines(changes),
    ...flappingLines(flapping.map((ip) => ({ ip, changes: (state.transitions[ip] ?? []).length }))),
  ];
  if (lines.length === 0) lines.push('every host is back as it was; it is resolved at the next run');
  // The first line says it all when it is one fact; else how many hosts, each fact on a line of its own below.
  const hosts = changes.length + flapping.length;
  const head = `:rotating_light: ${subject(watch)}: ${lines.length === 1 ? escapeText(lines[0] ?? '') : `${hosts} hosts changed`}`;
  const ack = response?.ack;
  const opened = `Open since ${whenWords(incident.openedAt, now)}${ack ? ` · :eyes: acknowledged by <@${ack.by}> ${whenWords(ack.at, now)}` : ''}`;
  const status = [opened];
  const silence = silenceHolds(response?.silence, now) ? response?.silence : undefined;
  if (silence) status.push(silenceWords(silence, now));
  const buttons: KnownBlock = {
    type: 'actions',
    block_id: 'watch_alert',
    elements: [
      ...(ack ? [] : [{ type: 'button' as const, action_id: WATCH_ACTIONS.acknowledge, text: { type: 'plain_text' as const, text: 'Acknowledge' }, style: 'primary' as const, value: watch.id }]),
      { type: 'button', action_id: WATCH_ACTIONS.silence, text: { type: 'plain_text', text: silence ? 'Silence again…' : 'Silence…' }, value: watch.id },
      ...(keepsSeries(watch) ? [{ type: 'button' as const, action_id: WATCH_ACTIONS.graph, text: { type: 'plain_text' as const, text: 'Graph' }, value: watch.id }] : []),
      {
        type: 'button',
        action_id: WATCH_ACTIONS.unwatch,
        text: { type: 'plain_text', text: 'Unwatch' },
        style: 'danger',
        value: watch.id,
        confirm: {
          title: { type: 'plain_text', text: 'Stop this watch?' },
          text: { type: 'plain_text', text: clip(`It stops sweeping ${watch.sweep} and says nothing more here.`, 300) },
          confirm: { type: 'plain_text', text: 'Unwatch' },
          deny: { type: 'plain_text', text: 'Keep it' },
        },
      },
    ],
  };
  return {
    text: clip(`:rotating_light: ${watch.sweep}: ${lines.join(', ')}`, 300),
    blocks: [section(head), ...(lines.length > 1 ? lineBlocks(lines) : []), context(status.join('\n')), buttons, footer(watch, watch.lastRun?.summary ?? '')],
  };
}

/** What changed while an incident was silenced, as lines; none when nothing did. */
export function heldLines(held: HeldChanges | undefined): string[] {
  if (!held) return [];
  return [...changeLines(held.changes), ...flappingLines(held.flapping), ...calmedLines(held.calmed)];
}

/** A silence ended before its incident: a reply in the alert's thread, with what changed meanwhile. */
export function silenceEndedMessage(watch: WatchRecord, notice: Extract<WatchNoticeRecord, { kind: 'silence_ended' }>): WatchMessage {
  const span = formatSpan(Date.now() - Date.parse(notice.silence.at));
  const lines = heldLines(notice.held);
  const head = `:bell: The silence by <@${notice.silence.by}> ended after ${span}: ${lines.length > 0 ? 'while it held,' : 'nothing changed while it held.'}`;
  return { text: clip(`${watch.sweep}: silence ended${lines.length > 0 ? `: ${lines.join(', ')}` : ''}`, 300), blocks: [section(head), ...lineBlocks(lines), footer(watch, notice.summary)] };
}

/** What a notice held back by a maintenance window said, as lines of the summary at the window's end. */
export function heldNoticeLines(notice: WatchNoticeRecord): string[] {
  switch (notice.kind) {
    case 'alert':
    case 'update':
      return [...changeLines(notice.changes), ...flappingLines(notice.flapping), ...(notice.kind === 'update' ? calmedLines(notice.calmed) : [])];
    case 'resolved':
    case 'settled': {
      const span = formatSpan(Date.parse(notice.at) - Date.parse(notice.openedAt));
      const how = notice.kind === 'resolved' ? `resolved after ${span}: every host back as it was` : `settled after ${span}: the new states are the baseline`;
      return [...changeLines(notice.changes), ...calmedLines(notice.calmed), how];
    }
    case 'silence_ended':
      return heldLines(notice.held);
    case 'vantage':
      return notice.views.flatMap(({ vantage, changes }) => changeLines(changes).map((line) => `${vantage} alone sees ${line}`));
    case 'paused':
    case 'resumed':
      return [notice.kind === 'paused' ? `paused: ${notice.reason}` : `resumed: ${notice.reason}`];
    default:
      return [];
  }
}

/** The end of a maintenance window: one channel message with what its runs found while the alerts waited. */
export function quietSummaryMessage(watch: WatchRecord, notice: Extract<WatchNoticeRecord, { kind: 'quiet_summary' }>): WatchMessage {
  const head = `:bell: ${subject(watch)}: the maintenance window (${escapeText(notice.window)}) has ended. ${notice.lines.length > 0 ? 'While it held:' : 'Nothing changed while it held.'}`;
  return {
    text: clip(`${watch.sweep}: maintenance window ended${notice.lines.length > 0 ? `: ${notice.lines.join(', ')}` : ', nothing changed'}`, 300),
    blocks: [section(head), ...lineBlocks(notice.lines), footer(watch, notice.summary)],
  };
}

/** A later change of an open incident: a reply in its thread. */
export function updateMessage(watch: WatchRecord, notice: Extract<WatchNoticeRecord, { kind: 'update' }>): WatchMessage {
  const lines = [...changeLines(notice.changes), ...flappingLines(notice.flapping), ...calmedLines(notice.calmed)];
  return {
    text: clip(`${watch.sweep}: ${lines.join(', ')}`, 300),
    blocks: [...lineBlocks(lines), footer(watch, notice.summary)],
  };
}

/**
 * `confirm:agents`: hosts one vantage (an agent) alone sees otherwise than before, while the others see them as
 * before: a channel message of its own, said once, that names the vantage, and no incident.
 */
export function vantageMessage(watch: WatchRecord, notice: Extract<WatchNoticeRecord, { kind: 'vantage' }>): WatchMessage {
  const lines = notice.views.flatMap(({ vantage, changes }) => changeLines(changes).map((line) => `${vantage} alone sees ${line}`));
  const who = notice.views.map((v) => v.vantage).join(', ');
  return {
    text: clip(`:eyes: ${watch.sweep}: ${lines.join(', ')}`, 300),
    blocks: [
      section(`:eyes: ${subject(watch)}: seen otherwise by ${escapeText(who)} only`),
      ...lineBlocks(lines),
      context(
        escapeText(`The other agents see these hosts as before: this is ${who}'s own view (its path, a firewall in front of it), not the hosts'. No incident; said once.`),
      ),
      footer(watch, notice.summary),
    ],
  };
}

/** The end of an incident: the reply in its thread. */
export function closedMessage(watch: WatchRecord, notice: Extract<WatchNoticeRecord, { kind: 'resolved' | 'settled' }>): WatchMessage {
  const span = formatSpan(Date.parse(notice.at) - Date.parse(notice.openedAt));
  const head =
    notice.kind === 'resolved'
      ? `:white_check_mark: Resolved after ${span}: every host is back as it was.`
      : `:heavy_minus_sign: Settled after ${span}: no change for a while, so the new states are now the baseline.`;
  const lines = [...changeLines(notice.changes), ...calmedLines(notice.calmed)];
  return { text: head, blocks: [section(head), ...lineBlocks(lines), ...silencedBlocks(notice), footer(watch, notice.summary)] };
}

/** An incident that ended silenced: the silence ends with it, and what changed while it held is said. */
function silencedBlocks(notice: Extract<WatchNoticeRecord, { kind: 'resolved' | 'settled' }>): KnownBlock[] {
  if (!notice.silence) return [];
  const held = heldLines(notice.held);
  const words = `:bell: It was silenced by <@${notice.silence.by}> ${slackClock(notice.silence.at)}; the silence ends with it. ${held.length > 0 ? 'While it held:' : 'Nothing else changed while it held.'}`;
  return [context(words), ...lineBlocks(held)];
}

/**
 * The end of an incident as a message of its own in the channel, when the alert's thread is gone (the alert was
 * deleted) or there never was one: what ended, and what the alert had said.
 */
export function closedStandalone(watch: WatchRecord, notice: Extract<WatchNoticeRecord, { kind: 'resolved' | 'settled' }>): WatchMessage {
  const span = formatSpan(Date.parse(notice.at) - Date.parse(notice.openedAt));
  const head =
    notice.kind === 'resolved'
      ? `:white_check_mark: ${watch.sweep}: resolved after ${span}: every host is back as it was.`
      : `:heavy_minus_sign: ${watch.sweep}: settled after ${span}: no change for a while, so the new states are now the baseline.`;
  const alert = notice.alert
    ? [context(`Its alert, of ${slackTime(notice.openedAt)}, is no longer there: ${escapeText(notice.alert.text.replace(/^:rotating_light: /, ''))}`)]
    : [];
  const lines = [...changeLines(notice.changes), ...calmedLines(notice.calmed)];
  return { text: clip(head, 300), blocks: [section(escapeText(head)), ...alert, ...lineBlocks(lines), ...silencedBlocks(notice), footer(watch, notice.summary)] };
}

/**
 * To the watch's creator, privately, when Slack refuses every post in the watch's channel: why, what to do, and
 * that the watch goes on and speaks again as soon as it can.
 */
export function cannotPostMessage(watch: WatchRecord, code: string): WatchMessage {
  const why: Record<string, string> = {
    not_in_channel: 'I am no longer in that channel: invite me back with /invite @ZenSweep',
    channel_not_found: 'that channel is gone, or I cannot see it',
    is_archived: 'that channel is archived',
    restricted_action: 'that channel does not let me post',
    missing_scope: 'my Slack app lacks a scope it needs to post there',
  };
  const reason = why[code] ?? 'Slack refuses my posts';
  const text =
    `:double_vertical_bar: Your watch \`${watch.id}\` (${subject(watch)}) cannot post in <#${watch.channel}>: ${reason} (${code}). ` +
    `It keeps sweeping every ${formatEvery(watch.everyMs)}, keeps what it has to say and posts it as soon as it can; ` +
    `\`/sweep unwatch ${watch.id}\` in that channel stops it.`;
  return { text: clip(text, 300), blocks: [section(text)] };
}

/** The alert message once its incident has ended: marked so at the top, what it said kept below. */
export function closedAlert(alertText: string, notice: Extract<WatchNoticeRecord, { kind: 'resolved' | 'settled' }>): WatchMessage {
  const span = formatSpan(Date.parse(notice.at) - Date.parse(notice.openedAt));
  const head = notice.kind === 'resolved' ? `:white_check_mark: *Resolved* after ${span}` : `:heavy_minus_sign: *Settled* after ${span}`;
  return { text: `${head.replace(/\*/g, '')}: ${alertText}`, blocks: [section(head), context(escapeText(alertText.replace(/^:rotating_light: /, '')))] };
}

/** The watch cannot run, or can again: one channel message each time this changes. */
export function pauseMessage(watch: WatchRecord, notice: Extract<WatchNoticeRecord, { kind: 'paused' | 'resumed' }>): WatchMessage {
  const text =
    notice.kind === 'paused'
      ? `:double_vertical_bar: ${watch.sweep}: ${notice.reason}; watch paused (it keeps trying every ${formatEvery(watch.everyMs)}).`
      : `:arrow_forward: ${watch.sweep}: ${notice.reason}; watch resumed.`;
  return { text: clip(text, 300), blocks: [section(escapeText(text)), context(`watch \`${watch.id}\``)] };
}

/**
 * `/sweep watches`: each watch of the channel with its last result, then those whose stored record does not read
 * as a watch, by id, with how to remove them.
 */
export function watchesText(
  watches: readonly WatchRecord[],
  muted: ReadonlyMap<string, string>,
  now = Date.now(),
  unreadable: readonly UnreadableWatch[] = [],
  quiet: ReadonlyMap<string, string> = new Map(),
): string {
  const broken = unreadable.map(
    (u) => `• \`${u.id}\` cannot be read (${escapeText(u.reason)}): it does not run; \`/sweep unwatch ${u.id}\` removes it`,
  );
  if (watches.length === 0) {
    const none = 'No watch in this channel. Start one with `/sweep watch 10.0.1.0/24 tcp:5432 every:5m`.';
    return broken.length === 0 ? none : clip([none, ...broken].join('\n'), BLOCK_LIMITS.sectionText);
  }
  const lines = watches.map((w) => {
    const head = `• \`${w.id}\` ${subject(w)} every ${formatEvery(w.everyMs)}, confirm ${w.confirm}${conditionWords(w.conditions).map((c) => ` ${c}`).join('')} · by <@${w.createdBy}>`;
    const facts: string[] = [];
    const run = w.lastRun;
    facts.push(run ? `last run ${formatSpan(now - Date.parse(run.at))} ago: ${escapeText(run.summary ?? run.outcome)}` : 'no run yet');
    const incident = w.state?.incident;
    if (incident) facts.push(`incident open since ${slackTime(incident.openedAt)}`);
    if ((w.state?.flapping.length ?? 0) > 0) facts.push(`flapping: ${foldAddresses(w.state?.flapping ?? []).join(', ')}`);
    const until = muted.get(w.id);
    if (until) facts.push(`muted until ${slackTime(until)}`);
    const window = quiet.get(w.id);
    if (window) facts.push(`quiet ${escapeText(window)}${w.quietHold ? ' (now: its alerts wait)' : ''}`);
    if (w.blocked) facts.push(`paused: ${escapeText(w.blocked.reason)}`);
    if (w.cannotPost) facts.push(`cannot post here since ${slackTime(w.cannotPost.since)} (${escapeText(w.cannotPost.code)}): it keeps what it has to say`);
    return `${head}\n    ${facts.join(' · ')}`;
  });
  return clip([...lines, ...broken].join('\n'), BLOCK_LIMITS.sectionText);
}

/**
 * A watch's chart and the words beside it: the hosts of its open incident (else its worst of the last day), their
 * median and worst round trip and their loss, the incident's span shaded. Undefined when it has nothing to draw.
 */
export function watchChart(
  watch: WatchRecord,
  points: readonly SeriesPoint[],
  now = Date.now(),
  /** An incident that has ended: its hosts and its span. */
  ended?: { hosts: string[]; from: number; to: number },
): { picture: MapPicture; legend: string } | undefined {
  const open = watch.state?.incident;
  const incident = ended ? { from: ended.from, to: ended.to } : open ? { from: Date.parse(open.openedAt) } : undefined;
  const hosts = ended && ended.hosts.length > 0 ? ended.hosts : open ? Object.keys(open.reference) : worstHosts(points, now);
  const picture = chartSvg({ points, hosts, now, ...(incident ? { incident } : {}) });
  if (!picture) return undefined;
  const who = hosts.length <= 3 ? hosts.join(', ') : `${hosts.slice(0, 2).join(', ')} and ${hosts.length - 2} more`;
  const legend = `${who}, ms: :large_blue_square: median :large_red_square: worst · :large_orange_square: loss %${incident ? ' · shaded: the incident' : ''} · UTC`;
  return { picture, legend };
}
