import type { Worker } from 'bullmq';

/**
 * Whether each worker's blocking connection (the one that waits for work, BZPOPMIN) still answers. A connection can
 * be up and deaf: half-open after a dropped NAT entry, or left on a server that is no longer the master. BullMQ then
 * abandons the blocked command after its timeout and reconnects (its own watchdog), but nothing says so, and a
 * connection that goes deaf again each time leaves the agent taking work late or never while it looks healthy.
 *
 * So a PING is sent on each blocking connection every `everyMs`: Redis answers it as soon as the blocking command
 * before it returns (within BullMQ's block timeout, at most 10 s). A connection with no answer for `deafAfterMs` is
 * deaf: `deaf()` names it (for /readyz and the heartbeat) and `onChange` is told once when it goes deaf and once when
 * it answers again.
 */

/** BullMQ blocks at most 10 s and gives up on a blocked command a second later: twice that with room. */
export const DEAF_AFTER_MS = 25_000;
const CHECK_EVERY_MS = 2000;

export interface DeafQueue {
  queue: string;
  /** Milliseconds since its blocking connection last answered. */
  silentMs: number;
}

interface Watched {
  worker: Worker;
  lastAnswer: number;
  /** When the PING still unanswered was sent; undefined when none is. */
  askedAt: number | undefined;
  deaf: boolean;
}

/** The blocking client of a worker (BullMQ's Redis backend), when it has one: undefined for another backend. */
async function blockingClientOf(worker: Worker): Promise<{ ping(): Promise<string> } | undefined> {
  const backend = worker.backend as { blockingClient?: Promise<unknown> } | undefined;
  const client = await backend?.blockingClient;
  return client && typeof (client as { ping?: unknown }).ping === 'function' ? (client as { ping(): Promise<string> }) : undefined;
}

/** What changed in one round: the queues whose connection went deaf, or answered again. */
export interface DeafChange {
  deaf: boolean;
  queues: DeafQueue[];
}

export class DeafWatch {
  private readonly watched: Watched[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly everyMs: number;
  private readonly deafAfterMs: number;
  private readonly outage: () => boolean;
  /** Answered again since the last round: told together at the next. */
  private cameBack: DeafQueue[] = [];

  /**
   * @param onChange told once per round of the queues that went deaf in it, and once of those that answered again.
   * @param options.outage whether Redis is known to be unreachable (RedisConnections.down): then every connection is
   *   silent, which is the outage (said once, elsewhere), not deafness; silence counts from its end.
   */
  constructor(
    private readonly onChange: (change: DeafChange) => void,
    options: { everyMs?: number; deafAfterMs?: number; now?: () => number; outage?: () => boolean } = {},
  ) {
    this.everyMs = options.everyMs ?? CHECK_EVERY_MS;
    this.deafAfterMs = options.deafAfterMs ?? DEAF_AFTER_MS;
    this.outage = options.outage ?? ((): boolean => false);
    if (options.now) this.now = options.now;
  }

  private now = (): number => performance.now();

  watch(worker: Worker): void {
    this.watched.push({ worker, lastAnswer: this.now(), askedAt: undefined, deaf: false });
  }

  start(): void {
    this.timer ??= setInterval(() => this.check(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The queues whose blocking connection has not answered for `deafAfterMs`, with how long. */
  deaf(): DeafQueue[] {
    const now = this.now();
    return this.watched.filter((w) => w.deaf).map((w) => ({ queue: w.worker.name, silentMs: now - w.lastAnswer }));
  }

  /** One round: tells what answered again, asks each connection not already waiting, and judges each by its last answer. */
  check(): void {
    const now = this.now();
    if (this.cameBack.length > 0) {
      this.onChange({ deaf: false, queues: this.cameBack });
      this.cameBack = [];
    }
    const down = this.outage();
    const wentDeaf: DeafQueue[] = [];
    for (const w of this.watched) {
      if (w.worker.closing) continue;
      if (down) {
        w.lastAnswer = now;
        continue;
      }
      // Asked again when the last PING settled, or when it has waited past the bound: a PING that ioredis carried
      // over to a new connection after BullMQ tore the old one down may never settle.
      if (w.askedAt === undefined || now - w.askedAt > this.deafAfterMs) this.ask(w, now);
      const silentMs = now - w.lastAnswer;
      if (!w.deaf && silentMs > this.deafAfterMs) {
        w.deaf = true;
        wentDeaf.push({ queue: w.worker.name, silentMs });
      }
    }
    if (wentDeaf.length > 0) this.onChange({ deaf: true, queues: wentDeaf });
  }

  private ask(w: Watched, now: number): void {
    w.askedAt = now;
    void blockingClientOf(w.worker)
      .then((client) => client?.ping())
      .then(
        () => this.answered(w),
        // Rejected when BullMQ tears the connection down (its watchdog, a close): no answer, asked again next round.
        () => undefined,
      )
      .finally(() => {
        if (w.askedAt === now) w.askedAt = undefined;
      });
  }

  private answered(w: Watched): void {
    const now = this.now();
    const silentMs = now - w.lastAnswer;
    w.lastAnswer = now;
    if (w.deaf) {
      w.deaf = false;
      this.cameBack.push({ queue: w.worker.name, silentMs });
    }
  }
}
