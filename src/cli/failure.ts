import { isZenSweepError } from '../core/errors.js';
import { refusalOf } from '../core/redis-refusal.js';

/** Error codes that are not bad input. */
const OPERATIONAL = new Set(['redis_unavailable', 'sweep_failed', 'host_job_failed']);

/** A parse error from node:util's parseArgs is bad input too. */
function isArgumentError(error: unknown): error is Error {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/**
 * Says on stderr why a command failed and returns its exit code. Each bundle has its own copy (main.ts and
 * distributed.ts each call it), so `instanceof` sees the error classes of the code that threw.
 */
export function reportFailure(error: unknown, stderr: NodeJS.WritableStream): number {
  if (isZenSweepError(error) || isArgumentError(error)) {
    stderr.write(`zensweep: ${(error as Error).message}\n`);
    // Bad input exits 2; a service that cannot be reached or a sweep that failed is not the user's input.
    return isZenSweepError(error) && OPERATIONAL.has(error.code) ? 1 : 2;
  }
  // A command the ACL user may not run, met past the connection's own checks: the setting to change, not a stack.
  const refusal = refusalOf(error);
  if (refusal !== undefined) {
    stderr.write(`zensweep: Redis refused ZenSweep: ${refusal}\n`);
    return 2;
  }
  stderr.write(`zensweep: internal error: ${error instanceof Error ? error.stack : String(error)}\n`);
  return 1;
}
