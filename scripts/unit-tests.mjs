#!/usr/bin/env node
/**
 * `npm run test:unit`: the tests that run in their own process alone — no root, no Redis, no network namespace, no
 * built CLI, no service started (core, views, grammar, policy, codecs, the scheduler with scripted probers…). Chosen
 * by what they import: a test that imports one of the support modules below starts something real, and belongs to
 * `npm test` only (which runs every test, these too). `--list` prints the files instead of running them.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Support modules that start a real thing: Redis, a service, a namespace, the built CLI, root's sockets. */
const STARTS_SOMETHING = [
  'agents',
  'bot',
  'cli',
  'echo-burst',
  'engine-runner',
  'failover',
  'fake-slack',
  'freeze-proxy',
  'lab',
  'loopback-netns',
  'neighbour-limit',
  'path-lab',
  'phone-shot',
  'ping-netns',
  'redis',
  'redis-cluster',
  'redis-sentinel',
  'refused',
  'root',
  'service',
  'vantage-lab',
];
const IMPORT = new RegExp(`from '(?:\\.\\.?/)+(?:support/)?(?:${STARTS_SOMETHING.join('|')})\\.js'`);

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const unit = testFiles(join(root, 'test'))
  .filter((file) => !IMPORT.test(readFileSync(file, 'utf8')))
  .map((file) => relative(root, file))
  .sort();

if (process.argv.includes('--list')) {
  process.stdout.write(`${unit.join('\n')}\n`);
} else {
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...unit], { cwd: root, stdio: 'inherit' });
  process.exit(run.status ?? 1);
}
