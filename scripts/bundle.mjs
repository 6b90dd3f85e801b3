/**
 * The second half of `npm run build` (tsc is the first): bundles the command line into dist/bundle/ and writes
 * each bundle's V8 code cache (see src/bundle-loader.cts for why).
 *
 *   zensweep.cjs      what sweep, trace, mtu, diag and help run, with ip-cidr (loaded at every start)
 *   distributed.cjs   submit, agents, cancel, history, agent and bot (src/cli/distributed.ts), with zod and dotenv
 *   queue-vendor.cjs  bullmq and ioredis (loaded only by the commands that use Redis)
 *
 * Left out and loaded from node_modules: raw-socket and @zensweep/icmp-socket (native addons), pino (it starts worker
 * threads from its own files), the Slack packages and prom-client (only the services use them, and they start once).
 * A bundle is built for one Node version; the cache of another is rejected by V8 and the bundle compiled as usual.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outdir,
  outExtension: { '.js': '.cjs' },
  logLevel: 'warning',
  // The bundle's own folder; src/bundle-loader.cts looks for the other bundles there.
  define: { 'import.meta.url': '__zensweepBundleUrl', __ZENSWEEP_BUNDLE_DIR__: '__dirname' },
  banner: { js: 'var __zensweepBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  external: ['raw-socket', '@zensweep/icmp-socket', 'pino', '@slack/*', '@resvg/*', 'bullmq', 'ioredis', 'prom-client'],
};

/**
 * Keeps src/cli/distributed.ts (and all it loads) out of zensweep.cjs: main.ts loads it from distributed.cjs. Its
 * fallback import, for when no bundle was built, becomes an error naming the missing file.
 */
const distributedApart = {
  name: 'distributed-apart',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^\.\/distributed\.js$/ }, () => ({ path: 'distributed', namespace: 'distributed-apart' }));
    esbuild.onLoad({ filter: /.*/, namespace: 'distributed-apart' }, () => ({
      contents: 'throw new Error("dist/bundle/distributed.cjs is missing or unreadable: npm run build");',
      loader: 'js',
    }));
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { zensweep: `${root}src/cli/main.ts` },
  plugins: [distributedApart],
});
await build({
  ...common,
  entryPoints: { distributed: `${root}src/cli/distributed.ts` },
});
await build({
  ...common,
  entryPoints: { 'queue-vendor': `${root}scripts/queue-vendor.ts` },
  external: [],
});

// src/bundle-loader.cts reads a bundle as latin1: esbuild escapes what is not ASCII in strings, but not in a regular
// expression. One there would be read as other characters and match nothing: the build says where, instead.
for (const name of ['zensweep', 'distributed', 'queue-vendor']) {
  const lines = readFileSync(`${outdir}/${name}.cjs`, 'utf8').split('\n');
  let inComment = false;
  lines.forEach((line, i) => {
    const code = inComment ? '' : line.replace(/\/\*.*?\*\//g, '').replace(/\/\*.*$/, '').replace(/(^|[^:'"\\])\/\/.*$/, '$1');
    if (inComment && line.includes('*/')) inComment = false;
    else if (!inComment && /\/\*(?!.*\*\/)/.test(line)) inComment = true;
    // A code line with a character that is not ASCII (comments may have them: they are never read as code).
    if (/[^\x00-\x7f]/.test(code)) throw new Error(`dist/bundle/${name}.cjs:${i + 1}: a character that is not ASCII outside a string (write it as \\u…): ${line.trim().slice(0, 120)}`);
  });
}

// Load each bundle as the CLI does, warm it up, and write its cache, under the V8 flags of the CLI's shebang line:
// V8 rejects a cache made under flags that change how code compiles.
const shebang = readFileSync(`${root}src/cli.cts`, 'utf8').split('\n', 1)[0];
const flags = shebang.split(/\s+/).filter((word) => word.startsWith('--'));
const loader = `${root}dist/bundle-loader.cjs`;
for (const name of ['zensweep', 'distributed', 'queue-vendor']) {
  execFileSync(
    process.execPath,
    [...flags, '-e', `require(${JSON.stringify(loader)}).loadBundle(${JSON.stringify(name)});`],
    { env: { ...process.env, ZENSWEEP_CODE_CACHE: 'write' }, stdio: 'inherit' },
  );
}
