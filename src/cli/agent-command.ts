import { loadAgentConfig } from '../agent/config.js';
import { Agent } from '../agent/agent.js';
import { createLogger } from '../log.js';
import type { CommandIo } from './sweep-command.js';
import { untilSignal } from './until-signal.js';

export const AGENT_USAGE = `usage: zensweep agent

Runs an agent inside a private network: it takes its group's chunks from Redis and probes only inside its CIDRs.
It needs only outbound access to Redis. Settings come from the environment (or .env):
  REDIS_URL             redis://[:password@]host:6379 (rediss:// for TLS)      required
  ZENSWEEP_VPC          the agent group, e.g. prod                             required
  ZENSWEEP_CIDRS        networks it may probe, e.g. 10.0.0.0/16,10.1.0.0/16    required
  ZENSWEEP_AGENT_ID     default: hostname-pid
  ZENSWEEP_RATE         packets/s for the whole agent, 0 = unlimited (10000)
  ZENSWEEP_CONCURRENCY  chunks at once (2)
  METRICS_PORT          serve /metrics, /healthz and /readyz on this port (off)
`;

/** `zensweep agent`: runs until SIGTERM or SIGINT, then hands back what it has not finished. */
export async function agentCommand(argv: string[], io: CommandIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(AGENT_USAGE);
    return 0;
  }
  const config = loadAgentConfig(io.env);
  const agent = new Agent(config, createLogger('zensweep-agent'));
  await agent.start();
  await untilSignal(() => agent.stop());
  return 0;
}
