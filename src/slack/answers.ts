/**
 * What the bot answers, privately, for each kind of command the door answered: one table, checked against the
 * kinds, so a new kind is a compile error here until it has its words.
 */
import type { KnownBlock } from '@slack/types';
import { addressCount } from '../core/format.js';
import { formatEvery } from '../core/watch-grammar.js';
import { conditionWords } from '../core/watch-conditions.js';
import type { DoorAnswer } from '../door/door.js';
import type { CommandKind, CommandOf } from '../door/kind.js';
import type { ResultOf } from '../door/kinds.js';
import { renderAgentsMrkdwn } from '../views/agents.js';
import { escapeText, hostsBlocks } from '../views/blocks.js';
import { renderBaselinesMrkdwn, renderHistoryMrkdwn } from '../views/history.js';
import { STATE_WORDS, vantageCost } from '../views/words.js';
import { HELP_TEXT, errorText } from './render/replies.js';
import { silenceWords, slackTime, watchesText } from './watches/render.js';

/** A private answer: its text, and blocks where it has more to show. */
export interface Reply {
  text: string;
  blocks?: KnownBlock[];
}

/** Sweeps `/sweep history` lists, newest first. */
const HISTORY_SHOWN = 10;

type Answered<K extends CommandKind> = (value: ResultOf<K>, command: CommandOf<K>) => Reply;

const text = (words: string): Reply => ({ text: words });

const ANSWERS: { readonly [K in CommandKind]: Answered<K> } = {
  help: () => text(HELP_TEXT),
  agents: (agents) => text(renderAgentsMrkdwn(agents)),
  history: ({ records, target }) => text(renderHistoryMrkdwn(records.slice(0, HISTORY_SHOWN), target)),
  sweep: (started, command) => {
    const size = started.addresses > 0 ? ` (${addressCount(started.addresses)})` : '';
    if (started.vantages) {
      return text(`Sweeping \`${escapeText(started.text)}\` in ${started.groups.join(', ')} ${vantageCost(started.vantages.map((v) => v.name), started.addresses, started.probes, command.request.options.from)}…`);
    }
    return text(`Sweeping \`${escapeText(started.text)}\` in ${started.groups.join(', ')}${size}…`);
  },
  trace: (started, command) => text(`Tracing \`${escapeText(command.request.target.text)}\` from ${started.job.group}…`),
  diag: (started, command) => text(`Gathering the diag of \`${escapeText(command.request.target.text)}\` from ${started.job.group}…`),
  watch: (watch, command) =>
    text(
      `Watching \`${escapeText(watch.sweep)}\` in ${watch.groups.join(', ')} every ${formatEvery(watch.everyMs)} (id \`${watch.id}\`). ` +
        `I will post here only when a change holds for ${watch.confirm} run${watch.confirm === 1 ? '' : 's'}` +
        (watch.conditions ? ` (a host over ${conditionWords(watch.conditions).join(' or ')} is a change too)` : '') +
        (watch.agents
          ? ` and every agent sees it (${watch.groups.join(', ')}: each live agent sweeps it, so as many times the probes); what one agent alone sees I say once, as that agent's view. `
          : '. ') +
        `\`/sweep watches\` lists this channel's watches; \`/sweep unwatch ${watch.id}\` stops this one.` +
        (command.watch.quiet ? ` Quiet ${escapeText(command.watch.quiet)}: it sweeps on, its alerts wait, and one message says at the end what changed.` : ''),
    ),
  baselines: (baselines) => text(renderBaselinesMrkdwn(baselines)),
  forget: ({ name, forgotten }) =>
    text(forgotten ? `Forgot baseline \`${escapeText(name)}\`.` : `There is no baseline named \`${escapeText(name)}\` in this channel: \`/sweep baselines\` lists them.`),
  watches: ({ watches, muted, unreadable, quiet }) => text(watchesText(watches, muted, Date.now(), unreadable, quiet)),
  unwatch: (removed) =>
    text(removed.sweep === undefined ? `Removed the unreadable watch \`${removed.id}\`.` : `Stopped watching \`${escapeText(removed.sweep)}\` (\`${removed.id}\`).`),
  mute: ({ watch, until }) =>
    text(
      until
        ? `Muted \`${watch.id}\` (\`${escapeText(watch.sweep)}\`) until ${slackTime(until)}: it does not run until then.`
        : `\`${watch.id}\` (\`${escapeText(watch.sweep)}\`) speaks again.`,
    ),
  quiet: ({ watch, window }) =>
    text(
      window
        ? `\`${watch.id}\` (\`${escapeText(watch.sweep)}\`) keeps quiet ${escapeText(window)}: it sweeps on, its alerts wait, and one message says at the end what changed.`
        : `\`${watch.id}\` (\`${escapeText(watch.sweep)}\`) has no maintenance window any more.`,
    ),
  cancel: (outcome) =>
    text(
      outcome === 'cancelling'
        ? 'Cancelling: the report will say how far it got.'
        : outcome === 'finished'
          ? 'This sweep has already finished: there is nothing to cancel.'
          : 'Only sweeps can be cancelled; a trace or diag ends by itself.',
    ),
  hosts: (report, command) =>
    report
      ? { text: `${STATE_WORDS[command.state]} hosts`, blocks: hostsBlocks(report, command.state) }
      : text('This report is older than a day: its hosts are in the CSV.'),
  save_baseline: (saved) =>
    text(
      saved
        ? `Saved as baseline \`${saved.name}\`. Compare later with \`/sweep ${escapeText(saved.targets.join(' '))} compare:${saved.name}\` in this channel (its baselines are its own).`
        : 'This sweep is no longer in the history.',
    ),
  acknowledge: ({ watch, response, already }) =>
    text(
      already && response.ack
        ? `<@${response.ack.by}> acknowledged this incident of \`${watch.id}\` already, ${slackTime(response.ack.at)}.`
        : `Acknowledged: the alert of \`${watch.id}\` says it is yours.`,
    ),
  graph: ({ watch, points }) =>
    text(points.length > 0 ? `The chart of \`${watch.id}\` is in its alert's thread.` : `\`${watch.id}\` keeps no loss or round trips yet: give it count:N, loss: or rtt:.`),
  // Home answers with a view (slack/home.ts), never a message.
  home: () => text('Your Home tab is up to date.'),
  silence: ({ watch, response }) =>
    text(response.silence ? `${silenceWords(response.silence)}: \`${watch.id}\` says nothing more of this incident until then; its alert still shows how it stands.` : 'Silenced.'),
};

/** The private answer to a request the door answered. */
export function replyTo(answer: DoorAnswer): Reply {
  if ('error' in answer) return text(errorText(answer.message));
  const answered = ANSWERS[answer.kind] as Answered<CommandKind>;
  return answered(answer.value as ResultOf<CommandKind>, answer.command as CommandOf<CommandKind>);
}
