import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { boundedInt, listenHost, parseEnvironment } from '../config-env.js';
import { redisTargetFromEnv, type RedisTarget } from '../config-redis.js';
import { DEFAULT_MAX_ADDRESSES } from '../core/grammar.js';
import { SWEEP_LIMITS } from '../core/request.js';
import { parsePolicy } from '../door/policy.js';
import { DELIVERY_ATTEMPTS } from './delivery/jobs.js';
import type { Policy } from '../door/policy.js';

const schema = z.object({
  SLACK_BOT_TOKEN: z
    .string({ error: 'is required: the bot token (xoxb-…) from your Slack app’s OAuth & Permissions page' })
    .trim()
    .refine((t) => t.startsWith('xoxb-'), 'must be a bot token, starting with xoxb-'),
  SLACK_SIGNING_SECRET: z.string().trim().min(1).optional(),
  SLACK_APP_TOKEN: z
    .string()
    .trim()
    .refine((t) => t.startsWith('xapp-'), 'must be an app-level token, starting with xapp- (connections:write)')
    .optional(),
  SLACK_API_URL: z.string().trim().url('must be a URL, e.g. https://slack.com/api/').optional(),
  PORT: z.string().trim().regex(/^\d+$/, 'must be a port number').optional(),
  HOST: z.string().optional(),
  ZENSWEEP_POLICY: z.string().trim().optional(),
  ZENSWEEP_MAX_SWEEPS_PER_USER: z.string().trim().regex(/^\d+$/, 'must be a whole number').optional(),
  ZENSWEEP_MAX_ADDRESSES: z.string().trim().regex(/^\d+$/, 'must be a whole number').optional(),
  ZENSWEEP_LOCK_MS: z.string().trim().regex(/^\d+$/, 'must be a whole number of milliseconds').optional(),
  METRICS_PORT: z.string().trim().regex(/^\d+$/, 'must be a port number').optional(),
  METRICS_HOST: z.string().optional(),
  ZENSWEEP_WATCH_MIN_INTERVAL_MS: z.string().trim().regex(/^\d+$/, 'must be a whole number of milliseconds').optional(),
  ZENSWEEP_WATCH_MAX_PER_CHANNEL: z.string().trim().regex(/^\d+$/, 'must be a whole number').optional(),
  ZENSWEEP_WATCH_MAX_PER_USER: z.string().trim().regex(/^\d+$/, 'must be a whole number').optional(),
  ZENSWEEP_WATCH_MAX_TOTAL: z.string().trim().regex(/^\d+$/, 'must be a whole number').optional(),
  ZENSWEEP_JOBS_KEPT: z.string().trim().regex(/^\d+$/, 'must be a whole number of jobs').optional(),
  ZENSWEEP_WATCH_RUN_TIMEOUT_MS: z.string().trim().regex(/^\d+$/, 'must be a whole number of milliseconds').optional(),
  ZENSWEEP_DELIVERY_ATTEMPTS: z.string().trim().regex(/^\d+$/, 'must be a whole number').optional(),
});

/** The bot's settings, from its environment, checked once at start. Tokens are kept here and nowhere else. */
export interface BotConfig {
  botToken: string;
  /** HTTP mode only: verifies that requests come from Slack. */
  signingSecret?: string;
  /** When set, Socket Mode: no inbound port. */
  appToken?: string;
  /** Slack's Web API base, default https://slack.com/api/ (GovSlack: https://slack-gov.com/api/). */
  slackApiUrl: string;
  /** HTTP mode: port of /slack/events, default 3000. */
  port: number;
  /** HTTP mode: address /slack/events listens on (HOST), an IP address or a host name; default every interface. */
  host?: string;
  /** Where Redis is and how to sign in (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES; REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS_CA). */
  redis: RedisTarget;
  policy: Policy;
  /** Sweeps one user may have running at once, default 3. */
  maxSweepsPerUser: number;
  /** Most addresses in one sweep, default 65,536. */
  maxAddresses: number;
  /** How long a report delivery's lock lasts, in ms (a bot that died hands it over after this), default 30,000. */
  lockMs: number;
  /** Port of /metrics, /healthz and /readyz (METRICS_PORT); none when unset. */
  metricsPort?: number;
  /** Address the metrics port listens on (METRICS_HOST), an IP address or a host name; default every interface. */
  metricsHost?: string;
  /** Shortest interval a watch may run at, in ms (ZENSWEEP_WATCH_MIN_INTERVAL_MS), default 60,000. */
  watchMinIntervalMs: number;
  /** Most watches one channel (or DM) may have (ZENSWEEP_WATCH_MAX_PER_CHANNEL), default 10. */
  watchMaxPerChannel: number;
  /** Most watches one user may have made, in all channels and DMs (ZENSWEEP_WATCH_MAX_PER_USER), default 20. */
  watchMaxPerUser: number;
  /** Most watches in all (ZENSWEEP_WATCH_MAX_TOTAL), default 500: each runs a sweep every interval. */
  watchMaxTotal: number;
  /**
   * Finished jobs each queue keeps at most, completed and failed each (ZENSWEEP_JOBS_KEPT): lowers the figures of
   * src/queue/retention.ts (200 to 2,000 by queue), never raises them; default: those figures.
   */
  jobsKept?: number;
  /**
   * Longest a watch run waits for its sweep's report, in ms (ZENSWEEP_WATCH_RUN_TIMEOUT_MS), default 600,000: a
   * run whose agent died mid-sweep concludes nothing after this long, and its sweep is cancelled.
   */
  watchRunTimeoutMs: number;
  /**
   * Tries of one delivery (ZENSWEEP_DELIVERY_ATTEMPTS), default 12: about 35 minutes of backoff from 1 s while Slack
   * fails, after which the request ends without its answer (said on its parent message where it can be).
   */
  deliveryAttempts: number;
}

/** Reads the bot's environment; throws ConfigError naming the first bad variable, never echoing a secret. */
export function loadBotConfig(env: NodeJS.ProcessEnv = process.env): BotConfig {
  const data = parseEnvironment(schema, env);
  const redis = redisTargetFromEnv(env);
  if (!data.SLACK_APP_TOKEN && !data.SLACK_SIGNING_SECRET) {
    throw new ConfigError(
      'SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode, which needs no inbound port)',
    );
  }
  let policyText: string | undefined = data.ZENSWEEP_POLICY;
  if (policyText && !policyText.startsWith('{')) {
    try {
      policyText = readFileSync(policyText, 'utf8');
    } catch (error) {
      throw new ConfigError(`ZENSWEEP_POLICY: cannot read ${data.ZENSWEEP_POLICY}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  return {
    botToken: data.SLACK_BOT_TOKEN,
    signingSecret: data.SLACK_SIGNING_SECRET,
    appToken: data.SLACK_APP_TOKEN,
    slackApiUrl: data.SLACK_API_URL ?? 'https://slack.com/api/',
    port: boundedInt(data.PORT, 3000, 'PORT', 1, 65_535),
    host: listenHost(data.HOST, 'HOST'),
    redis,
    policy: parsePolicy(policyText),
    maxSweepsPerUser: boundedInt(data.ZENSWEEP_MAX_SWEEPS_PER_USER, 3, 'ZENSWEEP_MAX_SWEEPS_PER_USER', 1, 1000),
    maxAddresses: boundedInt(data.ZENSWEEP_MAX_ADDRESSES, DEFAULT_MAX_ADDRESSES, 'ZENSWEEP_MAX_ADDRESSES', 1, SWEEP_LIMITS.addresses.max),
    lockMs: boundedInt(data.ZENSWEEP_LOCK_MS, 30_000, 'ZENSWEEP_LOCK_MS', 1000, 600_000),
    metricsPort: data.METRICS_PORT === undefined ? undefined : boundedInt(data.METRICS_PORT, 0, 'METRICS_PORT', 1, 65_535),
    metricsHost: listenHost(data.METRICS_HOST, 'METRICS_HOST'),
    watchMinIntervalMs: boundedInt(data.ZENSWEEP_WATCH_MIN_INTERVAL_MS, 60_000, 'ZENSWEEP_WATCH_MIN_INTERVAL_MS', 1000, 86_400_000),
    watchMaxPerChannel: boundedInt(data.ZENSWEEP_WATCH_MAX_PER_CHANNEL, 10, 'ZENSWEEP_WATCH_MAX_PER_CHANNEL', 1, 1000),
    watchMaxPerUser: boundedInt(data.ZENSWEEP_WATCH_MAX_PER_USER, 20, 'ZENSWEEP_WATCH_MAX_PER_USER', 1, 10_000),
    watchMaxTotal: boundedInt(data.ZENSWEEP_WATCH_MAX_TOTAL, 500, 'ZENSWEEP_WATCH_MAX_TOTAL', 1, 100_000),
    jobsKept: data.ZENSWEEP_JOBS_KEPT === undefined ? undefined : boundedInt(data.ZENSWEEP_JOBS_KEPT, 0, 'ZENSWEEP_JOBS_KEPT', 1, 1_000_000),
    watchRunTimeoutMs: boundedInt(data.ZENSWEEP_WATCH_RUN_TIMEOUT_MS, 600_000, 'ZENSWEEP_WATCH_RUN_TIMEOUT_MS', 1000, 3_600_000),
    deliveryAttempts: boundedInt(data.ZENSWEEP_DELIVERY_ATTEMPTS, DELIVERY_ATTEMPTS, 'ZENSWEEP_DELIVERY_ATTEMPTS', 1, 30),
  };
}
