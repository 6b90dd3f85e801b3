import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

/**
 * Loads one of the bundles `npm run build` makes (scripts/bundle.mjs) with its V8 code cache.
 *
 * Node 20 compiles every module at every start: for `zensweep sweep` that was about 45 ms of module loading before
 * the first probe, and for `zensweep submit` about 110 ms (BullMQ and ioredis are some 250 files). A bundle is one
 * file, and its code cache, written at build time, lets V8 skip parsing and compiling what it holds. A cache made
 * by another Node version, or under other V8 flags than the CLI's shebang line gives, is rejected by V8 and the
 * bundle is compiled as usual: slower, never wrong.
 *
 * CommonJS (.cts), like the executable that uses it: an ES module importing Node's built-in modules builds a facade
 * of each one's exports, and for node:fs that loads all of its streams (~6 ms).
 */

/** Set when esbuild builds the bundle: the folder the bundles are in (the bundle's own). */
declare const __ZENSWEEP_BUNDLE_DIR__: string | undefined;

const BUNDLE_DIR = typeof __ZENSWEEP_BUNDLE_DIR__ === 'string' ? __ZENSWEEP_BUNDLE_DIR__ : join(__dirname, 'bundle');

/** Set to `write` by the build: load, warm up, and write the code cache beside the bundle. */
const WRITE_CACHE = process.env.ZENSWEEP_CODE_CACHE === 'write';

export interface LoadedBundle<T> {
  exports: T;
  /** True when V8 took the code cache. */
  cached: boolean;
}

const loaded = new Map<string, LoadedBundle<unknown>>();

/**
 * The exports of bundle `name` (`<name>.cjs` in the bundle folder), or undefined when it was not built (the
 * sources run under tsx, or `tsc` alone built dist/). Loaded once per process.
 */
export function loadBundle<T>(name: string): LoadedBundle<T> | undefined {
  const known = loaded.get(name);
  if (known) return known as LoadedBundle<T>;
  const file = join(BUNDLE_DIR, `${name}.cjs`);
  let source: string;
  try {
    // esbuild writes ASCII only (it escapes the rest): latin1 reads it faster than utf8.
    source = readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
  let cachedData: Buffer | undefined;
  try {
    if (!WRITE_CACHE) cachedData = readFileSync(`${file}.cache`);
  } catch {
    // No cache: compile as usual.
  }
  // The CommonJS module wrapper, as require() would apply it.
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new Script(wrapped, { filename: file, cachedData });
  const module = { exports: {} as T & { warmUp?: () => void | Promise<void> } };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  if (WRITE_CACHE) {
    // A warm-up that loads modules on demand is asynchronous: the cache is written once it is done.
    const writeCache = (): void => writeFileSync(`${file}.cache`, script.createCachedData());
    const warming = module.exports.warmUp?.();
    if (warming) void warming.then(writeCache);
    else writeCache();
  }
  const result = { exports: module.exports as T, cached: cachedData !== undefined && !script.cachedDataRejected };
  loaded.set(name, result);
  return result;
}
