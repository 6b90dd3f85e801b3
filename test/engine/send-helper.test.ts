import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { parseSweepText } from '../../src/core/grammar.js';
import { runSweep } from '../../src/engine/sweep.js';
import { assertRoot } from '../support/root.js';

const dying = fileURLToPath(new URL('../support/dying-send-helper.mjs', import.meta.url));

describe('the send helper process (real raw sockets on loopback)', () => {
  before(assertRoot);

  it('sweeps through the helper and gets every reply, with RTTs from the stamped send time', async () => {
    const report = await runSweep(parseSweepText('127.0.0.0/20 retries:0'), { sendHelper: true });
    assert.equal(report.summary.alive, 4094);
    for (const host of report.hosts) {
      const rtt = host.icmp.rtt?.avg ?? -1;
      assert.ok(rtt >= 0 && rtt < 1000, `${host.ip}: rtt ${rtt}`);
    }
  });

  it('loses nothing when the helper dies holding orders: they are sent from the main process', async () => {
    const report = await runSweep(parseSweepText('127.0.0.0/20 retries:0'), {
      sendHelper: true,
      sendHelperModule: dying,
    });
    assert.equal(report.summary.total, 4094);
    assert.equal(report.summary.alive, 4094, 'orders the dead helper never sent must still be sent');
    assert.ok(report.hosts.every((h) => h.icmp.sent === 1));
  });

  it('sends everything itself when the helper cannot start', async () => {
    const report = await runSweep(parseSweepText('127.0.1.0/24 retries:0'), {
      sendHelper: true,
      sendHelperModule: '/nonexistent/send-helper.js',
    });
    assert.equal(report.summary.alive, 254);
  });
});
