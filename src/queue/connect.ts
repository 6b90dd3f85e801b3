import type { Redis, RedisOptions } from 'ioredis';
import { ioredis } from './load.js';
import { ZenSweepError } from '../core/errors.js';

/** Redis cannot be reached (wrong URL, down, a firewall). */
export class RedisUnavailableError extends ZenSweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('redis_unavailable', message, options);
  }
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unreadable REDIS_URL)';
  }
}

/**
 * A connection for BullMQ (`maxRetriesPerRequest: null`), checked with a PING first so that a wrong URL ends in
 * one clear sentence instead of endless reconnection attempts. `open` makes the connection (a service passes its
 * RedisConnections' `open`, so that this one is watched with the others).
 */
export async function connectRedis(
  url: string,
  timeoutMs = 5000,
  open: (options: RedisOptions) => Redis = (options) => new ioredis.Redis(url, options),
): Promise<Redis> {
  if (!/^rediss?:\/\//.test(url)) {
    throw new RedisUnavailableError(`REDIS_URL must start with redis:// or rediss://, got ${redactUrl(url)}`);
  }
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
