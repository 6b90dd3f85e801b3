import type { z } from 'zod';
import { ConfigError } from './core/errors.js';

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
  const value = Number(text);
  if (value < min || value > max) throw new ConfigError(`${name}=${text} is out of range: it takes ${min} to ${max}`);
  return value;
}
