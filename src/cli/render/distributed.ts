import { describeDiff } from '../../core/format.js';
import { agentHealth, describeAgentHealth } from '../../core/agent-health.js';
import type { DistributedReport } from '../../queue/jobs.js';
import type { AgentInfo } from '../../queue/registry.js';
import { renderText } from './text.js';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * What a run through the agents adds to the report: who ran which chunks, which chunks ran again and why, which
 * failed for good, and what changed since the last sweep of the same targets or against a baseline.
 */
export function runLines(report: DistributedReport): string[] {
  const lines: string[] = ['', 'Run'];
  lines.push(`  sweep ${report.sweepId}, asked by ${report.requestedBy}, in ${report.groups.join(', ')}`);
  const byAgent = new Map<string, number>();
  for (const chunk of report.chunks) {
    const key = `${chunk.group}/${chunk.agentId}`;
    byAgent.set(key, (byAgent.get(key) ?? 0) + 1);
  }
  for (const [agent, count] of [...byAgent].sort()) lines.push(`  ${agent}: ${plural(count, 'chunk')}`);
  for (const chunk of report.chunks) {
    if (chunk.attempt <= 1 && chunk.stalled === 0) continue;
    const why = chunk.stalled > 0 ? 'its agent stopped answering (stalled)' : 'a failed try';
    const tries = chunk.attempt > 1 ? ` (try ${chunk.attempt})` : '';
    lines.push(`  retried: chunk ${chunk.index} ran again on ${chunk.agentId} after ${why}${tries}`);
  }
  for (const failure of report.failures) {
    lines.push(`  failed: chunk ${failure.index} in ${failure.group}: ${failure.reason}`);
  }
  if (report.changes) {
    lines.push('', `Since the last sweep of these targets (${report.changes.since})`);
    lines.push(...describeDiff(report.changes.diff).map((l) => `  ${l}`));
  }
  if (report.baseline) {
    lines.push('', `Against baseline ${report.baseline.name} (${report.baseline.at})`);
    lines.push(...describeDiff(report.baseline.diff).map((l) => `  ${l}`));
  }
  if (report.savedAs) lines.push('', `Saved as baseline ${report.savedAs}.`);
  return lines;
}

export function renderDistributedText(report: DistributedReport): string {
  const stopped = report.cancelled ? 'Cancelled' : 'Incomplete, chunks failed (see Run below)';
  return renderText(report, stopped) + runLines(report).join('\n') + '\n';
}

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
