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
