import type { App } from '@slack/bolt';
import type { Logger } from 'pino';
import { parseCommand } from '../../core/grammar.js';
import type { GrammarLimits } from '../../core/grammar.js';
import type { Door } from '../../door/door.js';
import type { DoorRequest } from '../../door/kind.js';
import { escapeText } from '../../views/blocks.js';
import { replyTo } from '../answers.js';
import type { Reply } from '../answers.js';
import { errorText } from '../render/replies.js';
import type { SlackStore } from '../store.js';

/**
 * How the bot parses a command: without the size cap, which the plan applies after the policy (the dispatcher has
 * the cap), so that a channel the policy restricts hears the policy's reason and nothing about sizes or agents.
 */
export const PARSE_LIMITS: GrammarLimits = { maxAddresses: Number.MAX_SAFE_INTEGER };

/**
 * How long the answer may take before the ack goes without it, in ms: Slack wants the ack within 3 s, and a
 * request that needs Slack itself (a policy naming user groups) or Redis just back may take longer.
 */
export const ACK_WITHIN_MS = 2000;

export interface SweepCommandDeps {
  door: Door;
  store: SlackStore;
  log: Logger;
  /** Default {@link ACK_WITHIN_MS}. */
  ackWithinMs?: number;
}

/**
 * `/sweep …`: every request passes the door, and its answer is the ack, privately, when it comes in time. When it
 * does not, the ack says it is being worked on and the answer follows through response_url: the ack never waits
 * on the Web API, Redis or the policy.
 */
export function registerSweepCommand(app: App, deps: SweepCommandDeps): void {
  const { door, store, log } = deps;
  app.command('/sweep', async ({ command, ack, respond }) => {
    const request: DoorRequest = {
      source: 'slack',
      user: command.user_id,
      channel: command.channel_id,
      text: command.text,
      responseUrl: command.response_url,
    };
    const answering = (async (): Promise<Reply> => {
      try {
        // Slack sends a slash command again when it thinks the first was lost: it is answered once.
        if (command.trigger_id && !(await store.firstRequest(command.trigger_id))) return { text: 'This request is already being handled.' };
        return replyTo(await door.answer(request, () => parseCommand(command.text, PARSE_LIMITS)));
      } catch (error) {
        log.error({ event: 'command_failed', message: (error as Error).message });
        return { text: errorText('something went wrong on our side; try again in a moment') };
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), deps.ackWithinMs ?? ACK_WITHIN_MS)));
    const early = await Promise.race([answering, late]);
    clearTimeout(timer);
    if (early) {
      await ack({ response_type: 'ephemeral', ...early });
      return;
    }
    await ack({ response_type: 'ephemeral', text: `Working on \`${escapeText(command.text.trim() || 'help')}\`…` });
    const reply = await answering;
    await respond({ response_type: 'ephemeral', replace_original: false, ...reply }).catch((error: Error) =>
      log.warn({ event: 'late_answer_failed', message: error.message }),
    );
  });
}
