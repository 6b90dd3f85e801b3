import { agentHealth } from '../core/agent-health.js';
import { OutOfScopeError, SweepTooLargeError } from '../core/errors.js';
import type { SweepRequest } from '../core/request.js';
import { AddressSet, parseNetwork, parseTargetToken, probeRange } from '../core/targets.js';
import type { AgentInfo } from './registry.js';
import { addressCount, formatCount } from '../core/format.js';

/** Addresses per chunk: a /24, so several agent replicas share a large sweep. */
export const DEFAULT_CHUNK_SIZE = 256;

interface Cover {
  group: string;
  cidr: string;
  set: AddressSet;
}

export interface PlannedChunk {
  index: number;
  group: string;
  /** `from:all`: the agent that must run this chunk (on its own queue); absent: any agent of the group. */
  agent?: string;
  targets: string[];
  /**
   * The networks the requester may sweep in this group (CIDRs); the agent refuses any address outside them, names
   * once resolved included. Absent: no limit but the agent's own.
   */
  scope?: string[];
}

/** What a sweep will touch, before it is cut into chunks: each group's addresses, and the host names a group resolves. */
export interface SweepReach {
  addresses: ReadonlyMap<string, AddressSet>;
  /** Host names, by the group that resolves and probes them. */
  names: ReadonlyMap<string, readonly string[]>;
}

/** The reach of chunks (a plan's, or as stored): the addresses and names of each group. Throws on a bad target. */
export function reachOfChunks(chunks: readonly Pick<PlannedChunk, 'group' | 'targets'>[]): SweepReach {
  const addresses = new Map<string, AddressSet>();
  const names = new Map<string, string[]>();
  for (const chunk of chunks) {
    for (const target of chunk.targets) {
      const spec = parseTargetToken(target);
      if (spec.kind === 'name') names.set(chunk.group, [...(names.get(chunk.group) ?? []), spec.name]);
      else {
        const range = probeRange(spec);
        const set = addresses.get(chunk.group) ?? new AddressSet();
        addresses.set(chunk.group, set.add(range.family, range.start, range.end));
      }
    }
  }
  return { addresses, names };
}

/**
 * Judges what a sweep will touch (a policy): throws to refuse it, or returns the networks each group's chunks are
 * limited to (a group it leaves out: no limit).
 */
export type ReachCheck = (reach: SweepReach) => ReadonlyMap<string, readonly string[]> | undefined;

/**
 * One vantage of a `from:` sweep: an agent (`from:all`) or a group (`from:each`), and its chunks, which are
 * `count` chunks from index `first` (each vantage's chunks follow each other).
 */
export interface PlannedVantage {
  /** How the report names it: the agent's id, or the group (`group/agent` when two groups have agents of one id). */
  name: string;
  group: string;
  agent?: string;
  first: number;
  count: number;
  /** Addresses this vantage probes (names not counted). */
  addresses: number;
}

export interface SweepPlan {
  /** Groups that run a part of the sweep, sorted. */
  groups: string[];
  chunks: PlannedChunk[];
  /** Addresses planned (names not counted: the agents resolve them); each vantage of a `from:` sweep probes them. */
  addresses: number;
  /** For `vpc:all` alone: the networks it sweeps, every group's declared CIDRs, as declared. */
  networks?: string[];
  /** `from:all` / `from:each`: the vantages, in the order of their chunks; absent for a sweep run once. */
  vantages?: PlannedVantage[];
}

/** Probes of an address a plan makes in all: once per vantage that covers it (once each without `from:`). */
export function plannedProbes(plan: Pick<SweepPlan, 'addresses' | 'vantages'>): number {
  return plan.vantages ? plan.vantages.reduce((sum, v) => sum + v.addresses, 0) : plan.addresses;
}

function coversOf(agents: readonly AgentInfo[]): Cover[] {
  const seen = new Set<string>();
  const covers: Cover[] = [];
  for (const agent of agents) {
    for (const cidr of agent.cidrs) {
      const key = `${agent.group} ${cidr}`;
      if (seen.has(key)) continue;
      seen.add(key);
      try {
        const { family, start, end } = parseNetwork(cidr);
        covers.push({ group: agent.group, cidr, set: new AddressSet().add(family, start, end) });
      } catch {
        // An agent validates its own CIDRs at start; an unreadable one is not ours to judge here.
      }
    }
  }
  return covers;
}

/** `a covers 10.0.0.0/16; b covers 10.1.0.0/16, 10.2.0.0/16` */
export function describeGroups(agents: readonly AgentInfo[]): string {
  const byGroup = new Map<string, Set<string>>();
  for (const agent of agents) {
    const cidrs = byGroup.get(agent.group) ?? new Set<string>();
    for (const cidr of agent.cidrs) cidrs.add(cidr);
    byGroup.set(agent.group, cidrs);
  }
  if (byGroup.size === 0) return 'no agent is online';
  return [...byGroup]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([group, cidrs]) => `${group} covers ${[...cidrs].join(', ')}`)
    .join('; ');
}

/** Cuts a group's addresses into aligned blocks of `size` (a /24 each by default), so chunks never straddle two. */
function chunked(group: string, set: AddressSet, size: bigint): { group: string; first: bigint; family: number; targets: string[] }[] {
  const chunks = [];
  for (const range of set.ranges()) {
    for (let start = range.start; start <= range.end; ) {
      const blockEnd = (start / size + 1n) * size - 1n;
      const end = blockEnd < range.end ? blockEnd : range.end;
      const part = new AddressSet().add(range.family, start, end);
      chunks.push({ group, first: start, family: range.family, targets: part.toTargets() });
      start = end + 1n;
    }
  }
  return chunks;
}

/**
 * Decides which agent group probes what, before anything is enqueued. Each address goes to the group whose agents
 * declared the narrowest CIDR containing it (longest prefix wins); `vpc:NAME` sends everything to one group and
 * `vpc:all` alone sweeps every group's declared CIDRs. Host names are resolved by the agents inside their network,
 * so they need `vpc:NAME` unless only one group is online. Anything no live agent covers is refused, with a
 * message that says what each group covers. `authorize` judges the exact addresses and groups first, before the
 * size cap and before what no agent covers, so a request it refuses hears only its refusal.
 *
 * Several vantages: `vpc:a,b from:each` gives each named group all the targets (each must cover them, and the
 * policy judges each group's addresses); `from:all` then copies each group's chunks once per live agent of the group
 * whose own networks cover them, each copy on that agent's own queue. The policy judges the addresses once (the same
 * addresses, whoever probes them); the size cap counts every vantage's addresses (N agents: N times the probes).
 */
export function planSweep(
  request: SweepRequest,
  agents: readonly AgentInfo[],
  options: { chunkSize?: number; maxAddresses?: number; authorize?: ReachCheck; now?: number } = {},
): SweepPlan {
  const chunkSize = BigInt(options.chunkSize ?? DEFAULT_CHUNK_SIZE);
  const groups = [...new Set(agents.map((a) => a.group))].sort();
  if (groups.length === 0) {
    throw new OutOfScopeError(
      'no agent is online to run this sweep: start one inside the network with zensweep agent (ZENSWEEP_VPC, ZENSWEEP_CIDRS)',
    );
  }
  const covers = coversOf(agents);
  const { vpc, vpcs, from } = request.options;
  // The groups every target must go to: one (vpc:NAME) or each of several (vpc:a,b with from:).
  const forced = vpcs ?? (vpc !== undefined && vpc !== 'all' ? [vpc] : undefined);
  for (const group of forced ?? []) {
    if (!groups.includes(group)) throw new OutOfScopeError(`no live agent in group ${group}: ${describeGroups(agents)}`);
  }

  const wanted = new AddressSet();
  const names: string[] = [];
  for (const spec of request.targets) {
    if (spec.kind === 'name') names.push(spec.name);
    else {
      const range = probeRange(spec);
      wanted.add(range.family, range.start, range.end);
    }
  }
  const networks: string[] = [];
  if (vpc === 'all' && request.targets.length === 0) {
    for (const cover of covers) {
      if (!networks.includes(cover.cidr)) networks.push(cover.cidr);
      // As a sweep target: an IPv4 /30 or wider skips its network and broadcast addresses.
      const spec = cover.cidr.includes(':') ? undefined : parseTargetToken(cover.cidr);
      const range = spec && spec.kind !== 'name' ? probeRange(spec) : cover.set.ranges()[0];
      if (range) wanted.add(range.family, range.start, range.end);
    }
  }
  // What no agent covers is refused after the policy has judged the rest, so a refusal from it comes first.
  let uncovered: OutOfScopeError | undefined;
  const assigned = new Map<string, AddressSet>();
  const assign = (group: string, part: AddressSet): void => {
    const set = assigned.get(group) ?? new AddressSet();
    for (const r of part.ranges()) set.add(r.family, r.start, r.end);
    assigned.set(group, set);
  };
  if (forced) {
    for (const group of forced) {
      const scope = new AddressSet();
      for (const cover of covers) {
        if (cover.group !== group) continue;
        for (const r of cover.set.ranges()) scope.add(r.family, r.start, r.end);
      }
      const outside = wanted.subtract(scope);
      if (outside.size > 0n && !uncovered) {
        uncovered = new OutOfScopeError(
          `${outside.toTargets().slice(0, 3).join(', ')} ${outside.ranges().length > 1 || outside.size > 1n ? 'are' : 'is'} outside group ${group}: ${describeGroups(agents)}`,
        );
      }
      const inside = wanted.intersect(scope);
      if (inside.size > 0n) assign(group, inside);
    }
  } else {
    // Narrowest CIDR first: its group wins the addresses it holds.
    const ordered = [...covers].sort((a, b) => (a.set.size < b.set.size ? -1 : a.set.size > b.set.size ? 1 : a.group.localeCompare(b.group)));
    let remaining = wanted;
    for (const cover of ordered) {
      if (remaining.size === 0n) break;
      const part = remaining.intersect(cover.set);
      if (part.size === 0n) continue;
      assign(cover.group, part);
      remaining = remaining.subtract(part);
    }
    if (remaining.size > 0n) {
      const list = remaining.toTargets();
      uncovered = new OutOfScopeError(
        `no live agent covers ${list.slice(0, 3).join(', ')}${list.length > 3 ? ` and ${list.length - 3} more ranges` : ''}: ${describeGroups(agents)}`,
      );
    }
  }

  // Host names go to the group that resolves them: the one forced (each, with vpc:a,b), or the only one online.
  let nameGroups: string[] = [];
  if (names.length > 0) {
    if (forced) nameGroups = forced;
    else if (groups.length === 1) nameGroups = groups;
    else {
      throw new OutOfScopeError(
        `${names[0]} is a host name, resolved by the agents inside their network: say which group with vpc:NAME (groups: ${groups.join(', ')})`,
      );
    }
  }

  const scopes = options.authorize?.({
    addresses: assigned,
    names: new Map(nameGroups.map((group) => [group, names])),
  });
  const vantages = from === undefined ? undefined : vantagesOf(from, assigned, nameGroups, agents, options.now ?? Date.now());
  const maxAddresses = options.maxAddresses;
  if (maxAddresses !== undefined) {
    const probes = vantages ? vantages.reduce((sum, v) => sum + (assigned.get(v.group)?.size ?? 0n), 0n) : wanted.size;
    if (probes > BigInt(maxAddresses)) {
      throw new SweepTooLargeError(
        vantages
          ? `this sweep comes to ${addressCount(wanted.size)} from each of ${vantages.length} ${from === 'all' ? 'agents' : 'groups'}, ` +
              `${formatCount(probes)} in all; a sweep may probe at most ${formatCount(maxAddresses)} (from:${from} counts each vantage's)`
          : `this sweep comes to ${addressCount(wanted.size)}; a sweep may probe at most ${formatCount(maxAddresses)}`,
      );
    }
  }
  if (uncovered) throw uncovered;

  const chunks: PlannedChunk[] = [];
  const planned: PlannedVantage[] = [];
  // Once (no from:), or once per vantage, each vantage's chunks following each other.
  for (const vantage of vantages ?? [undefined]) {
    const first = chunks.length;
    const inGroups = vantage ? [vantage.group] : [...assigned.keys()];
    const pieces = inGroups.flatMap((group) => {
      const set = assigned.get(group);
      return set ? chunked(group, set, chunkSize) : [];
    });
    pieces.sort((a, b) => a.family - b.family || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    const add = (group: string, targets: string[]): void => {
      const chunk: PlannedChunk = { index: chunks.length, group, targets };
      if (vantage?.agent !== undefined) chunk.agent = vantage.agent;
      const scope = scopes?.get(group);
      if (scope) chunk.scope = [...scope];
      chunks.push(chunk);
    };
    for (const piece of pieces) add(piece.group, piece.targets);
    for (const group of vantage ? nameGroups.filter((g) => g === vantage.group) : nameGroups) add(group, names);
    if (vantage) {
      const addresses = Number(assigned.get(vantage.group)?.size ?? 0n);
      planned.push({ ...vantage, first, count: chunks.length - first, addresses });
    }
  }
  if (chunks.length === 0) {
    throw new OutOfScopeError(`nothing to sweep: the groups online declare no addresses (${describeGroups(agents)})`);
  }
  return {
    groups: [...new Set(chunks.map((c) => c.group))].sort(),
    chunks,
    addresses: Number(wanted.size),
    ...(networks.length > 0 ? { networks } : {}),
    ...(vantages ? { vantages: planned.filter((v) => v.count > 0) } : {}),
  };
}

/**
 * The vantages of a `from:` sweep: each group (`each`), or each live agent of each group whose own networks cover
 * all the group is to probe (`all`; an agent whose heartbeat is late is on its way out, and left out). Named by the
 * agent's id, or `group/id` where two groups have agents of the same id.
 */
function vantagesOf(
  from: 'all' | 'each',
  assigned: ReadonlyMap<string, AddressSet>,
  nameGroups: readonly string[],
  agents: readonly AgentInfo[],
  now: number,
): Omit<PlannedVantage, 'first' | 'count' | 'addresses'>[] {
  const groups = [...new Set([...assigned.keys(), ...nameGroups])].sort();
  if (from === 'each') return groups.map((group) => ({ name: group, group }));
  const chosen: { group: string; agent: string }[] = [];
  for (const group of groups) {
    const addresses = assigned.get(group) ?? new AddressSet();
    const live = agents.filter((a) => a.group === group && !agentHealth(a, now).late);
    const covering = live.filter((agent) => {
      const own = new AddressSet();
      for (const cover of coversOf([agent])) for (const r of cover.set.ranges()) own.add(r.family, r.start, r.end);
      return own.covers(addresses);
    });
    if (covering.length === 0) {
      throw new OutOfScopeError(`no live agent of ${group} covers all it is to sweep, so from:all has no vantage there: ${describeGroups(agents)}`);
    }
    for (const agent of covering) chosen.push({ group, agent: agent.id });
  }
  const ids = chosen.map((c) => c.agent);
  return chosen.map(({ group, agent }) => ({
    name: ids.filter((id) => id === agent).length > 1 ? `${group}/${agent}` : agent,
    group,
    agent,
  }));
}
