/**
 * What every service's metrics share: a Registry of its own (never prom-client's global one, so tests can run
 * several services in one process), the Node process metrics, and the state of its Redis connections.
 *
 * Names follow Prometheus conventions: `zensweep_` first, units in the name (`_seconds`), `_total` on counters,
 * and label values from small fixed sets (a state, a kind, a group or a Slack method), never an address or a user.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import type { QueueDepth } from '../queue/depth.js';
import { queueDepth } from '../queue/depth.js';

/** How long a scrape waits for Redis before it reports what it has, in ms. */
export const COLLECT_TIMEOUT_MS = 1000;

export function serviceRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * A counter with one label. The label's known values start at 0, so a rate() over them has a beginning; values
 * seen later (a Slack method) appear when first counted.
 */
export function labelledCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labels: readonly L[],
  initial: { label: L; values: readonly string[] } | undefined = undefined,
): Counter<L> {
  const counter = new Counter<L>({ name, help, labelNames: labels, registers: [registry] });
  for (const value of initial?.values ?? []) counter.inc({ [initial?.label as L]: value } as Partial<Record<L, string>>, 0);
  return counter;
}

/** Resolves with `work`'s value, or undefined once `timeoutMs` has passed or it failed. */
export async function withinTime<T>(work: Promise<T>, timeoutMs = COLLECT_TIMEOUT_MS): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      }),
    ]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** `zensweep_redis_up`: 1 while the service's Redis connections are all ready, else 0. */
export function redisUpGauge(registry: Registry, connections: () => readonly Redis[]): Gauge {
  return new Gauge({
    name: 'zensweep_redis_up',
    help: 'Whether every Redis connection of this process is ready (1) or not (0).',
    registers: [registry],
    collect() {
      this.set(connections().every((c) => c.status === 'ready') ? 1 : 0);
    },
  });
}

/**
 * `zensweep_queue_jobs{group,state}` and `zensweep_queue_oldest_waiting_seconds{group}` for the sweep queues of
 * the groups `queues()` returns. Read at scrape time; a group whose queue cannot be read in time is left out.
 */
export function queueGauges(registry: Registry, queues: () => Promise<ReadonlyMap<string, Queue>>): void {
  let depths: Promise<Map<string, QueueDepth>> | undefined;
  // Both gauges are collected in one scrape: read the queues once for the two.
  const read = (): Promise<Map<string, QueueDepth>> => {
    depths ??= (async () => {
      const found = new Map<string, QueueDepth>();
      const all = (await withinTime(queues())) ?? new Map<string, Queue>();
      await Promise.all(
        [...all].map(async ([group, queue]) => {
          const depth = await withinTime(queueDepth(queue));
          if (depth) found.set(group, depth);
        }),
      );
      return found;
    })().finally(() => setImmediate(() => (depths = undefined)));
    return depths;
  };
  new Gauge({
    name: 'zensweep_queue_jobs',
    help: 'Chunks in a group’s sweep queue, by state (waiting, active, delayed).',
    labelNames: ['group', 'state'] as const,
    registers: [registry],
    async collect() {
      const found = await read();
      this.reset();
      for (const [group, depth] of found) {
        this.set({ group, state: 'waiting' }, depth.waiting);
        this.set({ group, state: 'active' }, depth.active);
        this.set({ group, state: 'delayed' }, depth.delayed);
      }
    },
  });
  new Gauge({
    name: 'zensweep_queue_oldest_waiting_seconds',
    help: 'How long the oldest waiting chunk of a group’s sweep queue has waited, in seconds (0 when none waits).',
    labelNames: ['group'] as const,
    registers: [registry],
    async collect() {
      const found = await read();
      this.reset();
      for (const [group, depth] of found) this.set({ group }, depth.oldestWaitingMs / 1000);
    },
  });
}
