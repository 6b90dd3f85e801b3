import { format } from 'node:util';
import { pino } from 'pino';
import type { Logger } from 'pino';

/** Structured logs, one JSON line per event. Never pass a token, a password or a whole Slack payload. */
export function createLogger(name: string): Logger {
  return pino({ name, level: process.env.LOG_LEVEL ?? 'info', base: { pid: process.pid } });
}

/** Longest text kept from one console call, in characters. */
const CONSOLE_TEXT_MAX = 1000;

/** What a library handed to `console`, in one line: an error by its name, code and message, never its stack. */
function consoleText(args: readonly unknown[]): string {
  const parts = args.map((arg) => {
    if (!(arg instanceof Error)) return arg;
    const code = (arg as NodeJS.ErrnoException).code;
    return `${arg.name}${code === undefined ? '' : ` ${code}`}: ${arg.message}`;
  });
  return format(...parts).replace(/\s+/g, ' ').trim().slice(0, CONSOLE_TEXT_MAX);
}

const CONSOLE_LEVELS = [
  ['log', 'info'],
  ['info', 'info'],
  ['debug', 'debug'],
  ['trace', 'debug'],
  ['warn', 'warn'],
  ['error', 'error'],
] as const;

/**
 * Makes everything else a service process could print one JSON line of `log`, so that its stdout and stderr hold
 * nothing but JSON lines:
 * - what libraries print with `console` (BullMQ warns of Redis' eviction policy, and prints an error of a queue
 *   that has no `error` listener): event `console`, the text in one line, an error without its stack;
 * - Node's process warnings (MaxListenersExceededWarning, DeprecationWarning…), which Node prints on stderr:
 *   event `node_warning`;
 * - a crash (an uncaught exception, or an unhandled rejection, which Node raises as one): event
 *   `uncaught_exception` or `unhandled_rejection` with the error (its stack a field of the line), then exit 1 as
 *   Node itself would.
 * For the services (`zensweep agent`, `zensweep bot`), once, as they start; never for commands that print for people.
 */
export function captureStrayOutput(log: Logger): void {
  for (const [method, level] of CONSOLE_LEVELS) {
    console[method] = (...args: unknown[]): void => log[level]({ event: 'console', message: consoleText(args) });
  }
  // Node prints each warning on stderr through a listener of its own: this one takes its place.
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error) => {
    const code = (warning as NodeJS.ErrnoException).code;
    log.warn({ event: 'node_warning', name: warning.name, ...(code === undefined ? {} : { code }), message: warning.message });
  });
  process.on('uncaughtException', (error: unknown, origin: NodeJS.UncaughtExceptionOrigin) => {
    const err = error instanceof Error ? error : new Error(String(error));
    log.fatal({ event: origin === 'unhandledRejection' ? 'unhandled_rejection' : 'uncaught_exception', err });
    process.exit(1);
  });
}
