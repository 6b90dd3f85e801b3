import type { Redis, RedisOptions } from 'ioredis';
import { ioredis } from './load.js';
import { ZenSweepError } from '../core/errors.js';
import { redactUrl } from '../config-env.js';
import { describeRedis, type RedisTarget } from '../config-redis.js';

export { redactUrl };

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

/** The TLS errors that say the server's certificate is not trusted (or not for this name), Node's codes. */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Why Redis refused, in words with the fix, when `error` is one that retrying cannot fix; undefined for any other
 * (Redis away, a timeout), which a service waits out.
 */
export function refusalOf(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const message = error.message;
  if (message.startsWith('WRONGPASS')) return 'wrong user name or password (WRONGPASS): check REDIS_USERNAME and REDIS_PASSWORD';
  if (message.startsWith('NOAUTH')) return 'it asks for a password and none was given (NOAUTH): set REDIS_PASSWORD';
  if (message.includes('called without any password configured')) return 'a password was given but it has none (AUTH): leave REDIS_PASSWORD unset';
  if (message.startsWith('NOPERM')) return `the user may not run a command ZenSweep needs (${message.split('\n')[0]?.slice(0, 160) ?? 'NOPERM'}): see the README for its ACL`;
  if (UNTRUSTED_CERTIFICATE.has(code)) return `its TLS certificate is not trusted (${code}): set REDIS_TLS_CA to the CA file that signed it`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(message)) return 'it does not speak TLS on that port: write redis://, or give its TLS port';
  return undefined;
}

/** ioredis options for the target: where, who, TLS. */
export function ioredisOptions(target: RedisTarget): RedisOptions {
  const tls = target.tls ? (target.tls.ca !== undefined ? { ca: target.tls.ca } : {}) : undefined;
  const access: RedisOptions = {
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(tls ? { tls } : {}),
  };
  if (target.kind === 'server') return { host: target.host, port: target.port, db: target.db, ...access };
  return {
    sentinels: target.sentinels.map(({ host, port }) => ({ host, port })),
    name: target.master,
    ...(target.sentinelPassword !== undefined ? { sentinelPassword: target.sentinelPassword } : {}),
    ...access,
    ...(tls ? { enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
  };
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
  open: (options: RedisOptions) => Redis = (options) => new ioredis.Redis({ ...ioredisOptions(target), ...options }),
): Promise<Redis> {
  const redis = open({ maxRetriesPerRequest: null, lazyConnect: true });
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
      redis.connect().then(() => redis.ping()),
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
