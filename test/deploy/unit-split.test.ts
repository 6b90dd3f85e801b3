/**
 * `npm run test:unit` is what a contributor without root runs first: the in-process tests, as an unprivileged user
 * (nobody), with no Redis setting and nothing but PATH in the environment. They all pass there; `npm test` runs them
 * again with everything else.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run } from '../support/cli.js';
import { assertRoot } from '../support/root.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('npm run test:unit (scripts/unit-tests.mjs)', () => {
  it('passes as nobody, without Redis, and holds only tests that start nothing', { timeout: 300_000 }, async (t) => {
    assertRoot();
    const listed = await run(['node', `${ROOT}scripts/unit-tests.mjs`, '--list']);
    const files = listed.stdout.trim().split('\n');
    assert.ok(files.length >= 30, listed.stdout);
    for (const file of files) assert.doesNotMatch(readFileSync(`${ROOT}${file}`, 'utf8'), /support\/(root|redis|agents|bot|lab|cli|fake-slack)\.js/, file);
    const started = performance.now();
    const result = await run(
      ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-i', `PATH=${process.env.PATH ?? ''}`, 'HOME=/tmp', 'node', `${ROOT}scripts/unit-tests.mjs`],
      { timeoutMs: 280_000 },
    );
    assert.equal(result.code, 0, `${result.stdout.slice(-4000)}\n${result.stderr}`);
    assert.match(result.stdout, /\nℹ fail 0\n/);
    const tests = Number(/\nℹ tests (\d+)\n/.exec(result.stdout)?.[1]);
    assert.ok(tests >= 300, `${tests} tests`);
    t.diagnostic(`npm run test:unit as nobody: ${tests} tests in ${files.length} files, ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
});
