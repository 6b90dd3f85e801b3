import type { ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { ioredis } from './load.js';
import { ZenSweepError } from '../core/errors.js';
import { describeRedis, type RedisTarget } from '../config-redis.js';
import { refusalOf } from '../core/redis-refusal.js';

/** Redis cannot be reached (down, a firewall, a name that does not resolve): retrying may help. */
export class RedisUnavailableError extends ZenSweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('redis_unavailable', message, options);
  }
}

/**
 * Redis was reached and refused ZenSweep, or its TLS could not be trusted: a wrong user or password, a user without
 * a command ZenSweep needs, a certificate no CA given vouches for. Retrying cannot help; a setting must change.
 */
export class RedisRefusedError extends ZenSweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('redis_refused', message, options);
  }
}

/** ioredis options for the target: where, who, TLS. */
export function ioredisOptions(target: RedisTarget): RedisOptions {
  const tls = target.tls ? (target.tls.ca !== undefined ? { ca: target.tls.ca } : {}) : undefined;
  const access: RedisOptions = {
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(tls ? { tls } : {}),
  };
  const followFailover: RedisOptions = {
    // A master turned replica (a failover, planned or not) answers writes READONLY and ends blocked commands with
    // UNBLOCKED: connect again (through the Sentinels, to the new master) and send the command again there.
    reconnectOnError: (error) => (/^(READONLY|UNBLOCKED)\b/.test(error.message) ? 2 : false),
  };
  if (target.kind === 'server') return { host: target.host, port: target.port, db: target.db, ...access, ...followFailover };
  // Each node of a cluster: who, TLS; the cluster follows MOVED and a failover by itself.
  if (target.kind === 'cluster') return { ...access, ...followFailover };
  return {
    sentinels: target.sentinels.map(({ host, port }) => ({ host, port })),
    name: target.master,
    ...(target.sentinelPassword !== undefined ? { sentinelPassword: target.sentinelPassword } : {}),
    ...access,
    ...(tls ? { enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
    ...followFailover,
    // Each connection listens for the Sentinels' +switch-master and moves to the new master at once: without it a
    // worker's blocking command waits on the old master, now a replica, for up to ~10 s (measured) before it hears.
    failoverDetector: true,
  };
}

/** Options that ioredis reads at the top of a cluster's options, not in each node's. */
const CLUSTER_LEVEL = ['lazyConnect', 'enableReadyCheck', 'enableOfflineQueue'] as const;

/** ioredis options of a Cluster on the target, with `options` for its nodes (those of CLUSTER_LEVEL for the cluster). */
export function clusterOptions(target: RedisTarget, options: RedisOptions = {}): ClusterOptions {
  const nodeOptions: RedisOptions = { ...ioredisOptions(target), ...options };
  const cluster: ClusterOptions = { redisOptions: nodeOptions };
  for (const name of CLUSTER_LEVEL) {
    if (options[name] !== undefined) (cluster as Record<string, unknown>)[name] = options[name];
    delete (nodeOptions as Record<string, unknown>)[name];
  }
  // With TLS the nodes' certificates name their host names, which a lookup to addresses would lose.
  if (target.tls) cluster.dnsLookup = (address, callback) => callback(null, address);
  return cluster;
}

/**
 * A new connection to the target with `options`: a Redis, or on a cluster an ioredis Cluster, which speaks the same
 * commands (every multi-key command and transaction of ZenSweep and BullMQ stays within one hash slot) and which
 * BullMQ recognises as a cluster.
 */
export function newRedis(target: RedisTarget, options: RedisOptions = {}): Redis {
  if (target.kind === 'cluster') return new ioredis.Cluster(target.nodes, clusterOptions(target, options)) as unknown as Redis;
  return new ioredis.Redis({ ...ioredisOptions(target), ...options });
}

/**
 * A connection for BullMQ (`maxRetriesPerRequest: null`), checked with a PING first so that a wrong setting ends in
 * one clear sentence instead of endless reconnection attempts: RedisRefusedError when Redis refused (exit 2),
 * RedisUnavailableError when it could not be reached. `open` makes the connection (a service passes its
 * RedisConnections' `open`, so that this one is watched with the others).
 */
export async function connectRedis(
  target: RedisTarget,
  timeoutMs = 5000,
  open: (options: RedisOptions) => Redis = (options) => newRedis(target, options),
): Promise<Redis> {
  // No ready check of ioredis's own: it asks INFO and, refused, prints a warning on stderr; INFO is asked below.
  const redis = open({ maxRetriesPerRequest: null, lazyConnect: true, enableReadyCheck: false });
  let lastError: Error | undefined;
  let refused: ((error: Error) => void) | undefined;
  const refusal = new Promise<never>((_, reject) => (refused = reject));
  redis.on('error', (error: Error) => {
    lastError = error;
    if (refusalOf(error) !== undefined) refused?.(error);
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      // INFO too: BullMQ asks it (the server's version), and an ACL user without it is refused here, in words.
      redis.connect().then(() => redis.ping()).then(() => redis.info('server')),
      refusal,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(lastError ?? new Error('no answer')), timeoutMs);
      }),
    ]);
    return redis;
  } catch (error) {
    redis.disconnect();
    const why = refusalOf(error) ?? refusalOf(lastError);
    if (why !== undefined) throw new RedisRefusedError(`Redis at ${describeRedis(target)} refused ZenSweep: ${why}`, { cause: error });
    const reason = lastError?.message ?? (error as Error).message;
    throw new RedisUnavailableError(`cannot reach Redis at ${describeRedis(target)} (${reason})`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
