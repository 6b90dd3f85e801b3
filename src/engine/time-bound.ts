import type { SweepOptions } from '../core/request.js';

/** Each retry waits this much longer than the attempt before it (fping's default backoff). */
export const RETRY_BACKOFF = 1.5;
/** Room past a sweep's arithmetic before it is stopped: timers run late on a loaded machine. */
export const TIME_BOUND_FACTOR = 1.5;
export const TIME_BOUND_MARGIN_MS = 5000;

/** How long attempt `attempt` (0 for the first) of a probe waits for an answer, in milliseconds. */
export function attemptTimeoutMs(options: Pick<SweepOptions, 'timeoutMs'>, attempt: number): number {
  return attempt === 0 ? options.timeoutMs : Math.round(options.timeoutMs * RETRY_BACKOFF ** attempt);
}

/** What a sweep's running time depends on besides its options. */
export interface ProbePlan {
  /** Addresses to probe. */
  addresses: number;
  /** False when ICMP cannot be used: TCP probes only. */
  echo: boolean;
  /** Probes outstanding at once. */
  maxInFlight: number;
}

/**
 * The longest a sweep may take, in milliseconds, by its own arithmetic: every packet paced at the rate (retries
 * included), plus the waits of every probe's attempts (timeout × 1.5^attempt each) one wave of `maxInFlight`
 * probes after another, with room for a loaded machine (× 1.5 + 5 s). A sweep still running past it has lost an
 * answer somewhere: it is stopped and reports what it has.
 */
export function sweepTimeBoundMs(options: SweepOptions, plan: ProbePlan): number {
  const attempts = options.retries + 1;
  let chainMs = 0;
  for (let attempt = 0; attempt < attempts; attempt++) chainMs += attemptTimeoutMs(options, attempt);
  const echoes = plan.echo ? options.count : 0;
  // count > 1: no retries, the echoes are spaced by the interval and each waits the timeout.
  const echoChainMs = options.count > 1 ? (options.count - 1) * options.intervalMs + options.timeoutMs : chainMs;
  const probeMs = Math.max(options.ports.length > 0 ? chainMs : 0, echoes > 0 ? echoChainMs : 0);
  const echoSlots =
    echoes === 0 ? 0 : options.count === 1 ? 1 : Math.min(options.count, Math.ceil(options.timeoutMs / options.intervalMs) + 1);
  const waves = Math.ceil((plan.addresses * (echoSlots + options.ports.length)) / Math.max(1, plan.maxInFlight));
  const packets = plan.addresses * ((options.count === 1 ? echoes * attempts : echoes) + options.ports.length * attempts);
  const pacingMs = options.rate > 0 ? (packets * 1000) / options.rate : 0;
  return Math.ceil((pacingMs + waves * probeMs) * TIME_BOUND_FACTOR + TIME_BOUND_MARGIN_MS);
}
