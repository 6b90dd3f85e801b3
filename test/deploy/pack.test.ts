/**
 * ZenSweep installs as command-line tools do: the tarball `npm pack` makes holds the build and the ICMP addon's
 * sources (not the tests), and `npm install -g` of it into an empty prefix builds the native addons and puts a
 * working `zensweep` on that prefix's PATH, which sweeps loopback with a raw socket (as root) and answers --help.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { SweepReport } from '../../src/core/report.js';
import { run } from '../support/cli.js';
import { assertRoot } from '../support/root.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('npm pack, then npm install -g of the tarball (a prefix of its own)', () => {
  let dir: string;
  let tarball: string;

  before(async () => {
    assertRoot();
    dir = await mkdtemp(join(tmpdir(), 'zs-pack-'));
    // The build is npm test's own (it builds first): packed as it is, without building it again.
    const packed = await run(['npm', 'pack', '--ignore-scripts', '--json', '--pack-destination', dir, ROOT], { timeoutMs: 120_000 });
    assert.equal(packed.code, 0, packed.stderr);
    const [summary] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    assert.ok(summary, packed.stdout);
    tarball = join(dir, summary.filename);
    const paths = summary.files.map((f) => f.path);
    assert.ok(paths.includes('dist/cli.cjs'), 'the command');
    assert.ok(paths.includes('native/icmp-socket/binding.gyp') && paths.some((p) => p.startsWith('native/icmp-socket/src/')), 'the addon’s sources');
    assert.deepEqual(paths.filter((p) => /^(test|bench|src|\.ci)\/|\.env$|native\/icmp-socket\/build\//.test(p)), [], 'no tests, sources, secrets or builds');
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('installs a zensweep that runs a loopback sweep with its own addons', { timeout: 600_000 }, async (t) => {
    const prefix = join(dir, 'prefix');
    const started = performance.now();
    const installed = await run(['npm', 'install', '-g', '--no-audit', '--no-fund', '--prefix', prefix, tarball], { timeoutMs: 540_000 });
    assert.equal(installed.code, 0, `${installed.stdout}\n${installed.stderr}`);
    t.diagnostic(`npm install -g of the tarball: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const zensweep = join(prefix, 'bin', 'zensweep');
    const env = { PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` };
    const help = await run(['zensweep', '--help'], { env });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^usage: zensweep <command>/);
    const swept = await run([zensweep, 'sweep', '127.0.0.0/30', '--json'], { env, timeoutMs: 60_000 });
    assert.equal(swept.code, 0, swept.stderr);
    const report = JSON.parse(swept.stdout) as SweepReport;
    assert.equal(report.summary.alive, 2);
    // Root: a raw socket, through the ICMP addon built by the install.
    assert.equal(report.icmp?.mode, 'raw', JSON.stringify(report.icmp));
    assert.equal(swept.stderr, '');
  });
});
