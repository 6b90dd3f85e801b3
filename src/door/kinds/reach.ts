import { AddressSet, parseTargetToken, probeRange } from '../../core/targets.js';
import type { PlannedChunk } from '../../queue/plan.js';
import type { SweepRecord } from '../../queue/history.js';
import type { Touched } from '../policy.js';

/** A plan's targets by group, merged (each once): what its request record keeps. */
export function reachOf(chunks: readonly Pick<PlannedChunk, 'group' | 'targets'>[]): { group: string; targets: string[] }[] {
  // A set: from:all gives each agent of a group the same chunks.
  const byGroup = new Map<string, Set<string>>();
  for (const chunk of chunks) {
    const targets = byGroup.get(chunk.group) ?? new Set<string>();
    for (const target of chunk.targets) targets.add(target);
    byGroup.set(chunk.group, targets);
  }
  return [...byGroup].map(([group, targets]) => ({ group, targets: [...targets] }));
}

/** The addresses of target words (names left out: they are judged by their group); bad words are skipped. */
function addressesOf(targets: readonly string[], into = new AddressSet()): AddressSet {
  for (const text of targets) {
    try {
      const spec = parseTargetToken(text);
      if (spec.kind === 'name') continue;
      const range = probeRange(spec);
      into.add(range.family, range.start, range.end);
    } catch {
      // Stored words are checked where they are written; one that does not read here touches nothing.
    }
  }
  return into;
}

/**
 * What a finished sweep touched: its targets' addresses, and the addresses its names resolved to (its hosts, silent
 * ranges included). A record does not say which group probed which address, so each of its groups is taken to have
 * probed all of them: a requester sees it only where every group's scope covers everything it swept.
 */
export function touchedBySweep(record: Pick<SweepRecord, 'targets' | 'groups' | 'hosts' | 'silent'>): Touched {
  const addresses = addressesOf(record.targets);
  addressesOf(record.hosts.map((h) => h.ip), addresses);
  addressesOf(record.silent, addresses);
  return new Map(record.groups.map((group) => [group, addresses]));
}

/** What a watch touches: its sweep's targets, in each of its groups (as for a finished sweep). */
export function touchedByTargets(targets: readonly string[], groups: readonly string[]): Touched {
  const addresses = addressesOf(targets);
  return new Map(groups.map((group) => [group, addresses]));
}
