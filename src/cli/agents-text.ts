import { formatDuration } from '../core/format.js';
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
    const seen = formatDuration(Math.max(0, now - Date.parse(agent.lastSeen)));
    lines.push(
      `  ${agent.id}   ${agent.cidrs.join(', ')}   ${agent.icmp ? 'ICMP+TCP' : 'TCP only (no CAP_NET_RAW)'}` +
        `   ${agent.load.active}/${agent.load.concurrency} chunks   v${agent.version}   seen ${seen} ago`,
    );
  }
  return lines.join('\n') + '\n';
}
