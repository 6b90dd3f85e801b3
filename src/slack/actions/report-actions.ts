import type { App, BlockAction, ButtonAction, ViewSubmitAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { parseSweepText } from '../../core/grammar.js';
import type { AuditEntry } from '../../door/audit.js';
import type { Door } from '../../door/door.js';
import type { DoorCommand, DoorRequest } from '../../door/kind.js';
import { InvalidOptionError } from '../../core/errors.js';
import { ACTIONS, parseShowHosts } from '../../views/blocks.js';
import { replyTo } from '../answers.js';
import { PARSE_LIMITS } from '../commands/sweep.js';
import { errorText } from '../render/replies.js';
import type { DoorAnswer } from '../../door/door.js';
import { SILENCE_CHOICES, WATCH_ACTIONS, livingAlert, slackTime, watchChart } from '../watches/render.js';
import { mapPng } from '../map-picture.js';

/** A button pressed: by whom, where, on what (the button's value: a sweep id, or a sweep's text for Re-run). */
export interface ButtonPress {
  user: string;
  channel: string;
  value: string;
  responseUrl: string;
}

/**
 * What each button asks of the door, read from its value: a new sweep (Re-run: the sweep's words again, from whoever
 * pressed it), or a follow-up about the sweep whose id the value holds (its `subject`, for the audit trail).
 */
const BUTTONS: Record<string, { action: NonNullable<AuditEntry['action']>; subject?(value: string): string; command(value: string): DoorCommand }> = {
  [ACTIONS.cancel]: { action: 'cancel', subject: (value) => value, command: (value) => ({ kind: 'cancel', id: value }) },
  [ACTIONS.rerun]: { action: 'rerun', command: (value) => ({ kind: 'sweep', request: parseSweepText(value, PARSE_LIMITS) }) },
  [ACTIONS.showHosts]: {
    action: 'show_hosts',
    subject: (value) => parseShowHosts(value)?.sweepId ?? value,
    command: (value) => {
      const asked = parseShowHosts(value);
      if (!asked) throw new InvalidOptionError('this button does not say which hosts to show');
      return { kind: 'hosts', sweepId: asked.sweepId, state: asked.state };
    },
  },
  // The button of reports posted before "Show all N": its value is the sweep id.
  [ACTIONS.showSilent]: { action: 'show_silent', subject: (value) => value, command: (value) => ({ kind: 'hosts', sweepId: value, state: 'silent' }) },
  [ACTIONS.saveBaseline]: { action: 'save_baseline', subject: (value) => value, command: (value) => ({ kind: 'save_baseline', sweepId: value }) },
  // A watch's alert: the value is the watch's id. Silence asks how long and why first (a modal: SILENCE_VIEW).
  [WATCH_ACTIONS.acknowledge]: { action: 'acknowledge', subject: (value) => value, command: (value) => ({ kind: 'acknowledge', id: value }) },
  [WATCH_ACTIONS.unwatch]: { action: 'unwatch', subject: (value) => value, command: (value) => ({ kind: 'unwatch', id: value }) },
  [WATCH_ACTIONS.graph]: { action: 'graph', subject: (value) => value, command: (value) => ({ kind: 'graph', id: value }) },
};

/** The modal Silence… opens, and the request its submission makes (a silence of the watch the button named). */
export const SILENCE_VIEW = 'watch_silence_view';

/** What the modal carries from the button to its submission. */
interface SilenceMetadata {
  watch: string;
  channel: string;
  responseUrl: string;
}

function silenceView(watchId: string, metadata: SilenceMetadata) {
  return {
    type: 'modal' as const,
    callback_id: SILENCE_VIEW,
    private_metadata: JSON.stringify(metadata),
    title: { type: 'plain_text' as const, text: 'Silence the alert' },
    submit: { type: 'plain_text' as const, text: 'Silence' },
    close: { type: 'plain_text' as const, text: 'Cancel' },
    blocks: [
      {
        type: 'input' as const,
        block_id: 'silence_for',
        label: { type: 'plain_text' as const, text: `How long (watch ${watchId})` },
        element: {
          type: 'radio_buttons' as const,
          action_id: 'for',
          initial_option: { value: SILENCE_CHOICES[0].value, text: { type: 'plain_text' as const, text: SILENCE_CHOICES[0].text } },
          options: SILENCE_CHOICES.map((c) => ({ value: c.value, text: { type: 'plain_text' as const, text: c.text } })),
        },
      },
      {
        type: 'input' as const,
        block_id: 'silence_reason',
        label: { type: 'plain_text' as const, text: 'Why (shown on the alert)' },
        element: { type: 'plain_text_input' as const, action_id: 'reason', max_length: 200, placeholder: { type: 'plain_text' as const, text: 'e.g. known: the database is being moved' } },
      },
    ],
  };
}

/**
 * After a watch's button did its work: the alert edited to say it (acknowledged by, silenced by, unwatched by).
 * Best effort: the private answer has said it already, and the next run edits the alert again.
 */
async function editWatchAlert(client: WebClient, answer: DoorAnswer, press: { user: string; channel: string; messageTs?: string }, log: Logger): Promise<void> {
  try {
    if (answer.kind === 'acknowledge' || answer.kind === 'silence') {
      const { watch, response } = answer.value;
      const alert = watch.state?.incident?.alert;
      const message = livingAlert(watch, response);
      if (alert && message) await client.chat.update({ channel: watch.channel, ts: alert.ts, text: message.text, blocks: message.blocks });
    } else if (answer.kind === 'graph') {
      const { watch, points } = answer.value;
      const chart = watchChart(watch, points);
      const thread = watch.state?.incident?.alert?.ts ?? press.messageTs;
      if (chart && thread) {
        await client.files.uploadV2({ channel_id: watch.channel, thread_ts: thread, filename: `${watch.id}-chart.png`, file: mapPng(chart.picture), initial_comment: chart.legend });
      }
    } else if (answer.kind === 'unwatch' && press.messageTs) {
      const words = `Unwatched by <@${press.user}> ${slackTime(new Date().toISOString())}: \`${answer.value.id}\` no longer runs.`;
      await client.chat.update({
        channel: press.channel,
        ts: press.messageTs,
        text: words,
        blocks: [{ type: 'context', elements: [{ type: 'mrkdwn', text: `:no_entry_sign: ${words}` }] }],
      });
    }
  } catch (error) {
    log.info({ event: 'watch_alert_edit_failed', kind: answer.kind, message: (error as Error).message });
  }
}

/** The door's request for a button pressed: as if whoever pressed it asked for it where they pressed it. */
export function buttonRequest(actionId: string, press: ButtonPress): { request: DoorRequest; parse: () => DoorCommand } | undefined {
  const button = BUTTONS[actionId];
  if (!button) return undefined;
  const subject = button.subject?.(press.value);
  const request: DoorRequest = {
    source: 'slack',
    user: press.user,
    channel: press.channel,
    text: subject === undefined ? press.value : `${button.action.replace('_', ' ')} ${subject}`,
    action: button.action,
    responseUrl: press.responseUrl,
    ...(subject === undefined ? {} : { subject }),
  };
  return { request, parse: () => button.command(press.value) };
}

/**
 * The buttons on a sweep's messages: Cancel on the running sweep; Re-run, Show all N and Save as baseline on the
 * report. Each press is a request at the door, judged for whoever pressed it and audited; the answer is private.
 */
export function registerReportActions(app: App, deps: { door: Door; log: Logger }): void {
  for (const actionId of Object.keys(BUTTONS)) {
    app.action<BlockAction<ButtonAction>>(actionId, async ({ ack, action, body, respond, client }) => {
      await ack();
      const press = { user: body.user.id, channel: body.channel?.id ?? '', value: action.value ?? '', responseUrl: body.response_url, messageTs: body.container?.message_ts as string | undefined };
      let reply;
      try {
        const asked = buttonRequest(actionId, press);
        if (!asked) return;
        const answer = await deps.door.answer(asked.request, asked.parse);
        reply = replyTo(answer);
        if (!('error' in answer)) await editWatchAlert(client, answer, press, deps.log);
      } catch (error) {
        deps.log.warn({ event: 'button_failed', action: actionId, message: (error as Error).message });
        reply = { text: errorText('that did not work; try again in a moment') };
      }
      await respond({ response_type: 'ephemeral', replace_original: false, ...reply }).catch((error: Error) =>
        deps.log.warn({ event: 'button_reply_failed', action: actionId, message: error.message }),
      );
    });
  }
}

/**
 * Silence… on a watch's alert: a modal asks how long and why; its submission is a request at the door (`silence`),
 * judged and audited as any other, and the alert then says who silenced it, until when and why. A refusal is said in
 * the modal, under its first field.
 */
export function registerSilence(app: App, deps: { door: Door; log: Logger }): void {
  app.action<BlockAction<ButtonAction>>(WATCH_ACTIONS.silence, async ({ ack, action, body, client }) => {
    await ack();
    const metadata: SilenceMetadata = { watch: action.value ?? '', channel: body.channel?.id ?? '', responseUrl: body.response_url };
    await client.views.open({ trigger_id: body.trigger_id, view: silenceView(metadata.watch, metadata) }).catch((error: Error) =>
      deps.log.warn({ event: 'silence_view_failed', message: error.message }),
    );
  });
  app.view<ViewSubmitAction>(SILENCE_VIEW, async ({ ack, view, body, client }) => {
    let metadata: SilenceMetadata;
    try {
      metadata = JSON.parse(view.private_metadata) as SilenceMetadata;
    } catch {
      await ack({ response_action: 'errors', errors: { silence_for: 'this form does not say which watch to silence' } });
      return;
    }
    const values = view.state.values;
    const forMs = Number(values.silence_for?.for?.selected_option?.value ?? SILENCE_CHOICES[0].value);
    const reason = (values.silence_reason?.reason?.value ?? '').trim();
    const request: DoorRequest = {
      source: 'slack',
      user: body.user.id,
      channel: metadata.channel,
      text: `silence ${metadata.watch}`,
      action: 'silence',
      responseUrl: metadata.responseUrl,
      subject: metadata.watch,
    };
    const answer = await deps.door.answer(request, () => {
      if (!SILENCE_CHOICES.some((c) => Number(c.value) === forMs)) throw new InvalidOptionError('choose how long the silence lasts');
      return { kind: 'silence', id: metadata.watch, forMs, reason };
    });
    if ('error' in answer) {
      await ack({ response_action: 'errors', errors: { silence_for: answer.message.slice(0, 150) } });
      return;
    }
    await ack();
    await editWatchAlert(client, answer, { user: body.user.id, channel: metadata.channel }, deps.log);
  });
}
