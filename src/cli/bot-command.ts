import { writeSync } from 'node:fs';
import { commandArgs } from './args.js';
import { captureStrayOutput, createLogger } from '../log.js';
import { redisRemindMs } from '../config-redis.js';
import { RedisConnections } from '../queue/connections.js';
import { slackRefusal } from '../slack/slack-refusal.js';
import { loadBotConfig } from '../slack/config.js';
import { startBot } from '../slack/app.js';
import type { CommandIo } from './sweep-command.js';
import { exitOnRefusal, nextSignal, serviceStart, untilSignal } from './until-signal.js';

export const BOT_USAGE = `usage: zensweep bot

Runs the Slack app: the /sweep command, its buttons, the threaded reports and the watches. Settings come from the
environment (or .env):
  SLACK_BOT_TOKEN       the bot token, xoxb-…                                  required
  SLACK_APP_TOKEN       Socket Mode (no inbound port): the app token, xapp-…, or for HTTP mode:
  SLACK_SIGNING_SECRET  the signing secret, with PORT (3000) and HOST (every interface) for /slack/events
  SLACK_API_URL         Slack's Web API, GovSlack: https://slack-gov.com/api/ (https://slack.com/api/)
  REDIS_URL, or REDIS_SENTINELS with REDIS_SENTINEL_MASTER (and REDIS_SENTINEL_PASSWORD), or REDIS_CLUSTER_NODES;
  REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS_CA, ZENSWEEP_REDIS_REMIND_MS   as for zensweep agent
  ZENSWEEP_POLICY       who may sweep what: JSON or a file path (none: any channel, what the agents cover)
  ZENSWEEP_MAX_SWEEPS_PER_USER   requests one user may have running at once (3)
  ZENSWEEP_MAX_ADDRESSES         most addresses in one sweep (65536)
  ZENSWEEP_DELIVERY_ATTEMPTS     tries of one answer while Slack fails (12)
  ZENSWEEP_LOCK_MS               a delivery's lock without renewal, in ms (30000)
  ZENSWEEP_JOBS_KEPT             finished jobs each queue keeps, at most (the queues' own)
  ZENSWEEP_WATCH_MIN_INTERVAL_MS the shortest interval of a watch, in ms (60000)
  ZENSWEEP_WATCH_MAX_PER_CHANNEL most watches per channel or DM (10)
  ZENSWEEP_WATCH_MAX_PER_USER    most watches per user (20)
  ZENSWEEP_WATCH_MAX_TOTAL       most watches in all (500)
  ZENSWEEP_WATCH_RUN_TIMEOUT_MS  how long a watch run waits for its report, in ms (600000)
  METRICS_PORT          serve /metrics, /healthz (from the start) and /readyz (once Redis and Slack answer) (off)
  METRICS_HOST          the address it listens on (every interface)
  LOG_LEVEL             debug, info, warn or error (info)
Every setting, with its default, is in the README's Configuration table and in .env.example.
On SIGTERM or SIGINT it hands back the report deliveries in progress (the next bot posts them) and exits 0, within
8 s whether Redis and Slack answer or not. If Redis or Slack refuses it (a wrong password or token, an untrusted
certificate) it says why in one line and exits 2.

example: zensweep bot   (SLACK_BOT_TOKEN, SLACK_APP_TOKEN and REDIS_URL set in .env)
`;

/** `zensweep bot`: runs until SIGTERM or SIGINT; deliveries in progress are handed to the next bot. */
export async function botCommand(argv: string[], io: CommandIo): Promise<number> {
  if (commandArgs('bot', argv, {}, { words: false }).values.help) {
    io.stdout.write(BOT_USAGE);
    return 0;
  }
  const config = loadBotConfig(io.env);
  const remindEveryMs = redisRemindMs(io.env);
  // A signal while it starts is kept: the bot stops as soon as it is up.
  const signal = nextSignal();
  const log = createLogger('zensweep-bot');
  captureStrayOutput(log);
  // Resolves once Redis answers, however long that takes, or undefined when a signal comes first; Slack is not waited
  // for, so that a signal while Slack cannot be reached still stops the bot (Socket Mode keeps trying).
  const stopping = new AbortController();
  void signal.then(() => stopping.abort());
  // Redis refused the bot (a wrong password, an untrusted certificate): retrying cannot help; one line, exit 2.
  const connections = new RedisConnections(config.redis, log, { remindEveryMs });
  exitOnRefusal(connections.refused);
  const started = await serviceStart(startBot(config, log, stopping.signal, connections), log);
  if (!started) return 1;
  const bot = started.value;
  if (!bot) {
    await untilSignal(() => Promise.resolve(), signal);
    return 0;
  }
  // Slack refused a token: one line, exit 2, as for Redis.
  exitOnRefusal(bot.refused);
  const failed = bot.connected.then(
    () => new Promise<never>(() => undefined),
    (error: unknown) => ({ error }),
  );
  const first = await Promise.race([signal, failed]);
  if (typeof first === 'object') {
    const refusal = slackRefusal(first.error, 'SLACK_APP_TOKEN');
    if (refusal) {
      await untilSignal(() => bot.stop(), Promise.resolve('SIGTERM'));
      writeSync(2, `zensweep: ${refusal.message}\n`);
      return 2;
    }
    // Slack's requests can never reach it (the port is taken): one JSON line, exit 1.
    log.fatal({ event: 'start_failed', err: first.error });
    await untilSignal(() => bot.stop(), Promise.resolve('SIGTERM'));
    return 1;
  }
  await untilSignal(() => bot.stop(), signal);
  return 0;
}
