/**
 * The app's Home tab (`app_home_opened` → `views.publish`): for whoever opens it, what they may see (the door's
 * `home` kind) — open incidents of their watches first, with a link to each alert; the agent groups they may use,
 * with their live agents and any that is unwell; their watches with the last run and the next; their last sweeps,
 * each with Re-run. Written for a phone, within Block Kit's limits (100 blocks, 3,000 characters a section) for 50
 * groups and 200 watches: lines are packed into sections, the rest counted.
 */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { KnownBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { KEY_PREFIX } from '../queue/names.js';
import { agentHealth } from '../core/agent-health.js';
import { describePorts } from '../core/ports.js';
import { parseSweepText } from '../core/grammar.js';
import { formatEvery } from '../core/watch-grammar.js';
import type { Door } from '../door/door.js';
import type { DoorRequest } from '../door/kind.js';
import type { HomePicture } from '../door/kinds/home.js';
import type { SweepRecord } from '../queue/history.js';
import { escapeText } from '../views/blocks.js';
import { BLOCK_LIMITS, clip, packLines } from '../views/block-limits.js';
import { countOf, formatCount } from '../core/format.js';
import { replyTo } from './answers.js';
import { PARSE_LIMITS } from './commands/sweep.js';
import { formatSpan, silenceHolds, slackClock, whenWords } from './watches/render.js';

/** The Re-run button of a sweep on Home: its value is the sweep's words and the viewer's DM with the app. */
export const HOME_RERUN = 'home_rerun';

/** Blocks a Home view may have (Slack's limit). */
const HOME_BLOCKS = 100;

function section(text: string): KnownBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: clip(text, BLOCK_LIMITS.sectionText) } };
}

function context(text: string): KnownBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: clip(text, BLOCK_LIMITS.contextText) }] };
}

/** A sweep's words again, from its record: its targets, the ports it probed and its echoes per host. */
export function sweepWords(record: Pick<SweepRecord, 'targets' | 'probed'>): string {
  const ports = record.probed?.ports ?? [];
  const count = record.probed?.count ?? 1;
  return [...record.targets, ...(ports.length > 0 ? [`tcp:${describePorts(ports)}`] : []), ...(count > 1 ? [`count:${count}`] : [])].join(' ');
}

/** `41 alive · 2 TCP only · 210 silent`: the states a sweep found, those it found none of left out. */
function countsOf(s: SweepRecord['summary']): string {
  const parts = [
    [s.alive, 'alive'],
    [s.alive_tcp_only, 'TCP only'],
    [s.prohibited, 'prohibited'],
    [s.unreachable, 'unreachable'],
    [s.silent, 'silent'],
  ].flatMap(([n, words]) => (Number(n) > 0 ? [`${formatCount(Number(n))} ${String(words)}`] : []));
  return parts.length > 0 ? parts.join(' · ') : 'no hosts';
}

/** Lines packed into sections under a title, at most `budget` blocks; what does not fit is counted. */
function listBlocks(title: string, lines: readonly string[], budget: number): KnownBlock[] {
  const { texts, left } = packLines([title, ...lines], Math.max(1, budget - 1));
  const blocks = texts.map(section);
  if (left > 0) blocks.push(context(`and ${left} more`));
  return blocks;
}

/** The Home view of `picture` for the viewer, at `now`; `alertLinks` maps a watch id to its alert's permalink. */
export function homeView(picture: HomePicture, options: { now?: number; alertLinks?: ReadonlyMap<string, string>; dm: string }): { type: 'home'; blocks: KnownBlock[] } {
  const now = options.now ?? Date.now();
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: 'ZenSweep' } },
    context(`What you may see and run, as of ${slackClock(new Date(now).toISOString())} · \`/sweep help\` for the commands`),
  ];

  const incidents = picture.watches.filter((w) => w.watch.state?.incident);
  const incidentLines = incidents.map(({ watch, response }) => {
    const incident = watch.state?.incident;
    const link = options.alertLinks?.get(watch.id);
    // The sweep's words link to its alert (its thread), where Slack gives a link.
    const what = link ? `<${link}|${escapeText(watch.sweep)}>` : `\`${escapeText(watch.sweep)}\``;
    const parts = [`:rotating_light: ${what} in <#${watch.channel}> since ${whenWords(incident?.openedAt ?? '', now)}`];
    if (response?.ack) parts.push(`:eyes: <@${response.ack.by}>`);
    if (silenceHolds(response?.silence, now)) parts.push(':no_bell: silenced');
    return parts.join(' · ');
  });

  // Each agent group once, with its live agents; an agent that is late or takes no work is named.
  const groups = new Map<string, typeof picture.agents>();
  for (const agent of [...picture.agents].sort((a, b) => a.group.localeCompare(b.group) || a.id.localeCompare(b.id))) {
    groups.set(agent.group, [...(groups.get(agent.group) ?? []), agent]);
  }
  const groupLines = [...groups].map(([group, agents]) => {
    const networks = [...new Set(agents.flatMap((a) => a.cidrs))];
    const shownNetworks = networks.slice(0, 3).join(', ') + (networks.length > 3 ? ` +${networks.length - 3}` : '');
    const unwell = agents.flatMap((a) => {
      const health = agentHealth(a, now);
      if (health.deaf) return [`\`${escapeText(a.id)}\` takes no work`];
      if (health.late) return [`\`${escapeText(a.id)}\` late (${formatSpan(health.heartbeatAgeMs)})`];
      return [];
    });
    return `*${escapeText(group)}* · ${countOf(agents.length, 'agent')} · ${escapeText(shownNetworks)}${unwell.length > 0 ? ` · :warning: ${unwell.join(', ')}` : ' · all well'}`;
  });

  const watchLines = picture.watches.map(({ watch, mutedUntil }) => {
    const run = watch.lastRun;
    const last = run ? `last run ${formatSpan(now - Date.parse(run.at))} ago: ${escapeText(run.summary ?? run.outcome)}` : 'no run yet';
    const nextAt = run ? Date.parse(run.at) + watch.everyMs : Date.parse(watch.createdAt) + watch.everyMs;
    const next = mutedUntil ? `muted until ${slackClock(mutedUntil)}` : `next ${nextAt <= now ? 'now' : `in ${formatSpan(nextAt - now)}`}`;
    const state = watch.state?.incident ? ':rotating_light: ' : watch.blocked ? ':double_vertical_bar: ' : '';
    return `${state}\`${watch.id}\` \`${escapeText(watch.sweep)}\` in <#${watch.channel}> every ${formatEvery(watch.everyMs)}\n    ${last} · ${next}`;
  });

  // The fixed parts first; the lists share what is left of the 100 blocks, sweeps last (5 at most, 2 blocks each).
  const sweepBlocks = picture.sweeps.flatMap((record): KnownBlock[] => {
    const words = sweepWords(record);
    const s = record.summary;
    return [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: clip(`\`${escapeText(words)}\` in ${escapeText(record.groups.join(', '))} · ${whenWords(record.at, now)}\n${countsOf(s)}`, BLOCK_LIMITS.sectionText),
        },
        accessory: { type: 'button', action_id: HOME_RERUN, text: { type: 'plain_text', text: 'Re-run' }, value: clip(JSON.stringify({ text: words, dm: options.dm }), 2000) },
      },
    ];
  });
  const room = HOME_BLOCKS - blocks.length - 4 - (sweepBlocks.length > 0 ? sweepBlocks.length + 1 : 1);
  const incidentBudget = Math.max(1, Math.min(8, Math.floor(room / 4)));
  blocks.push(...(incidentLines.length > 0 ? listBlocks(`*Open incidents (${incidentLines.length})*`, incidentLines, incidentBudget) : [section('*No open incident* among your watches.')]));
  blocks.push({ type: 'divider' });
  const left = HOME_BLOCKS - blocks.length - 3 - (sweepBlocks.length > 0 ? sweepBlocks.length + 1 : 1);
  const groupBudget = Math.max(1, Math.floor(left / 2));
  blocks.push(
    ...(groupLines.length > 0
      ? listBlocks(`*Agent groups (${groupLines.length})*`, groupLines, groupBudget)
      : [section('*No agent* is online that you may use. Start one inside a network with `zensweep agent`.')]),
  );
  blocks.push({ type: 'divider' });
  const watchBudget = Math.max(1, HOME_BLOCKS - blocks.length - 1 - (sweepBlocks.length > 0 ? sweepBlocks.length + 1 : 1));
  blocks.push(
    ...(watchLines.length > 0
      ? listBlocks(`*Your watches (${watchLines.length})*`, watchLines, watchBudget)
      : [section('*No watch* of yours. Start one in a channel with `/sweep watch 10.0.1.0/24 tcp:5432 every:5m`.')]),
  );
  blocks.push({ type: 'divider' });
  blocks.push(sweepBlocks.length > 0 ? section(`*Your last sweeps*`) : section('*No sweep* of yours on record yet.'), ...sweepBlocks);
  return { type: 'home', blocks: blocks.slice(0, HOME_BLOCKS) };
}

/** Permalinks of the open incidents' alerts, asked of Slack; an alert it cannot link is shown without. */
async function alertLinks(client: WebClient, picture: HomePicture): Promise<Map<string, string>> {
  const links = new Map<string, string>();
  await Promise.all(
    picture.watches.map(async ({ watch }) => {
      const alert = watch.state?.incident?.alert;
      if (!alert) return;
      const answer = await client.chat.getPermalink({ channel: watch.channel, message_ts: alert.ts }).catch(() => undefined);
      if (answer?.permalink) links.set(watch.id, answer.permalink);
    }),
  );
  return links;
}

/** How long a viewer's Home is kept current after they last opened it, in seconds. */
const VIEWER_TTL_S = 30 * 24 * 3600;

/**
 * Who has opened Home, and their conversation with the app (`PREFIX:home:USER` → the DM's id, expiring 30 days
 * after the last open): their Home is published again when something on it changes (an incident of their watch
 * opens or ends), without waiting for them to open it.
 */
export class HomeViewers {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = KEY_PREFIX,
  ) {}

  private key(user: string): string {
    return `${this.prefix}:home:${user}`;
  }

  async opened(user: string, dm: string): Promise<void> {
    await this.redis.set(this.key(user), dm, 'EX', VIEWER_TTL_S);
  }

  /** The viewer's DM with the app, if they have opened Home lately. */
  async dmOf(user: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(user))) ?? undefined;
  }
}

/** Publishes Home again for `user` if they have opened it lately (an incident of their watch opened or ended). */
export async function refreshHome(client: WebClient, deps: { door: Door; log: Logger; viewers: HomeViewers }, user: string): Promise<void> {
  const dm = await deps.viewers.dmOf(user);
  if (dm) await publishHome(client, deps, user, dm);
}

/** Publishes `user`'s Home, as the door lets them see it; a refusal is said on Home itself. */
export async function publishHome(client: WebClient, deps: { door: Door; log: Logger }, user: string, dm: string): Promise<void> {
  const request: DoorRequest = { source: 'slack', user, channel: dm, text: 'home' };
  const answer = await deps.door.answer(request, () => ({ kind: 'home' }));
  const view =
    answer.kind === 'home'
      ? homeView(answer.value, { dm, alertLinks: await alertLinks(client, answer.value) })
      : { type: 'home' as const, blocks: [{ type: 'header', text: { type: 'plain_text', text: 'ZenSweep' } } as KnownBlock, section(escapeText(replyTo(answer).text))] };
  await client.views.publish({ user_id: user, view });
}

/**
 * Home: published when its tab is opened; Re-run on it starts the sweep again for whoever presses, its report posted
 * in their conversation with the app (the Messages tab), through the door as any request.
 */
export function registerHome(app: App, deps: { door: Door; log: Logger; viewers: HomeViewers }): void {
  app.event('app_home_opened', async ({ event, client }) => {
    if (event.tab !== 'home') return;
    await deps.viewers.opened(event.user, event.channel).catch((error: Error) => deps.log.warn({ event: 'home_viewer_not_kept', message: error.message }));
    await publishHome(client, deps, event.user, event.channel).catch((error: Error) => deps.log.warn({ event: 'home_publish_failed', message: error.message }));
  });
  app.action<BlockAction<ButtonAction>>(HOME_RERUN, async ({ ack, action, body, client }) => {
    await ack();
    let asked: { text: string; dm: string };
    try {
      asked = JSON.parse(action.value ?? '') as { text: string; dm: string };
    } catch {
      return;
    }
    const request: DoorRequest = { source: 'slack', user: body.user.id, channel: asked.dm, text: asked.text, action: 'rerun' };
    const answer = await deps.door.answer(request, () => ({ kind: 'sweep', request: parseSweepText(asked.text, PARSE_LIMITS) }));
    // The answer goes to the conversation with the app, where the report will be.
    await client.chat
      .postMessage({ channel: asked.dm, text: replyTo(answer).text })
      .catch((error: Error) => deps.log.warn({ event: 'home_rerun_reply_failed', message: error.message }));
  });
}
