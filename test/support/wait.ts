/**
 * Waiting in tests, one way for every test: poll a condition until it holds (`until`) or a value until it is there
 * (`waitFor`), with a generous timeout that ends in an error saying what was awaited and what was last seen. A wait
 * is never a speed check: the timeout only keeps a broken test from hanging.
 *
 * `quietFor` is the one fixed sleep, for the opposite case: letting time pass before asserting that something did
 * NOT happen (again) in it, e.g. a report posted once.
 */
import { inspect } from 'node:util';

export interface WaitOptions {
  /** How long to wait before failing, in milliseconds; default 60,000. */
  timeoutMs?: number;
  /** Time between two checks, in milliseconds; default 50. */
  everyMs?: number;
  /** What else the timeout error shows, read (and awaited) once at the timeout: e.g. the calls seen so far. */
  show?: () => unknown;
  /**
   * Checked before each check: a reason to give up at once (a process that exited will never get ready), thrown as
   * an Error with that message; undefined to go on waiting.
   */
  stopIf?: () => string | undefined;
}

/** A wait that ran out of time; `cause` is the check's last exception, when it threw. */
export class WaitTimeoutError extends Error {
  readonly code = 'WAIT_TIMEOUT';
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_EVERY_MS = 50;

function text(value: unknown): string {
  return typeof value === 'string' ? value : inspect(value, { depth: 4, breakLength: Infinity });
}

/**
 * Calls `find` (sync or async) until it returns something other than undefined, and resolves with that. A `find`
 * that throws is called again; on timeout the error names `what`, the last value or exception and `show()`.
 */
export async function waitFor<T>(
  what: string,
  find: () => T | undefined | Promise<T | undefined>,
  options: WaitOptions = {},
): Promise<T> {
  return poll(what, find, (value): value is T => value !== undefined, options);
}

/** Calls `check` (sync or async) until it returns a truthy value; as {@link waitFor} otherwise. */
export async function until(what: string, check: () => unknown, options: WaitOptions = {}): Promise<void> {
  await poll(what, check, (value): value is unknown => Boolean(value), options);
}

/**
 * Lets `ms` milliseconds pass, for a test that then asserts what did NOT happen in that time (nothing more posted,
 * no reconnection attempt, no line while muted). Never a way to wait for something to happen: use `until`.
 */
export function quietFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function showing(show: () => unknown): Promise<string> {
  try {
    return text(await show());
  } catch (error) {
    return `(showing it failed: ${error instanceof Error ? error.message : String(error)})`;
  }
}

async function poll<V, T extends V>(
  what: string,
  read: () => V | Promise<V>,
  done: (value: V) => value is T,
  options: WaitOptions,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const everyMs = options.everyMs ?? DEFAULT_EVERY_MS;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stop = options.stopIf?.();
    if (stop !== undefined) throw new Error(stop);
    let last: { value: unknown } | { error: unknown };
    try {
      const value = await read();
      if (done(value)) return value;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() > deadline) {
      const seen =
        'error' in last
          ? `the last check threw ${text(last.error instanceof Error ? last.error.message : last.error)}`
          : `the last check gave ${text(last.value)}`;
      const shown = options.show ? `; ${await showing(options.show)}` : '';
      throw new WaitTimeoutError(
        `timed out after ${timeoutMs} ms waiting for ${what}: ${seen}${shown}`,
        'error' in last ? { cause: last.error } : undefined,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
