import { App, LogLevel, SocketModeReceiver } from '@slack/bolt';
import type { Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from 'pino';
import { connectRedis } from '../queue/connect.js';
import { bullmq, ioredis } from '../queue/load.js';
import { Dispatcher } from '../queue/dispatcher.js';
import { HistoryStore } from '../queue/history.js';
import { KEY_PREFIX } from '../queue/names.js';
import { logBadRecords } from '../queue/records.js';
import { ResultStore } from '../queue/results.js';
import { AuditTrail } from './audit.js';
import type { BotConfig } from './config.js';
import { registerReportActions } from './actions/report-actions.js';
import { registerSweepCommand } from './commands/sweep.js';
import { deliveryProcessor } from './reporter.js';
import { DELIVERY_QUEUE, SlackSweeps } from './sweeps.js';

/** Bolt's and the Web API's own logs, through pino, at warn and above: one line per event, never a payload. */
function slackLogger(log: Logger): SlackLogger {
  const text = (args: unknown[]): string => args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ').slice(0, 500);
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (...args: unknown[]) => log.warn({ event: 'slack', message: text(args) }),
    error: (...args: unknown[]) => log.error({ event: 'slack', message: text(args) }),
    setLevel: () => undefined,
    getLevel: () => LogLevel.WARN,
    setName: () => undefined,
  };
}

export interface Bot {
  /** HTTP mode: the port it listens on; Socket Mode: undefined. */
  port?: number;
  stop(): Promise<void>;
}

/**
 * `zensweep bot`: the only process that holds Slack tokens. Bolt carries requests (HTTP with the signing secret, or
 * Socket Mode with the app token); the listeners in commands/ and actions/ hold the logic; report deliveries are
 * BullMQ jobs, so a report is delivered even when Slack fails for a while or the bot restarts mid-sweep.
 */
export async function startBot(config: BotConfig, log: Logger): Promise<Bot> {
  const redis = await connectRedis(config.redisUrl);
  redis.on('error', (error: Error) => log.warn({ event: 'redis_error', message: error.message }));
  const logger = slackLogger(log);
  const clientOptions = { slackApiUrl: config.slackApiUrl };
  const app = config.appToken
    ? new App({
        token: config.botToken,
        logger,
        clientOptions,
        receiver: new SocketModeReceiver({ appToken: config.appToken, logger, installerOptions: { clientOptions } }),
      })
    : new App({
        token: config.botToken,
        signingSecret: config.signingSecret,
        logger,
        clientOptions,
        port: config.port,
      });

  // The bot's only size cap: applied to the plan, after the policy.
  const onBadRecord = logBadRecords(log);
  const dispatcher = new Dispatcher({ connection: redis, maxAddresses: config.maxAddresses, onBadRecord });
  const history = new HistoryStore(redis, { onBadRecord });
  const results = new ResultStore(redis, KEY_PREFIX, onBadRecord);
  const audit = new AuditTrail(redis, log);
  const deliveries = new bullmq.Queue(DELIVERY_QUEUE, { connection: redis });
  const sweeps = new SlackSweeps({
    client: app.client,
    redis,
    dispatcher,
    history,
    deliveries,
    audit,
    policy: config.policy,
    maxSweepsPerUser: config.maxSweepsPerUser,
    log,
  });
  registerSweepCommand(app, sweeps, log);
  registerReportActions(app, { sweeps, dispatcher, history, results, log });
  app.error(async (error) => {
    log.error({ event: 'bolt_error', message: error.message, code: (error as { code?: string }).code });
  });

  const workerConnection = new ioredis.Redis(config.redisUrl, { maxRetriesPerRequest: null });
  workerConnection.on('error', () => undefined);
  const worker = new bullmq.Worker(DELIVERY_QUEUE, deliveryProcessor({ client: app.client, redis, dispatcher, audit, log }), {
    connection: workerConnection,
    // Deliveries mostly wait for their sweep: many at once cost little.
    concurrency: 100,
    lockDuration: config.lockMs,
    stalledInterval: config.lockMs,
  });
  worker.on('failed', (job, error) => log.warn({ event: 'delivery_failed', job: job?.id, attempt: job?.attemptsMade, reason: error.message }));
  worker.on('error', (error) => log.warn({ event: 'worker_error', message: error.message }));

  await app.start();
  log.info({ event: 'bot_started', mode: config.appToken ? 'socket' : 'http', port: config.appToken ? undefined : config.port });
  return {
    port: config.appToken ? undefined : config.port,
    async stop() {
      // Deliveries still waiting for their sweep are handed back: the next bot picks them up and posts the report.
      worker.cancelAllJobs('shutdown');
      await worker.close();
      await app.stop();
      await deliveries.close();
      await dispatcher.close();
      workerConnection.disconnect();
      redis.disconnect();
      log.info({ event: 'bot_stopped' });
    },
  };
}
