/**
 * The chunks of an agent that left. A `from:all` sweep puts each agent's copy of its chunks on that agent's own
 * queue, which no other agent takes: if the agent leaves (stopped, killed, cut off) before running them, they would
 * wait forever, and their sweep's report with them. Every agent looks, now and then, for the own queue of an agent
 * no longer in the registry, and ends what waits there (and, once BullMQ finds it stalled, what was running there)
 * as failed, saying the agent left: the report then says that agent's view is missing — its trouble, not the
 * hosts'.
 */
import type { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { bullmq } from '../queue/load.js';
import { KEY_PREFIX, agentQueuesKey, parseAgentQueueName } from '../queue/names.js';
import type { AgentRegistry } from '../queue/registry.js';

/** How often an agent looks for queues of agents that left, in ms. */
export const ORPHAN_CHECK_MS = 5000;
/**
 * How often the worker that ends an orphaned queue's chunks looks for a running chunk whose agent died, in ms: it is
 * found after two looks without its lock, and its lock lasts ZENSWEEP_LOCK_MS (30 s by default) after the death.
 */
const STALLED_CHECK_MS = 5000;
/** Only one agent ends one queue's chunks at a time: it holds this lock, in ms, renewed at each look. */
const LOCK_MS = 4 * ORPHAN_CHECK_MS;

/** The reason each orphaned chunk fails with: it reaches the report as the reason its vantage is missing. */
export function leftReason(group: string, agent: string): string {
  return `agent ${agent} of ${group} left before it ran this chunk`;
}

export class OrphanedChunks {
  /** Queue name → the worker ending its chunks, and a handle to count what is left there. */
  private readonly ending = new Map<string, { worker: Worker; queue: Queue }>();
  private timer: NodeJS.Timeout | undefined;
  private looking = false;

  constructor(
    private readonly deps: {
      connection: Redis;
      registry: AgentRegistry;
      /** This agent, `GROUP/ID`: the lock's value (it renews only its own), and whose own queue it leaves alone. */
      self: string;
      log: Logger;
      prefix?: string;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.look(), ORPHAN_CHECK_MS);
  }

  /** Stops looking and closes the workers it opened (what they hold fails again elsewhere). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const ending = [...this.ending.values()];
    this.ending.clear();
    await Promise.all(ending.map(async ({ worker, queue }) => Promise.all([worker.close(true), queue.close()])));
  }

  /** One look: each own queue in the set whose agent is gone is ended, or forgotten once empty. */
  async look(): Promise<void> {
    if (this.looking) return;
    this.looking = true;
    try {
      const { connection } = this.deps;
      const prefix = this.deps.prefix ?? KEY_PREFIX;
      const names = await connection.smembers(agentQueuesKey(prefix));
      for (const name of names) {
        const owner = parseAgentQueueName(name);
        // Its own queue is never orphaned while it looks (its heartbeat may only be late).
        if (!owner || `${owner.group}/${owner.agent}` === this.deps.self || (await this.deps.registry.isListed(owner.group, owner.agent))) {
          await this.release(name);
          continue;
        }
        const lockKey = `${prefix}:orphans-lock:${name}`;
        const held = (await connection.get(lockKey)) === this.deps.self;
        if (!held && (await connection.set(lockKey, this.deps.self, 'PX', LOCK_MS, 'NX')) !== 'OK') continue;
        await connection.pexpire(lockKey, LOCK_MS);
        const ending = this.ending.get(name);
        const queue = ending?.queue ?? new bullmq.Queue(name, { connection }).on('error', () => undefined);
        const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children');
        if (Object.values(counts).every((count) => count === 0)) {
          // Nothing (more) waits there: forgotten, until a sweep gives that agent chunks again.
          await connection.srem(agentQueuesKey(prefix), name);
          if (ending) await this.release(name);
          else await queue.close();
          await connection.del(lockKey);
          if (ending) this.deps.log.info({ event: 'orphaned_chunks_ended', queue: name, agent: owner.agent, group: owner.group });
        } else if (!ending) {
          this.open(name, queue, owner.group, owner.agent);
        }
      }
    } catch (error) {
      // Redis away: the next look tries again.
      this.deps.log.debug({ event: 'orphan_check_failed', message: (error as Error).message });
    } finally {
      this.looking = false;
    }
  }

  private open(name: string, queue: Queue, group: string, agent: string): void {
    const reason = leftReason(group, agent);
    const worker = new bullmq.Worker(
      name,
      async (): Promise<unknown> => {
        throw new bullmq.UnrecoverableError(reason);
      },
      {
        connection: this.deps.connection,
        concurrency: 32,
        stalledInterval: STALLED_CHECK_MS,
        // A chunk found stalled goes back to wait once, where this worker fails it with the reason above.
        maxStalledCount: 1,
      },
    );
    worker.on('error', (error) => this.deps.log.debug({ event: 'orphan_worker_error', queue: name, message: error.message }));
    this.ending.set(name, { worker, queue });
    this.deps.log.warn({ event: 'orphaned_chunks', queue: name, agent, group });
  }

  private async release(name: string): Promise<void> {
    const ending = this.ending.get(name);
    if (!ending) return;
    this.ending.delete(name);
    await Promise.all([ending.worker.close(true), ending.queue.close()]);
  }
}
