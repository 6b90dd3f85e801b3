import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assertRoot } from '../support/root.js';
import { CLI, cliNodeFlags, run, zensweep } from '../support/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = join(ROOT, 'dist');
const BUNDLES = join(DIST, 'bundle');

/** Loads each bundle as the CLI does, in a process with the CLI's Node flags, and says what V8 made of it. */
async function loadInChild(): Promise<Record<string, { cached: boolean }>> {
  const script = `
    const { loadBundle } = require(${JSON.stringify(join(DIST, 'bundle-loader.cjs'))});
    const cli = loadBundle('zensweep');
    const distributed = loadBundle('distributed');
    const vendor = loadBundle('queue-vendor');
    console.log(JSON.stringify({
      zensweep: { cached: cli.cached },
      distributed: { cached: distributed.cached, run: typeof distributed.exports.runDistributed },
      'queue-vendor': { cached: vendor.cached, worker: typeof vendor.exports.bullmq.Worker, redis: typeof vendor.exports.ioredis.Redis },
    }));`;
  const result = await run([process.execPath, ...cliNodeFlags(), '-e', script]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as Record<string, { cached: boolean }>;
}

describe('the built CLI: bundles and their code caches (npm run build)', () => {
  before(() => assert.ok(existsSync(CLI), `${CLI} is missing: npm test builds it first (npm run build)`));

  it('builds the bundles with code caches that V8 accepts under the shebang line flags', async () => {
    for (const name of ['zensweep', 'distributed', 'queue-vendor']) {
      for (const file of [`${name}.cjs`, `${name}.cjs.cache`]) {
        assert.ok(existsSync(join(BUNDLES, file)), `dist/bundle/${file} is missing`);
      }
    }
    const loaded = await loadInChild();
    assert.equal(loaded.zensweep?.cached, true, 'the zensweep bundle was compiled without its code cache');
    assert.deepEqual(loaded.distributed, { cached: true, run: 'function' }, 'the distributed bundle, with its code cache');
    assert.equal(loaded['queue-vendor']?.cached, true, 'the queue-vendor bundle was compiled without its code cache');
    assert.deepEqual(loaded['queue-vendor'], { cached: true, worker: 'function', redis: 'function' });
  });

  it('leaves zod, dotenv and the Redis, Slack, agent and metrics code out of the bundle every sweep loads', () => {
    const source = readFileSync(join(BUNDLES, 'zensweep.cjs'), 'latin1');
    // esbuild heads each module it takes in with a comment naming its file.
    const modules = [...source.matchAll(/^\/\/ ((?:src|node_modules)\/\S+)$/gm)].map((match) => match[1] ?? '');
    assert.ok(modules.includes('src/cli/sweep-command.ts'), 'the sweep command must be in zensweep.cjs');
    const stray = modules.filter((file) =>
      /^(src\/(queue|slack|agent|metrics)\/|src\/cli\/(distributed|submit-command|agent-command|bot-command)\.ts$|node_modules\/(zod|dotenv|bullmq|ioredis)\/)/.test(file),
    );
    assert.deepEqual(stray, [], 'zensweep.cjs holds modules of the distributed commands');
  });

  it('runs each distributed command from its own bundle, and reports its errors as bad input', async () => {
    // Usage, or a REDIS_URL refused before anything connects: each loads its command's module from distributed.cjs.
    const env = { ...process.env, REDIS_URL: 'http://redis.invalid' };
    const cases: [string[], number, RegExp][] = [
      [['submit', '--help'], 0, /^usage: zensweep submit/],
      [['agent', '--help'], 0, /^usage: zensweep agent/],
      [['bot', '--help'], 0, /^usage: zensweep bot/],
      [['agents'], 2, /REDIS_URL must start with redis:\/\//],
      [['history'], 2, /REDIS_URL must start with redis:\/\//],
      [['cancel', 'mi2k3x-1a2b3c4d'], 2, /REDIS_URL must start with redis:\/\//],
      [['submit', '10.0.0.0/24'], 2, /REDIS_URL must start with redis:\/\//],
    ];
    for (const [args, code, output] of cases) {
      const result = await zensweep(args, { env });
      assert.equal(result.code, code, `zensweep ${args.join(' ')}: ${result.stderr}`);
      assert.match(code === 0 ? result.stdout : result.stderr, output, `zensweep ${args.join(' ')}`);
      assert.doesNotMatch(result.stderr, /internal error/);
    }
  });

  it('sends through the addon\'s sender thread from the bundle, and from the event loop without it', async () => {
    assertRoot();
    for (const thread of ['1', '0']) {
      const result = await run([CLI, 'sweep', '127.0.3.0/24', 'retries:0', '--json'], { env: { ...process.env, ZENSWEEP_SEND_HELPER: thread } });
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout) as { summary: { alive: number }; hosts: { icmp: { sent: number } }[] };
      assert.equal(report.summary.alive, 254, `ZENSWEEP_SEND_HELPER=${thread}`);
      assert.ok(report.hosts.every((host) => host.icmp.sent === 1), `ZENSWEEP_SEND_HELPER=${thread}: an echo sent twice`);
    }
  });

  it('also runs as dist/cli.js, which hands over to dist/cli.cjs', async () => {
    assertRoot();
    const result = await run([join(DIST, 'cli.js'), 'sweep', '127.0.0.0/30', '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { summary: { alive: number } }).summary.alive, 2);
  });

  it('runs from its modules when no bundle was built (tsc alone)', async () => {
    assertRoot();
    // Inside the project, so that node_modules is found as from dist/.
    const copy = mkdtempSync(join(ROOT, '.test-dist-'));
    try {
      cpSync(DIST, copy, { recursive: true, filter: (source) => source !== BUNDLES && !source.startsWith(`${BUNDLES}/`) });
      assert.ok(!existsSync(join(copy, 'bundle')));
      const result = await run([process.execPath, ...cliNodeFlags(), join(copy, 'cli.cjs'), 'sweep', '127.0.0.0/30', '--json']);
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout) as { summary: { alive: number } };
      assert.equal(report.summary.alive, 2);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
