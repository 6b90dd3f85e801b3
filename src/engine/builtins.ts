import { createRequire } from 'node:module';

/**
 * Node's built-in modules that a sweep may not need, loaded on first use. Measured at a start of `zensweep sweep`
 * (Node 20): node:net ~7 ms, node:crypto ~9 ms, node:dns ~1.4 ms, node:fs/promises ~1.5 ms. Every one of them
 * loaded before the first probe delays every result by as much; most sweeps need none of them, or only once the
 * probes are on their way.
 */
const require = createRequire(import.meta.url);

function once<T>(load: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= load());
}

/** For TCP probes only. */
export const netModule = once(() => require('node:net') as typeof import('node:net'));
/** For host names only. */
export const dnsModule = once(() => require('node:dns/promises') as typeof import('node:dns/promises'));
/** Only where /dev/urandom cannot be read (random.ts). */
export const cryptoModule = once(() => require('node:crypto') as typeof import('node:crypto'));
/** For trace and diag only (the source address towards a host). */
export const dgramModule = once(() => require('node:dgram') as typeof import('node:dgram'));
/** For targets read from a file (`-f FILE`) only. */
export const fsPromisesModule = once(() => require('node:fs/promises') as typeof import('node:fs/promises'));
