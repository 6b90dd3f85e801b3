import { App, LogLevel, SocketModeReceiver } from '@slack/bolt';
import type { Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from 'pino';
import { WebClient } from '@slack/web-api';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { BotMetrics } from '../metrics/bot-metrics.js';
import { MetricsServer, redisReadiness } from '../metrics/server.js';
import type { ReadinessCheck } from '../metrics/server.js';
import { countingFetch } from '../metrics/slack-fetch.js';
import { RedisConnections } from '../queue/connections.js';
import { bullmq } from '../queue/load.js';
import { Dispatcher } from '../queue/dispatcher.js';
import { HistoryStore } from '../queue/history.js';
import { KEY_PREFIX, sweepQueueName } from '../queue/names.js';
import { moveOldKeys } from '../queue/key-layout.js';
import { logBadRecords } from '../queue/records.js';
import { AgentRegistry } from '../queue/registry.js';
import { WATCH_QUEUE, WatchStore } from '../queue/watch-store.js';
import { ResultStore } from '../queue/results.js';
import { retention } from '../queue/retention.js';
import { Shutdown } from '../shutdown.js';
import { AuditTrail } from '../door/audit.js';
import { Door } from '../door/door.js';
import { Judge } from '../door/policy.js';
import { RequestRecords } from '../door/requests.js';
import { RequestSlots } from '../door/slots.js';
import { BotIdentity } from './bot-identity.js';
import { SlackStore } from './store.js';
import type { BotConfig } from './config.js';
import { registerReportActions, registerSilence } from './actions/report-actions.js';
import { HomeViewers, refreshHome, registerHome } from './home.js';
import { WatchSeries } from '../queue/watch-series.js';
import { registerSweepCommand } from './commands/sweep.js';
import { DELIVERY_QUEUE } from './delivery/jobs.js';
import { SlackStarter } from './delivery/starter.js';
import { PostedMessages } from './delivery/posted.js';
import { deliveryProcessor } from './delivery/worker.js';
import { HostJobs } from '../queue/host-jobs.js';
import { JobWatcher } from '../queue/job-watcher.js';
import { SlackUsergroups } from './users.js';
import { watchProcessor } from './watches/runner.js';
import type { WatchAccess } from './watches/runner.js';

/** Bolt's and the Web API's own logs, through pino, at warn and above: one line per event, never a payload. */
function slackLogger(log: Logger): SlackLogger {
  const text = (args: unknown[]): string => args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ').slice(0, 500);
  return {
    debug: () => undefined,
    info: () => undefined,
    // The client's "http request failed" names neither method nor URL: its transport logs each failed request with
    // both (slack_api_failed, countingFetch).
    warn: (...args: unknown[]) => {
      if (args[0] !== 'http request failed') log.warn({ event: 'slack', message: text(args) });
    },
    error: (...args: unknown[]) => log.error({ event: 'slack', message: text(args) }),
    setLevel: () => undefined,
    getLevel: () => LogLevel.WARN,
    setName: () => undefined,
  };
}

/** How long a good answer from Slack keeps /readyz from asking again, in ms (auth.test is rate limited). */
const SLACK_READY_CACHE_MS = 10_000;

/**
 * The Slack check of /readyz: Slack's requests can reach the bot (`connected()`: HTTP mode listening, Socket Mode
 * connected), and auth.test answers with this token, asked without retries, remembered a while.
 */
function slackReadiness(client: WebClient, connected: () => string | undefined): ReadinessCheck {
  let goodUntil = 0;
  return {
    name: 'slack',
    async check() {
      const notConnected = connected();
      if (notConnected !== undefined) throw new Error(notConnected);
      if (Date.now() < goodUntil) return;
      await client.auth.test().catch((error: unknown) => {
        const code = (error as { data?: { error?: unknown } }).data?.error;
        throw new Error(typeof code === 'string' ? `auth.test answered ${code}` : `Slack did not answer (${(error as Error).message})`);
      });
      goodUntil = Date.now() + SLACK_READY_CACHE_MS;
    },
  };
}

/** Socket Mode: the longest wait between two tries of apps.connections.open while Slack cannot be reached, in ms. */
const SOCKET_RETRY_MAX_MS = 30_000;
/** On stop, how long deliveries in progress get to be handed back to Redis (the next bot posts them), in ms. */
const HAND_BACK_MS = 3000;
/** On stop, how long Bolt gets to close its HTTP server or its Socket Mode connection, in ms. */
const SLACK_STOP_MS = 2000;
/** On stop, how long the queues get to close, in ms. */
const QUEUES_STOP_MS = 1000;

export interface Bot {
  /** HTTP mode: the port it listens on; Socket Mode: undefined. */
  port?: number;
  /**
   * Resolves once Slack's requests reach the bot (HTTP mode: listening; Socket Mode: connected, which waits as long
   * as Slack cannot be reached); rejects when they never will (the port is taken, Slack refused the app token).
   */
  readonly connected: Promise<void>;
  /** Resolves when Slack says the bot token will never work (invalid_auth, token_revoked…). */
  readonly refused: Promise<Error>;
  /** Hands back deliveries in progress and stops, within 7 s whether Redis and Slack answer or not, connected or not. */
  stop(): Promise<void>;
}

/** Resolves true once `redis` is connected (at once if it is), false if `stopping` aborts first. */
function untilReady(redis: Redis, stopping?: AbortSignal): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const ready = (): void => {
      stopping?.removeEventListener('abort', stop);
      resolve(true);
    };
    const stop = (): void => {
      redis.off('ready', ready);
      resolve(false);
    };
    if (stopping?.aborted) return resolve(false);
    redis.once('ready', ready);
    stopping?.addEventListener('abort', stop, { once: true });
  });
}

/**
 * `zensweep bot`: the only process that holds Slack tokens. Bolt carries requests (HTTP with the signing secret, or
 * Socket Mode with the app token); the listeners in commands/ and actions/ hold the logic; report deliveries are
 * BullMQ jobs, so a report is delivered even when Slack fails for a while or the bot restarts mid-sweep.
 *
 * Resolves once Redis answers (it waits for as long as it does not), or undefined when `stopRequested` aborts first;
 * it does not wait for Slack (see {@link Bot.connected}). The operators' port is served from the start.
 */
export async function startBot(
  config: BotConfig,
  log: Logger,
  stopRequested?: AbortSignal,
  // ioredis reconnects by itself; an outage is logged once by RedisConnections, not by every connection.
  connections = new RedisConnections(config.redis, log),
): Promise<Bot | undefined> {
  const logger = slackLogger(log);
  // A record in Redis that fails its schema is one JSON line of the log (the default is a plain line on stderr).
  const onBadRecord = logBadRecords(log);
  // The sweep queues whose depth the metrics report, one per group seen, closed at shutdown.
  const groupQueues = new Map<string, Queue>();
  // Set once connected: the metrics and /readyz answer before, from the first second (a liveness probe must not
  // restart a bot that waits for Redis or Slack).
  const redisOf: { main?: Redis; worker?: Redis } = {};
  /** Why Slack's requests cannot reach the bot yet, or undefined once they can. */
  let slackDown: string | undefined = config.appToken ? 'Socket Mode not connected yet' : 'not listening yet';
  const metrics = new BotMetrics({
    connections: () => [redisOf.main, redisOf.worker].filter((c): c is Redis => c !== undefined),
    agents: async () => (redisOf.main ? new AgentRegistry(redisOf.main, KEY_PREFIX, onBadRecord).list() : []),
    queueOf: (group) => {
      let queue = groupQueues.get(group);
      if (!queue) {
        // Only asked for a group the registry listed: Redis is connected by then.
        if (!redisOf.main) throw new Error('Redis is not connected yet');
        queue = new bullmq.Queue(sweepQueueName(group), { connection: redisOf.main, defaultJobOptions: retention('chunks', config.jobsKept) });
        queue.on('error', connections.errorLogger('queue_error', { queue: queue.name }));
        groupQueues.set(group, queue);
      }
      return queue;
    },
  });
  const fetch = countingFetch(metrics, config.slackApiUrl, { log });
  const clientOptions = { slackApiUrl: config.slackApiUrl, fetch };
  // First: /healthz answers while the bot waits for Redis or Slack, and /readyz says which it waits for.
  const metricsServer =
    config.metricsPort === undefined
      ? undefined
      : await MetricsServer.start({
          port: config.metricsPort,
          host: config.metricsHost,
          registry: metrics.registry,
          checks: [
            {
              name: 'redis',
              check: () => (redisOf.main ? redisReadiness(redisOf.main).check() : Promise.reject(new Error('not connected yet'))),
            },
            slackReadiness(
              new WebClient(config.botToken, { slackApiUrl: config.slackApiUrl, fetch, retryConfig: { retries: 0 }, timeout: 2000, logger }),
              () => slackDown,
            ),
          ],
          log,
        });
  // Like the agent, the bot waits for Redis (reconnecting, the outage logged once by RedisConnections) rather than
  // exiting: a stop meanwhile ends the wait.
  const redis = connections.open();
  redisOf.main = redis;
  if (!(await untilReady(redis, stopRequested))) {
    const shutdown = new Shutdown();
    await shutdown.step('metrics', 1000, metricsServer?.close());
    await connections.close(0);
    log.info({ event: 'bot_stopped', unfinished: shutdown.unfinished, started: false });
    return undefined;
  }
  const workerConnection = connections.open();
  redisOf.worker = workerConnection;
  // The bot's client for everything but Bolt's own listener arguments (Bolt, given no token, has none of its own).
  const client = new WebClient(config.botToken, { ...clientOptions, logger });
  // Bolt's authorization never waits on the Web API (given the token, it awaits auth.test for every request, so a
  // Web API down, slow or rate limited left every command un-acked: a 404 after 3 s). The bot's ids come later.
  const identity = new BotIdentity(
    config.botToken,
    new WebClient(config.botToken, { ...clientOptions, logger, retryConfig: { retries: 0 }, timeout: 5000, rejectRateLimitedCalls: true }),
    log,
  );
  // apps.connections.open is retried for as long as Slack cannot be reached (Socket Mode's own default: 100 tries,
  // each 1.3 times longer, which waits over an hour between tries after a long outage); at most every 30 s, so that
  // the bot connects within 30 s of Slack coming back.
  const socketRetries = { retries: 10_000, factor: 1.3, maxTimeout: SOCKET_RETRY_MAX_MS };
  const receiver = config.appToken
    ? new SocketModeReceiver({ appToken: config.appToken, logger, installerOptions: { clientOptions: { ...clientOptions, retryConfig: socketRetries } } })
    : undefined;
  // Socket Mode reconnects by itself: /readyz follows the connection, not only the first one.
  receiver?.client.on('connected', () => (slackDown = undefined));
  for (const state of ['connecting', 'reconnecting', 'disconnected', 'close']) {
    receiver?.client.on(state, () => (slackDown = `Socket Mode not connected (${state})`));
  }
  const app = receiver
    ? new App({ authorize: identity.authorize, logger, clientOptions, receiver })
    : new App({
        authorize: identity.authorize,
        signingSecret: config.signingSecret,
        logger,
        clientOptions,
        port: config.port,
      });
  identity.learn();

  // The bot's only size cap: applied to the plan, after the policy.
  // One QueueEvents per queue for every report, trace and diag waited on: connections do not grow with the waits.
  const watcher = new JobWatcher({ connection: redis, onError: connections.errorLogger('queue_error') });
  const dispatcher = new Dispatcher({
    connection: redis,
    maxAddresses: config.maxAddresses,
    onBadRecord,
    onError: connections.errorLogger('queue_error'),
    watcher,
    jobsKept: config.jobsKept,
  });
  const history = new HistoryStore(redis, { onBadRecord });
  const results = new ResultStore(redis, KEY_PREFIX, onBadRecord);
  const audit = new AuditTrail(redis, log, KEY_PREFIX, (entry) => metrics.audited(entry.outcome));
  const store = new SlackStore(redis);
  const deliveries = new bullmq.Queue(DELIVERY_QUEUE, { connection: redis, defaultJobOptions: retention('deliveries', config.jobsKept) });
  deliveries.on('error', connections.errorLogger('queue_error', { queue: DELIVERY_QUEUE }));
  const watchRetention = retention('watchRuns', config.jobsKept);
  const watchQueue = new bullmq.Queue(WATCH_QUEUE, { connection: redis, defaultJobOptions: watchRetention });
  watchQueue.on('error', connections.errorLogger('queue_error', { queue: WATCH_QUEUE }));
  const watchStore = new WatchStore(redis, watchQueue, KEY_PREFIX, onBadRecord, watchRetention);
  const watchSeries = new WatchSeries(redis);
  // Keys an older version wrote under names without a hash tag: under their names now.
  const moved = await moveOldKeys(redis);
  // Watches made by an older version: counted by the caps, removable by id, scheduled on the tagged queue, their runs
  // kept as long as the above.
  const upgraded = await watchStore.upgrade();
  const unowned = await history.expireUnownedBaselines();
  if (moved + upgraded + unowned > 0) log.info({ event: 'redis_upgraded', keysRenamed: moved, watches: upgraded, unownedBaselines: unowned });
  const hostJobs = new HostJobs(redis, { watcher, onError: connections.errorLogger('queue_error'), onBadRecord, jobsKept: config.jobsKept });
  const slots = new RequestSlots(redis, config.maxSweepsPerUser);
  // Read before a request is judged: bounded, so a Web API down refuses it in seconds rather than in half an hour.
  const usergroups = new SlackUsergroups(new WebClient(config.botToken, { ...clientOptions, logger, retryConfig: { retries: 1 }, timeout: 5000 }), config.policy);
  // Every request from Slack passes this one door: parse, requester, policy, limits, audit, answer, durable start.
  const door = new Door({
    policy: config.policy,
    audit,
    slots,
    requests: new RequestRecords(redis, KEY_PREFIX, onBadRecord),
    usergroupsOf: (user) => usergroups.of(user),
    services: {
      dispatcher,
      history,
      results,
      hostJobs,
      start: new SlackStarter(deliveries, store, config.deliveryAttempts, config.jobsKept),
      watches: {
        store: watchStore,
        series: watchSeries,
        minIntervalMs: config.watchMinIntervalMs,
        caps: { perChannel: config.watchMaxPerChannel, perUser: config.watchMaxPerUser, total: config.watchMaxTotal },
      },
    },
  });
  registerSweepCommand(app, { door, store, log });
  registerReportActions(app, { door, log });
  registerSilence(app, { door, log });
  const homeViewers = new HomeViewers(redis);
  registerHome(app, { door, log, viewers: homeViewers });
  app.error(async (error) => {
    log.error({ event: 'bolt_error', message: error.message, code: (error as { code?: string }).code });
  });
  // Each watch run is judged again, as the watch was when it was made: the same policy, on its new plan.
  const access: WatchAccess = {
    requester: async (user, channel) => ({ user, channel, usergroups: await usergroups.of(user) }),
    plan: async (who, request) => (await new Judge(config.policy, who).probe(request, (authorize) => dispatcher.plan(request, authorize))).value,
  };

  const worker = new bullmq.Worker(DELIVERY_QUEUE, deliveryProcessor({ client, store, dispatcher, hostJobs, audit, slots, log, posted: new PostedMessages(client, log) }), {
    connection: workerConnection,
    // Deliveries mostly wait for their sweep: many at once cost little.
    concurrency: 100,
    lockDuration: config.lockMs,
    stalledInterval: config.lockMs,
  });
  worker.on('failed', (job, error) => {
    log.warn({ event: 'delivery_failed', job: job?.id, attempt: job?.attemptsMade, reason: error.message });
    if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) metrics.sweep('failed');
  });
  worker.on('error', connections.errorLogger('worker_error'));
  // Notices are tried once a run: a client that waits out 429s and retries 5xx would hold the run (and its sweep).
  const noticeClient = new WebClient(config.botToken, {
    slackApiUrl: config.slackApiUrl,
    fetch,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
    logger,
  });
  const watchWorker = new bullmq.Worker(
    WATCH_QUEUE,
    watchProcessor({
      client: noticeClient,
      store: watchStore,
      dispatcher,
      access,
      results,
      metrics,
      log,
      runTimeoutMs: config.watchRunTimeoutMs,
      series: watchSeries,
      // The creator's Home follows their incidents: published again, in the background, when one opens or ends.
      onIncident: (watch) => void refreshHome(client, { door, log, viewers: homeViewers }, watch.createdBy).catch((error: Error) => log.warn({ event: 'home_publish_failed', message: error.message })),
    }),
    // A run mostly waits for its sweep; runs of one watch never overlap (each holds the watch's lock).
    { connection: workerConnection, concurrency: 20, lockDuration: config.lockMs, stalledInterval: config.lockMs },
  );
  watchWorker.on('failed', (job, error) => log.warn({ event: 'watch_run_failed', job: job?.id, reason: error.message }));
  watchWorker.on('error', connections.errorLogger('worker_error', { queue: WATCH_QUEUE }));

  // HTTP mode listens on HOST (every interface when unset); Socket Mode listens on nothing, and waits for Slack as long
  // as it cannot be reached (see socketRetries): not awaited here, so that a stop meanwhile stops the bot all the same.
  let stopping = false;
  const connected = (config.appToken ? app.start() : app.start({ port: config.port, host: config.host })).then(() => {
    if (!config.appToken) slackDown = undefined;
    if (stopping) return;
    log.info({
      event: 'bot_started',
      mode: config.appToken ? 'socket' : 'http',
      port: config.appToken ? undefined : config.port,
      host: config.appToken ? undefined : (config.host ?? 'all'),
    });
  });
  // Its failure is the caller's to report (start_failed), or nobody's once the bot is stopping: never unhandled.
  connected.catch(() => undefined);
  return {
    port: config.appToken ? undefined : config.port,
    connected,
    refused: identity.refused,
    async stop() {
      stopping = true;
      // Every step is bounded: while Redis is away, closing a worker or a queue waits for it forever (bullmq#4656),
      // and nothing can be handed back anyway.
      const shutdown = new Shutdown();
      const redisMs = (ms: number): number => (connections.down ? 0 : ms);
      // Deliveries still waiting for their sweep are handed back: the next bot picks them up and posts the report.
      worker.cancelAllJobs('shutdown');
      // A watch run in progress is abandoned: the next run, on this bot or another, carries on from Redis.
      watchWorker.cancelAllJobs('shutdown');
      await shutdown.step('deliveries', redisMs(HAND_BACK_MS), Promise.all([worker.close(), watchWorker.close()]));
      await shutdown.step('metrics', 1000, metricsServer?.close());
      await shutdown.step('slack', SLACK_STOP_MS, app.stop());
      const queues = [deliveries, watchQueue, ...groupQueues.values()].map((q) => q.close());
      await shutdown.step('queues', redisMs(QUEUES_STOP_MS), Promise.all([...queues, dispatcher.close(), hostJobs.close(), watcher.close()]));
      await connections.close();
      log.info({ event: 'bot_stopped', unfinished: shutdown.unfinished });
    },
  };
}
