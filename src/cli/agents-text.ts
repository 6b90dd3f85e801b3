import { agentHealth, describeAgentHealth } from '../core/agent-health.js';
import type { AgentInfo } from '../queue/registry.js';

/** `zensweep agents`: one line per agent, grouped. */
export function renderAgents(agents: readonly AgentInfo[], now = Date.now()): string {
  if (agents.length === 0) return 'No agent is online. Start one inside a network with: zensweep agent\n';
  const lines: string[] = [];
  let group = '';
  for (const agent of agents) {
    if (agent.group !== group) {
      group = agent.group;
      lines.push(`${group}`);
    }
    lines.push(
      `  ${agent.id}   ${agent.cidrs.join(', ')}   ${agent.icmp ? 'ICMP+TCP' : 'TCP only (no CAP_NET_RAW)'}` +
        `   ${agent.load.active}/${agent.load.concurrency} chunks   v${agent.version}`,
      `    ${describeAgentHealth(agentHealth(agent, now))}`,
    );
  }
  return lines.join('\n') + '\n';
}
