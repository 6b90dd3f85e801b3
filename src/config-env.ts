import type { z } from 'zod';
import { ConfigError } from './core/errors.js';
import { isIP } from './core/ip-text.js';

/**
 * Validates the environment against a service's schema; throws ConfigError naming the first bad variable and
 * what it takes, never its value (it may be a secret).
 */
export function parseEnvironment<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${String(issue?.path[0] ?? 'environment')} ${issue?.message ?? 'is invalid'}`);
  }
  return parsed.data;
}

/** A whole number setting already checked as digits; `fallback` when unset; ConfigError when out of range. */
export function boundedInt(text: string | undefined, fallback: number, name: string, min: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text.trim())) throw new ConfigError(`${name}=${text} is not a whole number: it takes ${min} to ${max}`);
  const value = Number(text);
  if (value < min || value > max) throw new ConfigError(`${name}=${text} is out of range: it takes ${min} to ${max}`);
  return value;
}

const REDIS_URL_EXAMPLE = 'e.g. redis://:password@redis.internal:6379 (rediss:// for TLS)';

/** A URL without its password, for messages and logs. */
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
 * REDIS_URL, checked the same way by every service and command (agent, bot, submit and the others) before anything
 * connects: a redis:// or rediss:// URL naming a host. Returns it trimmed; throws ConfigError in one sentence that
 * names the variable and never shows the password.
 */
export function checkRedisUrl(text: string | undefined): string {
  const url = text?.trim() ?? '';
  if (url === '') throw new ConfigError(`REDIS_URL is required, ${REDIS_URL_EXAMPLE}`);
  if (!/^rediss?:\/\//.test(url)) {
    throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, ${REDIS_URL_EXAMPLE}; got ${redactUrl(url)}`);
  }
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    // The URL parser's message would quote the URL, password and all.
    throw new ConfigError(`REDIS_URL is not a valid URL, ${REDIS_URL_EXAMPLE}`);
  }
  if (host === '') throw new ConfigError(`REDIS_URL names no host, ${REDIS_URL_EXAMPLE}`);
  return url;
}

/** A host name as DNS takes it: dot-separated labels of letters, digits and inner hyphens, at most 253 characters. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * An address to listen on (METRICS_PORT's METRICS_HOST, the bot's HOST): an IPv4 or IPv6 address (brackets allowed
 * around IPv6) or a host name; undefined when unset, which means every interface. Throws ConfigError naming the
 * variable. Returns the address without brackets, as `listen()` takes it.
 */
export function listenHost(text: string | undefined, name: string): string | undefined {
  const value = text?.trim() ?? '';
  if (value === '') return undefined;
  const bare = /^\[(.*)\]$/.exec(value)?.[1] ?? value;
  if (isIP(bare) !== 0) return bare;
  if (bare === value && HOST_NAME.test(value) && !/^[\d.]+$/.test(value)) return value;
  throw new ConfigError(`${name}=${value} is not an address to listen on: it takes an IPv4 or IPv6 address or a host name, e.g. 127.0.0.1, ::1 or localhost`);
}
