import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { KnownBlock } from '@slack/types';
import type { Logger } from 'pino';
import { isZenSweepError } from '../../core/errors.js';
import type { Dispatcher } from '../../queue/dispatcher.js';
import type { HistoryStore } from '../../queue/history.js';
import type { ResultStore } from '../../queue/results.js';
import type { HostState } from '../../core/states.js';
import { ACTIONS, hostsBlocks, parseShowHosts } from '../../views/blocks.js';
import { STATE_WORDS } from '../../views/words.js';
import { errorText } from '../render/replies.js';
import type { SlackSweeps } from '../sweeps.js';

export interface ReportActionsDeps {
  sweeps: SlackSweeps;
  dispatcher: Dispatcher;
  history: HistoryStore;
  results: ResultStore;
  log: Logger;
}

/** A button pressed: by whom, where, on what (the button's value: a sweep id, or a sweep's text for Re-run). */
export interface ButtonPress {
  user: string;
  channel: string;
  value: string;
  responseUrl: string;
}

/** The private answer to a press; `after` is the work that follows it (Re-run starts its sweep). */
export interface ButtonReply {
  text: string;
  blocks?: KnownBlock[];
  after?: () => Promise<void>;
}

/** A baseline name from a sweep's targets: `10.0.1.0/24 10.0.2.5` → `base-10.0.1.0-24-10.0.2.5`. */
export function baselineNameFor(targets: readonly string[]): string {
  const name = `base-${targets.join('-')}`.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/-+/g, '-');
  return name.slice(0, 63).replace(/[-.]+$/, '');
}

/**
 * What the buttons do, apart from Bolt. Each press is a request: checked against the policy for whoever pressed it,
 * where they pressed it, as if they had asked for that sweep, and written to the audit trail. A refusal is an
 * error with the policy's reason, and nothing is done.
 */
export class ReportButtons {
  constructor(private readonly deps: ReportActionsDeps) {}

  async cancel(press: ButtonPress): Promise<ButtonReply> {
    await this.deps.sweeps.authorizeButton('cancel', press.user, press.channel, press.value);
    await this.deps.dispatcher.cancel(press.value);
    return { text: 'Cancelling: the report will say how far it got.' };
  }

  /** The sweep's text again, as a new sweep from whoever pressed it (the policy is checked on its new plan). */
  async rerun(press: ButtonPress): Promise<ButtonReply> {
    const reply = await this.deps.sweeps.rerun({ user: press.user, channel: press.channel, text: press.value, responseUrl: press.responseUrl });
    return { text: reply.ack.text, after: reply.after };
  }

  /** "Show all N unreachable": every host of one state of a report whose list was cut short. */
  async showHosts(press: ButtonPress): Promise<ButtonReply> {
    const asked = parseShowHosts(press.value);
    if (!asked) return { text: 'This button does not say which hosts to show.' };
    await this.deps.sweeps.authorizeButton('show_hosts', press.user, press.channel, asked.sweepId);
    return this.hostsOf(asked.sweepId, asked.state);
  }

  /** "Show silent hosts", the button of reports posted before "Show all N": its value is the sweep id. */
  async showSilent(press: ButtonPress): Promise<ButtonReply> {
    await this.deps.sweeps.authorizeButton('show_silent', press.user, press.channel, press.value);
    return this.hostsOf(press.value, 'silent');
  }

  private async hostsOf(sweepId: string, state: HostState): Promise<ButtonReply> {
    const report = await this.deps.results.loadReport(sweepId);
    return report
      ? { text: `${STATE_WORDS[state]} hosts`, blocks: hostsBlocks(report, state) }
      : { text: 'This report is older than a day: its hosts are in the CSV.' };
  }

  async saveBaseline(press: ButtonPress): Promise<ButtonReply> {
    await this.deps.sweeps.authorizeButton('save_baseline', press.user, press.channel, press.value);
    const record = await this.deps.history.get(press.value);
    if (!record) return { text: 'This sweep is no longer in the history.' };
    const name = baselineNameFor(record.targets);
    // The pressing channel's own baseline: another channel's of the same name is left as it is.
    await this.deps.history.saveBaseline(press.channel, name, record.id, press.user);
    return {
      text: `Saved as baseline \`${name}\`. Compare later with \`/sweep ${record.targets.join(' ')} compare:${name}\` in this channel (its baselines are its own).`,
    };
  }
}

/** The buttons: Cancel on the running sweep; Re-run, Show all N (of a list cut short) and Save as baseline on the report. */
export function registerReportActions(app: App, deps: ReportActionsDeps): void {
  const buttons = new ReportButtons(deps);
  const handlers: [string, (press: ButtonPress) => Promise<ButtonReply>][] = [
    [ACTIONS.cancel, (p) => buttons.cancel(p)],
    [ACTIONS.rerun, (p) => buttons.rerun(p)],
    [ACTIONS.showHosts, (p) => buttons.showHosts(p)],
    [ACTIONS.showSilent, (p) => buttons.showSilent(p)],
    [ACTIONS.saveBaseline, (p) => buttons.saveBaseline(p)],
  ];
  for (const [actionId, handle] of handlers) {
    app.action<BlockAction<ButtonAction>>(actionId, async ({ ack, action, body, respond }) => {
      await ack();
      const press = { user: body.user.id, channel: body.channel?.id ?? '', value: action.value ?? '', responseUrl: body.response_url };
      try {
        const reply = await handle(press);
        await respond({ response_type: 'ephemeral', replace_original: false, text: reply.text, blocks: reply.blocks });
        await reply.after?.();
      } catch (error) {
        deps.log.info({ event: 'button_failed', action: actionId, user: press.user, message: (error as Error).message });
        const message = isZenSweepError(error) ? error.message : 'that did not work; try again in a moment';
        await respond({ response_type: 'ephemeral', replace_original: false, text: errorText(message) });
      }
    });
  }
}
