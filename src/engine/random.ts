import { closeSync, openSync, readSync } from 'node:fs';
import { cryptoModule } from './builtins.js';

/**
 * Random bytes from the kernel (/dev/urandom, what node:crypto's randomBytes draws on too), read with node:fs, which
 * every process has loaded already: loading node:crypto would cost ~9 ms before the first probe. Falls back to
 * node:crypto where /dev/urandom cannot be read.
 */
export function randomBytes(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      let filled = 0;
      while (filled < size) {
        const read = readSync(fd, bytes, filled, size - filled, null);
        if (read <= 0) throw new Error('/dev/urandom ended');
        filled += read;
      }
    } finally {
      closeSync(fd);
    }
    return bytes;
  } catch {
    return cryptoModule().randomBytes(size);
  }
}

/** A random whole number in [0, 2^bits), bits ≤ 32. */
export function randomBits(bits: number): number {
  return randomBytes(4).readUInt32BE(0) >>> (32 - bits);
}
