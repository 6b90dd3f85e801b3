/** Redis key prefix for everything ZenSweep keeps besides BullMQ's own keys. */
export const KEY_PREFIX = 'zensweep';

/**
 * Queue names carry a Redis Cluster hash tag (`{…}`): every key of a BullMQ queue must share one slot (its scripts
 * touch several), and a flow's parent must share its children's slot. The tag of an agent group's queues is the
 * group, so each group's chunks, own queues and report parts stay together while different groups spread over the
 * cluster's masters (BullMQ's cluster guide). The same names on a single Redis, where a tag is only a name.
 */
export function groupTag(group: string): string {
  return `{${group}}`;
}

/** The queue of one agent group's chunks (and its traces and diags). (BullMQ queue names may not contain ':'.) */
export function sweepQueueName(group: string): string {
  return `sweep.${groupTag(group)}`;
}

/**
 * The queue of one agent's own chunks (`from:all`: each chunk must run on a chosen agent): `sweep.{GROUP}@AGENT`, the
 * agent's id URI-encoded, since BullMQ queue names may not hold ':' and Redis Cluster reads the first '{…}' as the
 * hash tag: the group's, so an agent's own queue shares its group's slot.
 */
export function agentQueueName(group: string, agent: string): string {
  return `${sweepQueueName(group)}@${encodeURIComponent(agent)}`;
}

/** The group and agent of an agent's own queue name; undefined for any other name. */
export function parseAgentQueueName(name: string): { group: string; agent: string } | undefined {
  const match = /^sweep\.\{([^{}@]+)\}@(.+)$/.exec(name);
  if (!match?.[1] || !match[2]) return undefined;
  try {
    return { group: match[1], agent: decodeURIComponent(match[2]) };
  } catch {
    return undefined;
  }
}

/** The group of a queue of chunks (`sweep.{GROUP}` or `sweep.{GROUP}@AGENT`); undefined for any other name. */
export function groupOfQueue(name: string): string | undefined {
  return /^sweep\.\{([^{}@]+)\}(?:@.*)?$/.exec(name)?.[1];
}

/**
 * The queue of one group's report parts: a sweep's part job for the group (the parent of the group's chunks, in the
 * same slot) gathers what they returned once they have all ended. The parts of a sweep are put together by its report
 * job (REPORT_QUEUE), so a sweep may span groups, and slots.
 */
export function partQueueName(group: string): string {
  return `report-parts.${groupTag(group)}`;
}

/**
 * A set of the names of the agents' own queues that were given chunks (agentQueueName): agents look here for the queue of an agent that left, to end what it will never run. Bounded by the
 * number of agents; an entry goes once its agent is gone and its queue is empty; the set expires a day after the
 * last chunk was added.
 */
export function agentQueuesKey(prefix = KEY_PREFIX): string {
  return `${prefix}:agent-queues`;
}

/** The queue of report jobs: a sweep's report, added by the last of its parts to end (report-worker.ts). */
export const REPORT_QUEUE = '{sweep-reports}';

/** Pub/sub channel on which cancellations are announced to every agent. */
export function cancelChannel(prefix = KEY_PREFIX): string {
  return `${prefix}:cancel`;
}

/**
 * The hash tag of one sweep's own keys (its chunks' hosts, its parts): read together with MGET, so in one slot.
 */
export function sweepTag(sweepId: string): string {
  return `{${sweepId}}`;
}

/** Set while a sweep is cancelled, so chunks not yet started are skipped; expires after a day (Dispatcher.cancel). */
export function cancelledKey(sweepId: string, prefix = KEY_PREFIX): string {
  return `${prefix}:cancelled:${sweepId}`;
}
