import type { App } from '@slack/bolt';
import type { Logger } from 'pino';
import { isZenSweepError } from '../../core/errors.js';
import { errorText } from '../render/replies.js';
import type { SlackSweeps } from '../sweeps.js';

/** `/sweep …`: answered privately at once (well within Slack's 3 s), then the sweep starts. */
export function registerSweepCommand(app: App, sweeps: SlackSweeps, log: Logger): void {
  app.command('/sweep', async ({ command, ack, respond }) => {
    let reply;
    try {
      reply = await sweeps.handle({
        user: command.user_id,
        channel: command.channel_id,
        text: command.text,
        responseUrl: command.response_url,
        triggerId: command.trigger_id,
      });
    } catch (error) {
      log.error({ event: 'command_failed', message: (error as Error).message });
      await ack({ response_type: 'ephemeral', text: errorText('something went wrong on our side; try again in a moment') });
      return;
    }
    await ack(reply.ack);
    if (!reply.after) return;
    try {
      await reply.after();
    } catch (error) {
      const message = isZenSweepError(error) ? error.message : 'the sweep could not be started; try again in a moment';
      log.warn({ event: 'sweep_start_failed', message: (error as Error).message });
      await respond({ response_type: 'ephemeral', replace_original: false, text: errorText(message) }).catch(() => undefined);
    }
  });
}
