import type { App, BlockAction, ButtonAction } from '@slack/bolt';
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
};

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
    app.action<BlockAction<ButtonAction>>(actionId, async ({ ack, action, body, respond }) => {
      await ack();
      const press = { user: body.user.id, channel: body.channel?.id ?? '', value: action.value ?? '', responseUrl: body.response_url };
      let reply;
      try {
        const asked = buttonRequest(actionId, press);
        if (!asked) return;
        reply = replyTo(await deps.door.answer(asked.request, asked.parse));
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
