/**
 * DeafWatch with a scripted clock and scripted blocking connections (no Redis): a connection is deaf only after
 * `deafAfterMs` with no answer, a slow answer (a PING waiting behind a blocking command) is not a false alarm, each
 * change is told once, an answer ends it, and a closing worker is never judged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Worker } from 'bullmq';
import { DeafWatch } from '../../src/agent/deaf-watch.js';
import type { DeafChange } from '../../src/agent/deaf-watch.js';

/** A worker whose blocking connection answers PING when the test says so. */
function scriptedWorker(name: string): { worker: Worker; answer: () => void; fail: () => void; asked: () => number } {
  let pending: { resolve: (v: string) => void; reject: (e: Error) => void } | undefined;
  let asked = 0;
  const client = {
    ping: () =>
      new Promise<string>((resolve, reject) => {
        asked += 1;
        pending = { resolve, reject };
      }),
  };
  const worker = { name, closing: undefined, backend: { blockingClient: Promise.resolve(client) } } as unknown as Worker;
  return {
    worker,
    answer: () => pending?.resolve('PONG'),
    fail: () => pending?.reject(new Error('Connection is closed.')),
    asked: () => asked,
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('DeafWatch', () => {
  it('calls a silent connection deaf after the bound, once, and well again at its first answer', async () => {
    let now = 0;
    const changes: DeafChange[] = [];
    const watch = new DeafWatch((c) => changes.push(c), { deafAfterMs: 25_000, now: () => now });
    const lo = scriptedWorker('sweep.lo');
    const reports = scriptedWorker('sweep-reports');
    watch.watch(lo.worker);
    watch.watch(reports.worker);

    // A PING that waits 9 s behind a blocking command, then answers: not deaf.
    watch.check();
    await settle();
    assert.equal(lo.asked(), 1);
    now = 9000;
    watch.check();
    lo.answer();
    reports.answer();
    await settle();
    assert.deepEqual(watch.deaf(), []);

    // Then silence: asked again, no answer; a torn-down connection's rejection is no answer either.
    now = 10_000;
    watch.check();
    await settle();
    lo.fail();
    await settle();
    now = 33_000; // 24 s since its answer
    watch.check();
    await settle();
    assert.deepEqual(watch.deaf(), []);
    now = 34_001;
    reports.answer();
    await settle();
    watch.check();
    await settle();
    assert.deepEqual(watch.deaf(), [{ queue: 'sweep.lo', silentMs: 25_001 }]);
    watch.check();
    assert.deepEqual(changes, [{ deaf: true, queues: [{ queue: 'sweep.lo', silentMs: 25_001 }] }]);

    now = 40_000;
    lo.answer();
    await settle();
    assert.deepEqual(watch.deaf(), []);
    // Told at the next round.
    assert.equal(changes.length, 1);
    now = 41_000;
    watch.check();
    assert.deepEqual(changes.at(-1), { deaf: false, queues: [{ queue: 'sweep.lo', silentMs: 31_000 }] });
    assert.equal(changes.length, 2);
  });

  it('never judges a worker that is closing', async () => {
    let now = 0;
    const changes: unknown[] = [];
    const watch = new DeafWatch((c) => changes.push(c), { deafAfterMs: 1000, now: () => now });
    const closing = scriptedWorker('sweep.lo');
    (closing.worker as unknown as { closing: Promise<void> }).closing = Promise.resolve();
    watch.watch(closing.worker);
    now = 60_000;
    watch.check();
    await settle();
    assert.equal(closing.asked(), 0);
    assert.deepEqual(changes, []);
  });

  it('counts no silence while Redis is down (the outage is said elsewhere), only from when it is back', async () => {
    let now = 0;
    let down = false;
    const changes: DeafChange[] = [];
    const watch = new DeafWatch((c) => changes.push(c), { deafAfterMs: 25_000, now: () => now, outage: () => down });
    const lo = scriptedWorker('sweep.lo');
    watch.watch(lo.worker);
    watch.check();
    down = true;
    for (now = 2000; now <= 60_000; now += 2000) watch.check();
    assert.deepEqual(changes, []);
    down = false;
    now = 84_000;
    watch.check();
    assert.deepEqual(watch.deaf(), [], '24 s after the outage');
    now = 86_000;
    watch.check();
    assert.deepEqual(watch.deaf(), [{ queue: 'sweep.lo', silentMs: 26_000 }]);
  });
});
