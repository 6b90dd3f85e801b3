import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { SweepReport } from '../../src/core/report.js';
import { cliCommand } from '../support/cli.js';
import { createLab } from '../support/lab.js';
import type { Lab } from '../support/lab.js';
import { assertRoot } from '../support/root.js';

const RUNS = 36;
/** Sweeps running at once (they share the router, as two sweeps of one agent would). */
const AT_ONCE = 3;
/** Generous: a run takes about a second, two or three with both cores busy. */
const RUN_TIMEOUT_MS = 30_000;

/**
 * The sweep of the report that never ended: a routed range whose router answers host unreachable once ARP fails
 * behind it, with TCP ports, while both cores are busy. Timeouts of 200, 300 and 400 ms put each connect's timer
 * before, at and after the router's answer (about 300 ms), so ICMP errors, the sockets' own EHOSTUNREACH, timers
 * and retries meet for the same probes in every order.
 */
describe('zensweep sweep of a routed range whose router answers host unreachable, under CPU load', () => {
  let lab: Lab;
  const burners: ChildProcess[] = [];

  before(async () => {
    assertRoot();
    lab = await createLab();
    // No network: two busy loops in this namespace, one per core.
    for (let i = 0; i < 2; i++) burners.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  });
  after(async () => {
    for (const burner of burners) burner.kill('SIGKILL');
    await lab?.destroy();
  });

  it(`finishes every one of ${RUNS} sweeps, every probe ended and every address reported`, { timeout: 240_000 }, async (t) => {
    const a = lab.addresses;
    let finished = 0;
    let unreachablePorts = 0;
    const hung: string[] = [];
    const sweep = async (run: number): Promise<void> => {
      const timeout = 200 + (run % 3) * 100;
      const args = [a.arpFails.v4Cidr, 'tcp:1-6', `timeout:${timeout}`, 'retries:1', '--json'];
      const result = await lab.exec([...cliCommand(), 'sweep', ...args], { timeoutMs: RUN_TIMEOUT_MS });
      if (result.timedOut) {
        hung.push(`run ${run} (timeout:${timeout})`);
        return;
      }
      assert.equal(result.code, 0, `run ${run}: ${result.stderr}`);
      const report = JSON.parse(result.stdout) as SweepReport;
      assert.equal(report.complete, true, `run ${run}: ${report.stopped?.reason ?? 'incomplete'}`);
      assert.equal(report.summary.total, 254);
      for (const host of report.hosts) {
        assert.equal(host.unfinished, undefined, `run ${run}: ${host.ip} unfinished`);
        assert.equal(host.ports.length, 6);
        for (const port of host.ports) {
          if (port.state !== 'unreachable') continue;
          unreachablePorts += 1;
          assert.equal(port.reporter?.address, a.router.lan.v4, `run ${run}: ${host.ip}:${port.port} names the router`);
        }
      }
      assert.equal(report.hosts.find((h) => h.ip === a.arpFails.router)?.state, 'alive');
      finished += 1;
    };
    for (let run = 0; run < RUNS; run += AT_ONCE) {
      await Promise.all(Array.from({ length: Math.min(AT_ONCE, RUNS - run) }, (_, i) => sweep(run + i)));
    }
    t.diagnostic(`${finished} of ${RUNS} sweeps finished; ${unreachablePorts} ports answered by the router`);
    assert.deepEqual(hung, [], `sweeps that never ended (killed after ${RUN_TIMEOUT_MS} ms)`);
    assert.equal(finished, RUNS);
    assert.ok(unreachablePorts > 0, "the router's answers never reached a port: the race was not exercised");
  });
});
