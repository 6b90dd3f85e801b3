import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { Logger } from 'pino';
import { isZenSweepError } from '../../core/errors.js';
import { parseSweepText } from '../../core/grammar.js';
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

/** A baseline name from a sweep's targets: `10.0.1.0/24 10.0.2.5` → `base-10.0.1.0-24-10.0.2.5`. */
export function baselineNameFor(targets: readonly string[]): string {
  const name = `base-${targets.join('-')}`.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/-+/g, '-');
  return name.slice(0, 63).replace(/[-.]+$/, '');
}

/** The buttons: Cancel on the running sweep; Re-run, Show all N (of a list cut short) and Save as baseline on the report. */
export function registerReportActions(app: App, deps: ReportActionsDeps): void {
  const { sweeps, dispatcher, history, results, log } = deps;

  app.action<BlockAction<ButtonAction>>(ACTIONS.cancel, async ({ ack, action, body, respond }) => {
    await ack();
    await dispatcher.cancel(action.value ?? '');
    log.info({ event: 'cancel', sweepId: action.value, user: body.user.id });
    await respond({ response_type: 'ephemeral', replace_original: false, text: 'Cancelling: the report will say how far it got.' });
  });

  app.action<BlockAction<ButtonAction>>(ACTIONS.rerun, async ({ ack, action, body, respond }) => {
    await ack();
    const channel = body.channel?.id ?? '';
    const origin = { user: body.user.id, channel, text: action.value ?? '', responseUrl: body.response_url };
    try {
      const reply = await sweeps.sweep(origin, parseSweepText(origin.text));
      await respond({ response_type: 'ephemeral', replace_original: false, text: reply.ack.text });
      await reply.after?.();
    } catch (error) {
      const message = isZenSweepError(error) ? error.message : 'the sweep could not be started; try again in a moment';
      await respond({ response_type: 'ephemeral', replace_original: false, text: errorText(message) });
    }
  });

  const showHosts = async (sweepId: string, state: HostState, respond: (message: object) => Promise<unknown>): Promise<void> => {
    const report = await results.loadReport(sweepId);
    await respond(
      report
        ? { response_type: 'ephemeral', replace_original: false, text: `${STATE_WORDS[state]} hosts`, blocks: hostsBlocks(report, state) }
        : { response_type: 'ephemeral', replace_original: false, text: 'This report is older than a day: its hosts are in the CSV.' },
    );
  };

  app.action<BlockAction<ButtonAction>>(ACTIONS.showHosts, async ({ ack, action, respond }) => {
    await ack();
    const asked = parseShowHosts(action.value ?? '');
    if (!asked) {
      await respond({ response_type: 'ephemeral', replace_original: false, text: 'This button does not say which hosts to show.' });
      return;
    }
    await showHosts(asked.sweepId, asked.state, respond);
  });

  // Reports posted before "Show all N" carry this button.
  app.action<BlockAction<ButtonAction>>(ACTIONS.showSilent, async ({ ack, action, respond }) => {
    await ack();
    await showHosts(action.value ?? '', 'silent', respond);
  });

  app.action<BlockAction<ButtonAction>>(ACTIONS.saveBaseline, async ({ ack, action, body, respond }) => {
    await ack();
    const record = await history.get(action.value ?? '');
    if (!record) {
      await respond({ response_type: 'ephemeral', replace_original: false, text: 'This sweep is no longer in the history.' });
      return;
    }
    const name = baselineNameFor(record.targets);
    await history.saveBaseline(name, record.id, body.user.id);
    await respond({
      response_type: 'ephemeral',
      replace_original: false,
      text: `Saved as baseline \`${name}\`. Compare later with \`/sweep ${record.targets.join(' ')} compare:${name}\`.`,
    });
  });
}
