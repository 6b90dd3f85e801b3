import { commandArgs } from './args.js';
import { captureStrayOutput, createLogger } from '../log.js';
import { RedisConnections } from '../queue/connections.js';
import { loadBotConfig } from '../slack/config.js';
import { startBot } from '../slack/app.js';
import type { CommandIo } from './sweep-command.js';
import { exitOnRefusal, nextSignal, serviceStart, untilSignal } from './until-signal.js';

export const BOT_USAGE = `usage: zensweep bot

Runs the Slack app: the /sweep command, its buttons, and the threaded reports. Settings come from the
environment (see .env.example): SLACK_BOT_TOKEN, and SLACK_APP_TOKEN for Socket Mode (no inbound port) or
SLACK_SIGNING_SECRET and PORT for HTTP mode (/slack/events, on every interface unless HOST names one address);
REDIS_URL (or REDIS_SENTINELS and REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES; REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS_CA); SLACK_API_URL for GovSlack; METRICS_PORT to serve /metrics, /healthz (from the start, while it waits for
Redis or Slack) and /readyz (once both answer) (METRICS_HOST: on that address only).
On SIGTERM or SIGINT it hands back the report deliveries in progress (the next bot posts them) and exits 0, within
8 s whether Redis and Slack answer or not. If Redis refuses it (a wrong password, an untrusted certificate) it says
why in one line and exits 2.

example: zensweep bot   (SLACK_BOT_TOKEN, SLACK_APP_TOKEN and REDIS_URL set in .env)
`;

/** `zensweep bot`: runs until SIGTERM or SIGINT; deliveries in progress are handed to the next bot. */
export async function botCommand(argv: string[], io: CommandIo): Promise<number> {
  if (commandArgs('bot', argv, {}, { words: false }).values.help) {
    io.stdout.write(BOT_USAGE);
    return 0;
  }
  const config = loadBotConfig(io.env);
  // A signal while it starts is kept: the bot stops as soon as it is up.
  const signal = nextSignal();
  const log = createLogger('zensweep-bot');
  captureStrayOutput(log);
  // Resolves once Redis answers, however long that takes, or undefined when a signal comes first; Slack is not waited
  // for, so that a signal while Slack cannot be reached still stops the bot (Socket Mode keeps trying).
  const stopping = new AbortController();
  void signal.then(() => stopping.abort());
  // Redis refused the bot (a wrong password, an untrusted certificate): retrying cannot help; one line, exit 2.
  const connections = new RedisConnections(config.redis, log);
  exitOnRefusal(connections.refused);
  const started = await serviceStart(startBot(config, log, stopping.signal, connections), log);
  if (!started) return 1;
  const bot = started.value;
  if (!bot) {
    await untilSignal(() => Promise.resolve(), signal);
    return 0;
  }
  const failed = bot.connected.then(
    () => new Promise<never>(() => undefined),
    (error: unknown) => ({ error }),
  );
  const first = await Promise.race([signal, failed]);
  if (typeof first === 'object') {
    // Slack's requests can never reach it (the port is taken, the app token refused): one JSON line, exit 1.
    log.fatal({ event: 'start_failed', err: first.error });
    await untilSignal(() => bot.stop(), Promise.resolve('SIGTERM'));
    return 1;
  }
  await untilSignal(() => bot.stop(), signal);
  return 0;
}
