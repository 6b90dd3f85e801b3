/**
 * Real `zensweep agent` processes for the distributed tests: each one is `node dist/cli.cjs agent` with its own
 * environment, its log kept for assertions and for the message of a failing test.
 *
 * ```ts
 * const agent = await startAgent({ redisUrl: redis.url, group: 'a', cidrs: '127.0.0.0/25' });
 * after(() => agent.stop());
 * ```
 */
import { redisTargetFromEnv } from '../../src/config-redis.js';
import { newRedis } from '../../src/queue/connect.js';
import { AgentRegistry } from '../../src/queue/registry.js';
import { spawnService, type ServiceProcess } from './service.js';
import { until } from './wait.js';

export interface AgentOptions {
  redisUrl: string;
  group: string;
  /** ZENSWEEP_CIDRS, comma separated. */
  cidrs: string;
  /** Default: a unique name per test process. */
  id?: string;
  /** ZENSWEEP_RATE, packets/s for the whole agent. */
  rate?: number;
  /** ZENSWEEP_CONCURRENCY. */
  concurrency?: number;
  /** ZENSWEEP_LOCK_MS: how soon a chunk of a dead agent is found stalled. */
  lockMs?: number;
  /** Any other variables. */
  env?: NodeJS.ProcessEnv;
  /** Run inside this network namespace (a lab's `sweeperNs`, reaching Redis through `lab.bridgeToHost`). */
  netns?: string;
  /** A command that runs the agent's command line and replaces itself with it, e.g. UNPRIVILEGED (ping-netns.ts). */
  wrapper?: readonly string[];
}

export interface AgentProcess extends ServiceProcess {
  readonly id: string;
  /** Parsed log events with this `event` name. */
  events(name: string): Record<string, unknown>[];
}

let counter = 0;

/** Starts an agent and waits until it is listed in the registry (so a sweep submitted next will be planned on it). */
export async function startAgent(options: AgentOptions, readyTimeoutMs = 20_000): Promise<AgentProcess> {
  counter += 1;
  const id = options.id ?? `agent-${process.pid}-${counter}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    LOG_LEVEL: process.env.AGENT_LOG_LEVEL ?? 'info',
    REDIS_URL: options.redisUrl,
    ZENSWEEP_VPC: options.group,
    ZENSWEEP_CIDRS: options.cidrs,
    ZENSWEEP_AGENT_ID: id,
    ...(options.rate !== undefined ? { ZENSWEEP_RATE: String(options.rate) } : {}),
    ...(options.concurrency !== undefined ? { ZENSWEEP_CONCURRENCY: String(options.concurrency) } : {}),
    ...(options.lockMs !== undefined ? { ZENSWEEP_LOCK_MS: String(options.lockMs) } : {}),
    ...options.env,
  };
  const service = spawnService(['agent'], env, options.netns, options.wrapper);
  const output = service.log;
  const agent: AgentProcess = {
    ...service,
    id,
    events: (name) =>
      service
        .log()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((event) => event.event === name),
  };

  // Reached as the agent reaches it (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES, user, password, TLS), from
  // its environment.
  const redis = newRedis(redisTargetFromEnv(env), { maxRetriesPerRequest: null });
  try {
    const registry = new AgentRegistry(redis);
    try {
      await until(`agent ${id} to register`, async () => (await registry.list()).some((a) => a.id === id), {
        timeoutMs: readyTimeoutMs,
        stopIf: () => (service.child.exitCode === null ? undefined : `agent ${id} exited with ${service.child.exitCode}:\n${output()}`),
        show: output,
      });
    } catch (error) {
      if (service.child.exitCode === null) await agent.kill();
      throw error;
    }
    return agent;
  } finally {
    redis.disconnect();
  }
}

/**
 * An agent that reaches Redis as `redisEnv` says (a Sentinel set's or a cluster's variables, REDIS_URL unset), in
 * group `group`, probing `cidrs`.
 */
export function startAgentOn(redisEnv: NodeJS.ProcessEnv, group: string, cidrs: string): Promise<AgentProcess> {
  return startAgent({ redisUrl: '', group, cidrs, env: { REDIS_URL: undefined, ...redisEnv } });
}
