import type { Redis, RedisOptions } from 'ioredis';
import { ioredis } from './load.js';
import { ZenSweepError } from '../core/errors.js';
import { checkRedisUrl, redactUrl } from '../config-env.js';

export { redactUrl };

/** Redis cannot be reached (wrong URL, down, a firewall). */
export class RedisUnavailableError extends ZenSweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('redis_unavailable', message, options);
  }
}

/**
 * A connection for BullMQ (`maxRetriesPerRequest: null`), checked with a PING first so that a wrong URL ends in
 * one clear sentence instead of endless reconnection attempts. A URL that is not one is a ConfigError. `open` makes
 * the connection (a service passes its RedisConnections' `open`, so that this one is watched with the others).
 */
export async function connectRedis(
  redisUrl: string,
  timeoutMs = 5000,
  open: (options: RedisOptions) => Redis = (options) => new ioredis.Redis(redisUrl, options),
): Promise<Redis> {
  const url = checkRedisUrl(redisUrl);
  const redis = open({ maxRetriesPerRequest: null, lazyConnect: true });
  let lastError = '';
  redis.on('error', (error: Error) => (lastError = error.message));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(lastError || 'no answer')), timeoutMs);
      }),
    ]);
    return redis;
  } catch (error) {
    redis.disconnect();
    const reason = lastError || (error as Error).message;
    throw new RedisUnavailableError(`cannot reach Redis at ${redactUrl(url)} (${reason.replace(url, redactUrl(url))})`, {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}
