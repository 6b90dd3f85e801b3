/** Redis key prefix for everything ZenSweep keeps besides BullMQ's own keys. */
export const KEY_PREFIX = 'zensweep';

/** The queue of one agent group's chunks. (BullMQ queue names may not contain ':'.) */
export function sweepQueueName(group: string): string {
  return `sweep.${group}`;
}

/**
 * The queue of one agent's own chunks (`from:all`: each chunk must run on a chosen agent): `sweep.GROUP@AGENT`, the
 * agent's id URI-encoded, since BullMQ queue names may not hold ':' and Redis Cluster reads '{…}' as a hash tag.
 * The group's own queue name is its prefix, so a hash tag made of the group later keeps both in one slot.
 */
export function agentQueueName(group: string, agent: string): string {
  return `${sweepQueueName(group)}@${encodeURIComponent(agent)}`;
}

/** The group and agent of an agent's own queue name; undefined for any other name. */
export function parseAgentQueueName(name: string): { group: string; agent: string } | undefined {
  const match = /^sweep\.([^@]+)@(.+)$/.exec(name);
  if (!match?.[1] || !match[2]) return undefined;
  try {
    return { group: match[1], agent: decodeURIComponent(match[2]) };
  } catch {
    return undefined;
  }
}

/**
 * A set of the names of the agents' own queues that were given chunks (agentQueueName): agents look here for the queue of an agent that left, to end what it will never run. Bounded by the
 * number of agents; an entry goes once its agent is gone and its queue is empty; the set expires a day after the
 * last chunk was added.
 */
export function agentQueuesKey(prefix = KEY_PREFIX): string {
  return `${prefix}:agent-queues`;
}

/** The queue of report jobs: a sweep's parent job, run when all its chunks are in. */
export const REPORT_QUEUE = 'sweep-reports';

/** Pub/sub channel on which cancellations are announced to every agent. */
export function cancelChannel(prefix = KEY_PREFIX): string {
  return `${prefix}:cancel`;
}

/** Set while a sweep is cancelled, so chunks not yet started are skipped; expires after a day (Dispatcher.cancel). */
export function cancelledKey(sweepId: string, prefix = KEY_PREFIX): string {
  return `${prefix}:cancelled:${sweepId}`;
}
