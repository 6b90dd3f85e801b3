import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { assertRoot } from '../support/root.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/sanitize-addon.sh', import.meta.url));
const SANITIZER_REPORT = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: \w+Sanitizer/;

/**
 * CI's sanitizer run: scripts/sanitize-addon.sh builds the ICMP socket addon with AddressSanitizer and
 * UndefinedBehaviorSanitizer (beside the normal build) and runs the addon's tests against it (argument checks, the
 * sockets on loopback, the engine on them, the stress with workers, the neighbour table's dumps, the TCP connects,
 * ping sockets run unprivileged in a namespace of their own): any report, or any
 * failure, fails this test.
 */
describe('the ICMP socket addon under AddressSanitizer and UndefinedBehaviorSanitizer', () => {
  before(assertRoot);

  it('builds the sanitized addon and passes its tests against it with no sanitizer report', { timeout: 600_000 }, async (t) => {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn(SCRIPT, [], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('error', reject);
      child.once('close', (exitCode) => resolve({ code: exitCode, output }));
    });
    const last = output.trim().split('\n').at(-1) ?? '';
    t.diagnostic(last);
    assert.doesNotMatch(output, SANITIZER_REPORT, output);
    assert.equal(code, 0, output);
    assert.match(last, /test files, [1-9]\d* tests passed against the ASan \+ UBSan build, no sanitizer report/);
  });
});
