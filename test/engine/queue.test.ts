import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeadlineQueue } from '../../src/engine/queue.js';

interface Probe {
  deadline: number;
  id: number;
  settled: boolean;
}

/**
 * A queue on a clock the test moves. Its timer is a real one, armed for (deadline − now) of this clock: moving the
 * clock past every deadline before that timer falls due makes one firing find them all due.
 */
function clockedQueue(): {
  queue: DeadlineQueue<Probe>;
  clock: { now: number };
  expired: Probe[];
  expiredCount: (count: number) => Promise<void>;
} {
  const clock = { now: 0 };
  const expired: Probe[] = [];
  let waiting: { count: number; resolve: () => void } | undefined;
  const queue = new DeadlineQueue<Probe>(
    (probe) => probe.settled,
    (probe) => {
      // As the queue's users do: what expired is settled, once (an item added twice may come up twice).
      if (probe.settled) return;
      probe.settled = true;
      expired.push(probe);
      if (waiting && expired.length >= waiting.count) waiting.resolve();
    },
    () => clock.now,
  );
  const expiredCount = (count: number): Promise<void> =>
    expired.length >= count ? Promise.resolve() : new Promise((resolve) => (waiting = { count, resolve }));
  return { queue, clock, expired, expiredCount };
}

const probe = (id: number): Probe => ({ deadline: 0, id, settled: false });

describe('DeadlineQueue', () => {
  it('keeps no bucket for the 10,000 distinct timeouts it saw once they expired, and a later firing looks at one', async () => {
    const { queue, clock, expired, expiredCount } = clockedQueue();
    for (let duration = 1; duration <= 10_000; duration++) queue.add(probe(duration), duration);
    assert.equal(queue.bucketCount, 10_000);
    clock.now = 20_000;
    await expiredCount(10_000);
    assert.deepEqual(
      expired.map((p) => p.id),
      Array.from({ length: 10_000 }, (_, i) => i + 1),
      'in the order of their deadlines',
    );
    assert.equal(queue.bucketCount, 0, 'a bucket goes when its last item does');
    const visitedBefore = queue.bucketsVisited;

    queue.add(probe(-1), 5);
    clock.now = 20_010;
    await expiredCount(10_001);
    assert.equal(queue.bucketsVisited - visitedBefore, 1, 'the firing looked at the one bucket with an item');
    assert.equal(queue.bucketCount, 0);
  });

  it('looks only at the due bucket when 10,000 others hold items that are not due', async () => {
    const { queue, clock, expired, expiredCount } = clockedQueue();
    try {
      for (let i = 0; i < 10_000; i++) queue.add(probe(i), 100_000 + i);
      queue.add(probe(-1), 1);
      clock.now = 50;
      await expiredCount(1);
      assert.deepEqual(
        expired.map((p) => p.id),
        [-1],
      );
      assert.equal(queue.bucketsVisited, 1);
      assert.equal(queue.bucketCount, 10_000);
    } finally {
      queue.clear();
    }
  });

  it('follows a head whose deadline went out of reach and came back: the items behind it still expire', { timeout: 10_000 }, async () => {
    const { queue, clock, expired, expiredCount } = clockedQueue();
    const [first, second, other] = [probe(1), probe(2), probe(3)];
    queue.add(first, 10);
    queue.add(second, 10);
    queue.add(other, 11);
    // An item put off for good while it heads its bucket (as an echo that was not sent after all once was)...
    first.deadline = Infinity;
    clock.now = 12;
    await expiredCount(1);
    assert.deepEqual(expired.map((p) => p.id), [3], 'the firing found the bucket\'s head not due');
    // ... and added again, still at the head of its bucket: the bucket must come back into reach.
    clock.now = 13;
    queue.add(first, 10);
    clock.now = 30;
    await expiredCount(3);
    assert.deepEqual(expired.map((p) => p.id).sort(), [1, 2, 3]);
    queue.clear();
  });

  it('expires every unsettled item once, at or after its deadline, and skips the settled ones', async () => {
    const expired: { probe: Probe; at: number }[] = [];
    let resolveAll: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (resolveAll = resolve));
    const probes: Probe[] = [];
    const queue = new DeadlineQueue<Probe>(
      (p) => p.settled,
      (p) => {
        expired.push({ probe: p, at: performance.now() });
        if (expired.length === probes.filter((q) => !q.settled).length) resolveAll();
      },
    );
    // Durations of a sweep with retries (timeout × 1.5^attempt), added in waves, some answered before they expire.
    const durations = [5, 8, 11, 17, 25, 5, 8, 40];
    for (let i = 0; i < 400; i++) {
      const p = probe(i);
      probes.push(p);
      queue.add(p, durations[i % durations.length] as number);
      if (i % 3 === 0) p.settled = true;
      if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await all;
    const ids = expired.map((e) => e.probe.id);
    assert.equal(new Set(ids).size, ids.length, 'no item expired twice');
    assert.deepEqual(
      [...ids].sort((x, y) => x - y),
      probes.filter((p) => !p.settled).map((p) => p.id),
    );
    for (const { probe: p, at } of expired) assert.ok(at >= p.deadline, `item ${p.id} expired before its deadline`);
    queue.clear();
  });
});
