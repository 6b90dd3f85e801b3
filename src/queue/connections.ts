import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { Shutdown } from '../shutdown.js';
import { describeRedis, OUTAGE_REMIND_MS, type RedisNode, type RedisTarget } from '../config-redis.js';
import { refusalOf } from '../core/redis-refusal.js';
import { clusterOptions, ioredisOptions, RedisRefusedError } from './connect.js';
import { ioredis } from './load.js';

/** How long `close()` waits for the connections to say goodbye to Redis before cutting them, in ms. */
const QUIT_MS = 1000;

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/**
 * Whether an error only says that Redis could not be reached (as opposed to, say, a failed script): BullMQ forwards
 * its connections' errors from its workers and queues, and those are already counted by {@link RedisConnections}.
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && CONNECTION_ERROR_CODES.has(code)) return true;
  return (
    error.name === 'ConnectionClosedError' ||
    error.message === 'Connection is closed.' ||
    // Through Sentinels, while the master they name is down (a failover under way): ioredis's own words.
    error.message.startsWith('All sentinels are unreachable') ||
    [...CONNECTION_ERROR_CODES].some((c) => error.message.includes(c))
  );
}

/**
 * Every ioredis connection of one process to one Redis: made here (with `maxRetriesPerRequest: null`, as BullMQ
 * workers need), watched here, and cut here when the process stops. Duplicates are watched too, so the
 * connections that BullMQ makes for itself (a worker's blocking connection, QueueEvents) count as well.
 *
 * While Redis cannot be reached every connection fails on each reconnection attempt (several a second): instead of a
 * line for each, the outage is logged once when it starts (`redis_down`, with where, never a password), again
 * at most once a minute while it lasts (`redis_still_down`; ZENSWEEP_REDIS_REMIND_MS), and once when it ends (`redis_up`, with how long it
 * lasted). The outage ends when no connection that failed is still waiting to reconnect.
 *
 * When Redis refuses (a wrong password, a user without a command ZenSweep needs, a certificate no CA vouches for),
 * retrying cannot help: `refused` resolves with the reason, once, and the service ends with it (exitOnRefusal: one
 * line, exit 2) instead of retrying forever.
 */
export class RedisConnections {
  private readonly clients = new Set<Redis>();
  /** Connections whose last news was an error, not `ready`. */
  private readonly failing = new Set<Redis>();
  private readonly redacted: string;
  private readonly remindEveryMs: number;
  private readonly now: () => number;
  private downSince: number | undefined;
  private lastLine = 0;
  private closing = false;
  private refuse: ((error: RedisRefusedError) => void) | undefined;
  private refusal: RedisRefusedError | undefined;
  /** Resolves, once, with why Redis refused this process (never while it only cannot be reached). */
  readonly refused: Promise<RedisRefusedError> = new Promise((resolve) => (this.refuse = resolve));

  constructor(
    private readonly target: RedisTarget,
    private readonly log: Logger,
    options: {
      /** How often an outage still going on is logged again, in ms (ZENSWEEP_REDIS_REMIND_MS), default {@link OUTAGE_REMIND_MS}. */
      remindEveryMs?: number;
      /** The clock, in ms (default Date.now). */
      now?: () => number;
    } = {},
  ) {
    this.redacted = describeRedis(target);
    this.remindEveryMs = options.remindEveryMs ?? OUTAGE_REMIND_MS;
    this.now = options.now ?? Date.now;
  }

  /** Whether Redis is known to be unreachable right now. */
  get down(): boolean {
    return this.downSince !== undefined;
  }

  /** A new connection, watched like all the others, and so are its duplicates. */
  open(options: RedisOptions = {}): Redis {
    const all: RedisOptions = { maxRetriesPerRequest: null, ...options };
    if (this.target.kind === 'cluster') return new WatchedCluster(this, this.target.nodes, clusterOptions(this.target, all)) as unknown as Redis;
    return new WatchedRedis(this, { ...ioredisOptions(this.target), ...all });
  }

  /**
   * A listener for the `error` events of a BullMQ worker or queue: logs them as `event`, except those that only say
   * Redis cannot be reached (the connection is watched here, and the outage is logged once).
   */
  errorLogger(event: string, fields: Record<string, unknown> = {}): (error: Error) => void {
    return (error) => {
      if (this.closing || isConnectionError(error)) return;
      // A command the ACL user may not run comes back on the command, not on the connection.
      if (this.isRefusal(error)) return;
      this.log.warn({ event, ...fields, message: this.clean(error.message) });
    };
  }

  /**
   * Quits every connection (at most `quitMs`, and not at all while Redis is away: a quit waits behind the commands
   * queued for Redis), then cuts whatever is still open, so that no reconnection timer keeps the process alive.
   * From here on nothing more is logged about the connections: they end because they were asked to.
   */
  async close(quitMs = QUIT_MS): Promise<void> {
    this.closing = true;
    if (!this.down) {
      await new Shutdown().step(
        'quit',
        quitMs,
        Promise.all([...this.clients].map((client) => client.quit().catch(() => undefined))),
      );
    }
    for (const client of this.clients) client.disconnect();
    this.clients.clear();
    this.failing.clear();
  }

  /** Called by every connection made here, as it is made. */
  watch(client: Redis): void {
    this.clients.add(client);
    client.on('error', (error: Error) => this.failed(client, error));
    client.on('ready', () => this.ready(client));
    // BullMQ ends and connects its blocking connection again now and then: an ended one is forgotten until then.
    client.on('connecting', () => {
      if (!this.closing) this.clients.add(client);
    });
    client.on('end', () => {
      this.clients.delete(client);
      this.failing.delete(client);
    });
  }

  /** Whether `error` says Redis refused this process; the first such error resolves `refused`. */
  private isRefusal(error: Error): boolean {
    const why = refusalOf(error);
    if (why === undefined) return false;
    if (this.refusal === undefined) {
      this.refusal = new RedisRefusedError(`Redis at ${this.redacted} refused ZenSweep: ${why}`, { cause: error });
      this.refuse?.(this.refusal);
    }
    return true;
  }

  private failed(client: Redis, error: Error): void {
    // After a refusal the process ends (exitOnRefusal): what its connections run into meanwhile is not an outage.
    if (this.closing || this.isRefusal(error) || this.refusal !== undefined) return;
    this.failing.add(client);
    const now = this.now();
    if (this.downSince === undefined) {
      this.downSince = now;
      this.lastLine = now;
      this.log.warn(
        { event: 'redis_down', redis: this.redacted, message: this.clean(error.message) },
        'Redis cannot be reached',
      );
    } else if (now - this.lastLine >= this.remindEveryMs) {
      this.lastLine = now;
      this.log.warn({ event: 'redis_still_down', redis: this.redacted, downMs: now - this.downSince, message: this.clean(error.message) });
    }
  }

  private ready(client: Redis): void {
    this.failing.delete(client);
    if (this.closing || this.downSince === undefined || this.failing.size > 0) return;
    const downMs = this.now() - this.downSince;
    this.downSince = undefined;
    this.log.info({ event: 'redis_up', redis: this.redacted, downMs }, 'Redis answers again');
  }

  /** An error message without the passwords, should it hold one. */
  private clean(message: string): string {
    let cleaned = message;
    for (const secret of [this.target.password, this.target.kind === 'sentinel' ? this.target.sentinelPassword : undefined]) {
      if (secret !== undefined && secret.length >= 4) cleaned = cleaned.split(secret).join('***');
    }
    return cleaned;
  }
}

/** An ioredis connection that tells its {@link RedisConnections} of itself and of every duplicate made from it. */
class WatchedRedis extends ioredis.Redis {
  constructor(
    private readonly owner: RedisConnections,
    options: RedisOptions,
  ) {
    super(options);
    owner.watch(this);
  }

  override duplicate(override?: Partial<RedisOptions>): Redis {
    return new WatchedRedis(this.owner, { ...this.options, ...override });
  }
}

/** A cluster connection that tells its {@link RedisConnections} of itself and of every duplicate made from it. */
class WatchedCluster extends ioredis.Cluster {
  constructor(
    private readonly owner: RedisConnections,
    private readonly nodesGiven: RedisNode[],
    options: ClusterOptions,
  ) {
    super(nodesGiven, options);
    owner.watch(this as unknown as Redis);
  }

  override duplicate(overrideStartupNodes?: RedisNode[], overrideOptions?: ClusterOptions): Cluster {
    return new WatchedCluster(this.owner, overrideStartupNodes ?? this.nodesGiven, { ...this.options, ...overrideOptions });
  }
}
