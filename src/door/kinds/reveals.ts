/**
 * The kinds that show what is stored (the agents, the history) or nothing at all (help): each shows only what lies
 * within the requester's reach, and a requester the policy allows nothing hears one refusal instead.
 */
import type { Scope } from '../../core/scope.js';
import { AddressSet, parseNetwork } from '../../core/targets.js';
import { targetKey } from '../../queue/history.js';
import type { Baseline, SweepRecord } from '../../queue/history.js';
import type { AgentInfo } from '../../queue/registry.js';
import type { DoorContext } from '../kind.js';
import type { Allowed } from '../policy.js';
import { declareKind } from '../kind.js';
import type { DoorServices } from '../services.js';
import { touchedBySweep } from './reach.js';

export const HELP = declareKind({
  kind: 'help',
  touches: 'nothing',
  decide: async (_command, { judge }: DoorContext<DoorServices>) => judge.nothing(),
  run: async () => undefined,
  audited: 'none',
});

/**
 * An agent's networks as far as a scope reaches into them: the agent's own CIDR where the scope holds it whole, the
 * scope's networks where they lie inside it, else the common part as CIDR blocks.
 */
export function networksWithin(cidrs: readonly string[], scope: Scope): string[] {
  if (!scope.limited) return [...cidrs];
  const shown: string[] = [];
  for (const cidr of cidrs) {
    let network;
    try {
      network = parseNetwork(cidr);
    } catch {
      continue;
    }
    const set = new AddressSet().add(network.family, network.start, network.end);
    const inside = scope.within(set);
    if (inside.size === 0n) continue;
    shown.push(...(inside.size === set.size ? [cidr] : (inside.toCidrs() ?? inside.toTargets())));
  }
  return shown;
}

/**
 * `agents`: the groups the requester may use, each agent with only the part of its networks the policy allows. What
 * went wrong on an agent last (`lastError`) is shown only to a requester whose reach there is whole: even the agent's
 * own errors name what it was doing.
 */
export async function agentsWithinReach({ judge, services }: Pick<DoorContext<DoorServices>, 'judge' | 'services'>): Promise<Allowed<AgentInfo[]>> {
  return judge.revealEach(await services.dispatcher.agents(), (agent, scopeIn): AgentInfo | undefined => {
    const scope = scopeIn(agent.group);
    if (!scope) return undefined;
    const cidrs = networksWithin(agent.cidrs, scope);
    if (cidrs.length === 0) return undefined;
    const { lastError, ...shown } = agent;
    return { ...shown, cidrs, ...(lastError && !scope.limited ? { lastError } : {}) };
  });
}

export const AGENTS = declareKind({
  kind: 'agents',
  touches: 'reveals',
  decide: async (_command, context: DoorContext<DoorServices>) => agentsWithinReach(context),
  run: async (_command, agents) => agents,
  audited: 'allowed',
});

/** Sweeps history lists at most, newest first (Slack shows fewer). */
const HISTORY_SHOWN = 20;
/** Sweeps looked at to find them, before the requester's reach is applied. */
const HISTORY_LOOKED_AT = 500;

export const HISTORY = declareKind({
  kind: 'history',
  touches: 'reveals',
  decide: async (command, { judge, services }: DoorContext<DoorServices>) => {
    // The command line's history takes several targets, in one string.
    const key = command.target ? targetKey(command.target.split(' ')) : undefined;
    const records = await services.history.recent(HISTORY_LOOKED_AT, key);
    return judge.reveal(records, touchedBySweep);
  },
  run: async (command, records: SweepRecord[]) => ({ records: records.slice(0, HISTORY_SHOWN), ...(command.target ? { target: command.target } : {}) }),
  audited: 'allowed',
});

/** `baselines`: the asking channel's own baselines (`cli`'s for the command line), those within its reach. */
export const BASELINES = declareKind({
  kind: 'baselines',
  touches: 'reveals',
  decide: async (_command, { judge, services, request }: DoorContext<DoorServices>) =>
    judge.reveal(await services.history.listBaselines(request.channel), (baseline) => touchedBySweep(baseline.record)),
  run: async (_command, baselines: Baseline[]) => baselines,
  audited: 'allowed',
});

/**
 * `forget NAME`: deletes one of the asking channel's baselines, where the requester may reach all it swept (one that
 * no longer reads, only by a requester the policy allows anything here).
 */
export const FORGET = declareKind({
  kind: 'forget',
  touches: 'changes',
  decide: async (command, { judge, services, request }: DoorContext<DoorServices>): Promise<Allowed<string>> => {
    const baseline = await services.history.baseline(request.channel, command.name);
    if (!baseline) return judge.admitted(command.name);
    return judge.subject(command.name, touchedBySweep(baseline.record), 'what this baseline swept is no longer known');
  },
  run: async (command, name, { services, request }): Promise<{ name: string; forgotten: boolean }> => ({
    name,
    forgotten: await services.history.forgetBaseline(request.channel, command.name),
  }),
  audited: 'allowed',
});
