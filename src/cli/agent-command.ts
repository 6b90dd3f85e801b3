import { commandArgs } from './args.js';
import { loadAgentConfig } from '../agent/config.js';
import { Agent } from '../agent/agent.js';
import { captureStrayOutput, createLogger } from '../log.js';
import { redisRemindMs } from '../config-redis.js';
import { RedisConnections } from '../queue/connections.js';
import type { CommandIo } from './sweep-command.js';
import { exitOnRefusal, nextSignal, serviceStart, untilSignal } from './until-signal.js';

export const AGENT_USAGE = `usage: zensweep agent

Runs an agent inside a private network: it takes its group's chunks from Redis and probes only inside its CIDRs.
It needs only outbound access to Redis. Settings come from the environment (or .env):
  REDIS_URL             redis://[:password@]host:6379 (rediss:// for TLS)      required, or:
  REDIS_SENTINELS       host:port,host:port of the Sentinels, with REDIS_SENTINEL_MASTER, the master's name,
                        and REDIS_SENTINEL_PASSWORD if they ask for one, or:
  REDIS_CLUSTER_NODES   host:port,host:port of a Redis Cluster's nodes
  REDIS_USERNAME, REDIS_PASSWORD   an ACL user (or the password alone); REDIS_TLS_CA  a CA file (PEM) for TLS
  ZENSWEEP_REDIS_REMIND_MS   how often it logs again that Redis is still away, in ms (60000)
  ZENSWEEP_VPC          the agent group, e.g. prod                             required
  ZENSWEEP_CIDRS        networks it may probe, e.g. 10.0.0.0/16,10.1.0.0/16    required
  ZENSWEEP_AGENT_ID     its name in zensweep agents (hostname-pid)
  ZENSWEEP_RATE         packets/s for the whole agent, 0 = unlimited (10000)
  ZENSWEEP_CONCURRENCY  chunks held at once (enough to keep the rate busy)
  ZENSWEEP_LOCK_MS      a chunk's lock without renewal, in ms (30000)
  ZENSWEEP_MAX_ADDRESSES, ZENSWEEP_MAX_IN_FLIGHT, ZENSWEEP_SEND_HELPER, ZENSWEEP_ICMP   the engine's, as for sweep
  ZENSWEEP_HISTORY_COUNT, ZENSWEEP_HISTORY_DAYS   sweeps kept in the history (1000, for 30 days)
  METRICS_PORT          serve /metrics, /healthz and /readyz on this port (off)
  METRICS_HOST          the address it listens on, e.g. 127.0.0.1 (every interface)
  LOG_LEVEL             debug, info, warn or error (info)
Every setting, with its default, is in the README's Configuration table and in .env.example.
On SIGTERM or SIGINT it lets running chunks finish for up to 10 s, hands back the rest and exits 0, within 13 s
whether Redis answers or not. While Redis cannot be reached it waits for it; if Redis refuses it (a wrong password,
an untrusted certificate) it says why in one line and exits 2.

example: REDIS_URL=rediss://:PASSWORD@redis.internal:6380 ZENSWEEP_VPC=prod ZENSWEEP_CIDRS=10.0.0.0/16 zensweep agent
`;

/**
 * `zensweep agent`: runs until SIGTERM or SIGINT, then hands back what it has not finished and exits 0, within 13 s
 * whether Redis answers or not.
 */
export async function agentCommand(argv: string[], io: CommandIo): Promise<number> {
  if (commandArgs('agent', argv, {}, { words: false }).values.help) {
    io.stdout.write(AGENT_USAGE);
    return 0;
  }
  const config = loadAgentConfig(io.env);
  const remindEveryMs = redisRemindMs(io.env);
  const log = createLogger('zensweep-agent');
  captureStrayOutput(log);
  const signal = nextSignal();
  const connections = new RedisConnections(config.redis, log, { remindEveryMs });
  exitOnRefusal(connections.refused);
  const agent = new Agent(config, log, connections);
  // While Redis is away, start() waits for it: a signal meanwhile stops the agent all the same.
  if (!(await serviceStart(Promise.race([agent.start(), signal]), log))) return 1;
  await untilSignal(() => agent.stop(), signal);
  return 0;
}
