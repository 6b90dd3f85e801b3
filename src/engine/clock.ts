/**
 * Milliseconds on CLOCK_MONOTONIC (process.hrtime's clock), as a double with sub-microsecond resolution.
 *
 * performance.now() reads the same clock without allocating (process.hrtime.bigint() makes a BigInt per call),
 * but counts from this process's own start; adding a fixed offset makes readings comparable between processes,
 * so a packet stamped elsewhere (the ICMP socket's sender thread, in C, on CLOCK_MONOTONIC) can be timed here.
 */
const offsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();

export function monotonicMs(): number {
  return performance.now() + offsetMs;
}
