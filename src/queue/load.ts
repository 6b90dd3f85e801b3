import { createRequire } from 'node:module';
import { loadBundle } from '../bundle-loader.cjs';

type Vendor = { bullmq: typeof import('bullmq'); ioredis: typeof import('ioredis') };

/**
 * bullmq and ioredis, one instance of each for the whole process: every value from them is taken from here (a
 * second copy would have classes of its own, and `instanceof` would fail across the two).
 *
 * From the queue-vendor bundle with its code cache when the build made one: loading the two packages' ~250 files
 * took about 110 ms of every `zensweep submit`. Otherwise from node_modules, with require(): both are CommonJS, and
 * an ESM import would first parse every one of their files for its exports (about 40% slower again).
 */
function fromNodeModules(): Vendor {
  const require = createRequire(import.meta.url);
  return { bullmq: require('bullmq') as Vendor['bullmq'], ioredis: require('ioredis') as Vendor['ioredis'] };
}

const vendor: Vendor = loadBundle<Vendor>('queue-vendor')?.exports ?? fromNodeModules();

export const bullmq = vendor.bullmq;
export const ioredis = vendor.ioredis;
