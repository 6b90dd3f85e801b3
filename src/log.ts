import { pino } from 'pino';
import type { Logger } from 'pino';

/** Structured logs, one JSON line per event. Never pass a token, a password or a whole Slack payload. */
export function createLogger(name: string): Logger {
  return pino({ name, level: process.env.LOG_LEVEL ?? 'info', base: { pid: process.pid } });
}
