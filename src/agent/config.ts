import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { boundedInt, listenHost, parseEnvironment } from '../config-env.js';
import { redisTargetFromEnv, type RedisTarget } from '../config-redis.js';
import { SWEEP_LIMITS } from '../core/request.js';
import { Scope } from '../core/scope.js';
import { icmpSetting } from '../config.js';
import type { IcmpSetting } from '../engine/icmp/raw-transport.js';
import { DEFAULT_HISTORY_AGE_DAYS, DEFAULT_HISTORY_COUNT } from '../queue/history.js';

const GROUP = /^[a-z0-9][a-z0-9_-]{0,62}$/;

const schema = z.object({
  ZENSWEEP_VPC: z
    .string({ error: 'is required: the agent group name, e.g. prod' })
    .trim()
    .toLowerCase()
    .refine((name) => GROUP.test(name) && name !== 'all', "must be letters, digits, '-' or '_' (not 'all'), e.g. prod"),
  ZENSWEEP_CIDRS: z.string({ error: 'is required: the networks this agent may probe, e.g. 10.0.0.0/16' }).trim().min(1),
  ZENSWEEP_AGENT_ID: z.string().trim().min(1).max(100).optional(),
  ZENSWEEP_RATE: z.string().trim().regex(/^\d+$/, 'must be a whole number of packets per second').optional(),
  ZENSWEEP_CONCURRENCY: z.string().trim().regex(/^\d+$/, 'must be a whole number').optional(),
  ZENSWEEP_HISTORY_COUNT: z.string().trim().regex(/^\d+$/, 'must be a whole number of sweeps').optional(),
  ZENSWEEP_HISTORY_DAYS: z.string().trim().regex(/^\d+$/, 'must be a whole number of days').optional(),
  ZENSWEEP_LOCK_MS: z.string().trim().regex(/^\d+$/, 'must be a whole number of milliseconds').optional(),
  METRICS_PORT: z.string().trim().regex(/^\d+$/, 'must be a port number').optional(),
  METRICS_HOST: z.string().optional(),
});

/** An agent's settings, from its environment, checked once at start. */
export interface AgentConfig {
  /** Where Redis is and how to sign in (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES; REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS_CA). */
  redis: RedisTarget;
  group: string;
  /** The CIDRs as written, and as a set for scope checks. */
  cidrs: string[];
  scope: Scope;
  agentId: string;
  /** Packets per second for the whole agent (ZENSWEEP_RATE), shared by its chunks; 0 = unlimited. Default 10,000. */
  rate: number;
  /**
   * Chunks held at once (ZENSWEEP_CONCURRENCY); default (undefined): enough to fill the engine's in-flight budget,
   * so that the rate, not the number of chunks, limits a large sweep (about 120 at 10,000 packets/s).
   */
  concurrency: number | undefined;
  /**
   * How long a chunk's lock lasts without renewal, in ms (ZENSWEEP_LOCK_MS), default 30,000: a replica that dies
   * mid-chunk is found stalled and its chunk runs elsewhere after about this long.
   */
  lockMs: number;
  /** Finished sweeps kept in the history (ZENSWEEP_HISTORY_COUNT), default 1000; the oldest go first. */
  historyCount: number;
  /** Days a finished sweep stays in the history (ZENSWEEP_HISTORY_DAYS), default 30. */
  historyDays: number;
  /** How ICMP echo is sent (ZENSWEEP_ICMP: auto, raw, ping or off), default auto (see EngineConfig.icmp). */
  icmp: IcmpSetting;
  /** Port of /metrics, /healthz and /readyz (METRICS_PORT); none when unset. */
  metricsPort?: number;
  /** Address the metrics port listens on (METRICS_HOST), an IP address or a host name; default every interface. */
  metricsHost?: string;
}

/** Reads the agent's environment; throws ConfigError naming the first bad variable, never echoing a password. */
export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const redis = redisTargetFromEnv(env);
  const data = parseEnvironment(schema, env);
  const cidrs = data.ZENSWEEP_CIDRS.split(',').map((c) => c.trim()).filter(Boolean);
  let scope: Scope;
  try {
    scope = Scope.of(cidrs);
  } catch (error) {
    throw new ConfigError(`ZENSWEEP_CIDRS: ${(error as Error).message}`);
  }
  return {
    redis,
    group: data.ZENSWEEP_VPC,
    cidrs,
    scope,
    agentId: data.ZENSWEEP_AGENT_ID ?? `${hostname()}-${process.pid}`,
    rate: boundedInt(data.ZENSWEEP_RATE, 10_000, 'ZENSWEEP_RATE', SWEEP_LIMITS.rate.min, SWEEP_LIMITS.rate.max),
    concurrency:
      data.ZENSWEEP_CONCURRENCY === undefined ? undefined : boundedInt(data.ZENSWEEP_CONCURRENCY, 2, 'ZENSWEEP_CONCURRENCY', 1, 256),
    lockMs: boundedInt(data.ZENSWEEP_LOCK_MS, 30_000, 'ZENSWEEP_LOCK_MS', 1000, 600_000),
    historyCount: boundedInt(data.ZENSWEEP_HISTORY_COUNT, DEFAULT_HISTORY_COUNT, 'ZENSWEEP_HISTORY_COUNT', 1, 1_000_000),
    historyDays: boundedInt(data.ZENSWEEP_HISTORY_DAYS, DEFAULT_HISTORY_AGE_DAYS, 'ZENSWEEP_HISTORY_DAYS', 1, 3650),
    metricsPort: data.METRICS_PORT === undefined ? undefined : boundedInt(data.METRICS_PORT, 0, 'METRICS_PORT', 1, 65_535),
    metricsHost: listenHost(data.METRICS_HOST, 'METRICS_HOST'),
    icmp: icmpSetting(env),
  };
}
