/**
 * The command line's side of the door (src/door/): `zensweep submit`, `agents`, `history` and `cancel` are requests
 * like any from Slack — judged, counted against the requester's running limit, audited — from `user@host` in the
 * channel `cli`. Whoever holds the Redis credentials is trusted with what the agents cover (the policy of Slack
 * channels does not apply; each agent still probes only its own networks), and starts work by enqueueing it.
 */
import { hostname, userInfo } from 'node:os';
import type { Redis } from 'ioredis';
import { AuditTrail } from '../door/audit.js';
import { Door } from '../door/door.js';
import type { DoorRequest } from '../door/kind.js';
import { OPEN_POLICY } from '../door/policy.js';
import { RequestRecords } from '../door/requests.js';
import type { Starter } from '../door/services.js';
import { RequestSlots } from '../door/slots.js';
import { boundedInt } from '../config-env.js';
import { connectRedis } from '../queue/connect.js';
import { redisTargetFromEnv } from '../config-redis.js';
import { Dispatcher } from '../queue/dispatcher.js';
import type { SweepFlow } from '../queue/dispatcher.js';
import { HistoryStore } from '../queue/history.js';
import { HostJobs } from '../queue/host-jobs.js';
import { ResultStore } from '../queue/results.js';
import type { CommandIo } from './sweep-command.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * The Redis of these commands: REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES (with REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS_CA), or
 * the local default; a bad setting is a ConfigError, a refusal a RedisRefusedError (both exit 2).
 */
export function connect(io: CommandIo): Promise<Redis> {
  return connectRedis(redisTargetFromEnv(io.env, DEFAULT_REDIS_URL));
}

/** Who asks from this machine: `user@host`. */
export function requester(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container with an arbitrary uid): keep 'unknown'.
  }
  return `${user}@${hostname()}`;
}

/** The door of one command-line run, and what its commands use besides. */
export interface CliDoor {
  door: Door;
  dispatcher: Dispatcher;
  hostJobs: HostJobs;
  slots: RequestSlots;
  /** The jobs of a sweep this run started: what its waiter enqueues again if Redis loses the sweep whole. */
  flowOf(sweepId: string): SweepFlow | undefined;
  /** The request of this run, in these words. */
  request(text: string): DoorRequest;
  close(): Promise<void>;
}

/** Opens the door for one run on `redis`, with `maxAddresses` as the sweep cap. */
export function cliDoor(io: CommandIo, redis: Redis, maxAddresses?: number): CliDoor {
  const dispatcher = new Dispatcher({ connection: redis, ...(maxAddresses !== undefined ? { maxAddresses } : {}) });
  const hostJobs = new HostJobs(redis);
  const slots = new RequestSlots(redis, boundedInt(io.env.ZENSWEEP_MAX_SWEEPS_PER_USER, 3, 'ZENSWEEP_MAX_SWEEPS_PER_USER', 1, 1000));
  const flows = new Map<string, SweepFlow>();
  const start: Starter = {
    sweep: async ({ flow }) => {
      await dispatcher.submitFlow(flow);
      flows.set(flow.report.sweepId, flow);
    },
    hostJob: ({ job }) => hostJobs.enqueue(job),
  };
  const door = new Door({
    policy: OPEN_POLICY,
    // Audited in Redis only: the command line has no service log (and loading pino would cost each start ~25 ms).
    audit: new AuditTrail(redis, { info: () => undefined, warn: () => undefined }),
    slots,
    requests: new RequestRecords(redis),
    services: { dispatcher, history: new HistoryStore(redis), results: new ResultStore(redis), hostJobs, start },
  });
  const user = requester();
  return {
    door,
    dispatcher,
    hostJobs,
    slots,
    flowOf: (sweepId) => flows.get(sweepId),
    request: (text) => ({ source: 'cli', user, channel: 'cli', text }),
    close: async () => {
      await Promise.all([dispatcher.close(), hostJobs.close()]);
    },
  };
}
