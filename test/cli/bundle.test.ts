import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assertRoot } from '../support/root.js';
import { CLI, cliNodeFlags, run } from '../support/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = join(ROOT, 'dist');
const BUNDLES = join(DIST, 'bundle');

/** Loads each bundle as the CLI does, in a process with the CLI's Node flags, and says what V8 made of it. */
async function loadInChild(): Promise<Record<string, { cached: boolean }>> {
  const script = `
    const { loadBundle } = require(${JSON.stringify(join(DIST, 'bundle-loader.cjs'))});
    const cli = loadBundle('zensweep');
    const vendor = loadBundle('queue-vendor');
    console.log(JSON.stringify({
      zensweep: { cached: cli.cached },
      'queue-vendor': { cached: vendor.cached, worker: typeof vendor.exports.bullmq.Worker, redis: typeof vendor.exports.ioredis.Redis },
    }));`;
  const result = await run([process.execPath, ...cliNodeFlags(), '-e', script]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as Record<string, { cached: boolean }>;
}

describe('the built CLI: bundles and their code caches (npm run build)', () => {
  before(() => assert.ok(existsSync(CLI), `${CLI} is missing: npm test builds it first (npm run build)`));

  it('builds the bundles with code caches that V8 accepts under the shebang line flags', async () => {
    for (const file of ['zensweep.cjs', 'zensweep.cjs.cache', 'queue-vendor.cjs', 'queue-vendor.cjs.cache']) {
      assert.ok(existsSync(join(BUNDLES, file)), `dist/bundle/${file} is missing`);
    }
    const loaded = await loadInChild();
    assert.equal(loaded.zensweep?.cached, true, 'the zensweep bundle was compiled without its code cache');
    assert.equal(loaded['queue-vendor']?.cached, true, 'the queue-vendor bundle was compiled without its code cache');
    assert.deepEqual(loaded['queue-vendor'], { cached: true, worker: 'function', redis: 'function' });
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
