/**
 * The live agents, one view for the terminal (`zensweep agents`) and Slack (`/sweep agents`): grouped by agent group,
 * each agent with its networks, what it can probe with, its load and its health, in the same words.
 */
import { agentHealth, describeAgentHealth } from '../core/agent-health.js';
import type { AgentFacts } from '../core/agent-health.js';
import { ICMP_OFF_WHY, icmpOffReason } from '../core/report.js';
import type { IcmpOffReason } from '../core/report.js';
import { escapeText } from './blocks.js';
import { BLOCK_LIMITS, clip } from './block-limits.js';

/** What the view shows of an agent (a registry entry, as far as the requester may see it). */
export interface ListedAgent extends AgentFacts {
  group: string;
  id: string;
  cidrs: readonly string[];
  version: string;
  icmp: boolean;
  /** How it sends ICMP; absent from agents older than it (then raw when it can). */
  icmpMode?: 'raw' | 'ping' | 'off';
  /** With icmpMode off: why; absent from agents older than it (then said as the want of a socket). */
  icmpReason?: IcmpOffReason;
  load: { active: number; concurrency: number };
}

interface AgentLines {
  group: string;
  id: string;
  /** Its networks, what it probes with, its load. */
  facts: string[];
  version: string;
  health: string;
}

function linesOf(agent: ListedAgent, now: number): AgentLines {
  return {
    group: agent.group,
    id: agent.id,
    facts: [agent.cidrs.join(', '), probesWords(agent)],
    version: `v${agent.version}`,
    health: describeAgentHealth(agentHealth(agent, now)),
  };
}

/**
 * What it probes with: `ICMP+TCP`, `ICMP (ping socket)+TCP`, `TCP only (ICMP off: ZENSWEEP_ICMP=off)` or, wanting a
 * socket, `TCP only (ICMP off: no NET_RAW, no ping_group_range)`.
 */
function probesWords(agent: ListedAgent): string {
  const mode = agent.icmpMode ?? (agent.icmp ? 'raw' : 'off');
  if (mode === 'off') return `TCP only (ICMP off: ${ICMP_OFF_WHY[icmpOffReason({ reason: agent.icmpReason })]})`;
  return mode === 'ping' ? 'ICMP (ping socket)+TCP' : 'ICMP+TCP';
}

/** Agents sorted by group and id, each group once. */
function grouped(agents: readonly ListedAgent[], now: number): { group: string; agents: AgentLines[] }[] {
  const groups = new Map<string, AgentLines[]>();
  const sorted = [...agents].sort((a, b) => a.group.localeCompare(b.group) || a.id.localeCompare(b.id));
  for (const agent of sorted) groups.set(agent.group, [...(groups.get(agent.group) ?? []), linesOf(agent, now)]);
  return [...groups].map(([group, lines]) => ({ group, agents: lines }));
}

/** `zensweep agents`: the group on a line of its own, then each agent's facts and health. */
export function renderAgentsText(agents: readonly ListedAgent[], now = Date.now()): string {
  if (agents.length === 0) return 'No agent is online. Start one inside a network with: zensweep agent\n';
  const lines: string[] = [];
  for (const { group, agents: listed } of grouped(agents, now)) {
    lines.push(group);
    for (const agent of listed) lines.push(`  ${[agent.id, ...agent.facts, agent.version].join('   ')}`, `    ${agent.health}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `/sweep agents`: the same, in mrkdwn, within one section's limit. */
export function renderAgentsMrkdwn(agents: readonly ListedAgent[], now = Date.now()): string {
  if (agents.length === 0) return 'No agent is online that you may use here. Start one inside a network with `zensweep agent`.';
  const lines: string[] = [];
  for (const { group, agents: listed } of grouped(agents, now)) {
    lines.push(`*${escapeText(group)}*`);
    for (const agent of listed) lines.push(`• \`${escapeText(agent.id)}\` ${escapeText(agent.facts.join(' · '))}`, `    ${escapeText(agent.health)}`);
  }
  return clip(lines.join('\n'), BLOCK_LIMITS.sectionText);
}
