import { writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { isZenSweepError } from '../core/errors.js';

/**
 * After a service has stopped, how long anything still holding the event loop (a socket a bounded shutdown step gave
 * up on) may keep the process alive before it exits anyway, in ms.
 */
const EXIT_AFTER_STOP_MS = 500;

/**
 * The first SIGTERM or SIGINT from now on. A service command listens before it starts, so that a signal that comes
 * while it starts (Redis away) stops it once it is up instead of being lost. A second signal is Node's default: it
 * ends the process at once.
 */
export function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** Resolves once SIGTERM or SIGINT has come (`signal`, by default the next one) and `stop` has finished: how a service command ends. */
export async function untilSignal(stop: () => Promise<void>, signal: Promise<NodeJS.Signals> = nextSignal()): Promise<void> {
  await signal;
  await stop();
  setTimeout(() => process.exit(), EXIT_AFTER_STOP_MS).unref();
}

/**
 * Ends the process when Redis refuses it (RedisConnections' `refused`: a wrong password, an untrusted certificate, a
 * user without a command ZenSweep needs): one line on stderr, exit 2, at once. Nothing can be handed back to a Redis
 * that refuses every command, and waiting for a graceful stop would wait on clients that retry (BullMQ's workers
 * retry a refused command without a pause, and starve the timers a stop needs).
 */
export function exitOnRefusal(refused: Promise<Error>): void {
  void refused.then((error) => {
    writeSync(2, `zensweep: ${error.message}\n`);
    process.exit(2);
  });
}

/**
 * A service's start. When it fails, what it opened meanwhile (Redis connections, a listening socket) would keep the
 * process alive forever: it exits anyway, `EXIT_AFTER_STOP_MS` later. What the user can act on (a ZenSweepError: a
 * bad setting, Redis unreachable) is thrown on, for one line on stderr; anything else (a port taken) is logged as one
 * JSON line with the error, never a raw stack on stderr, and the start resolves undefined: the command exits 1.
 */
export async function serviceStart<T>(starting: Promise<T>, log: Logger): Promise<{ value: T } | undefined> {
  try {
    return { value: await starting };
  } catch (error) {
    setTimeout(() => process.exit(), EXIT_AFTER_STOP_MS).unref();
    if (isZenSweepError(error)) throw error;
    log.fatal({ event: 'start_failed', err: error });
    return undefined;
  }
}
