import type { Cluster, Redis } from 'ioredis';
import { KEY_PREFIX } from './names.js';

/**
 * Where ZenSweep's own keys live on a Redis Cluster: each store's keys share one hash tag, so that its transactions,
 * scripts and MGETs stay within one slot — `{history}` (sweeps, their indexes, baselines), `{watches}` (records,
 * their indexes, mutes, locks), `{agents}` (heartbeats) — and one sweep's transient keys share the sweep's tag
 * (names.ts, sweepTag). Every other key is read and written alone. The same names on a single Redis.
 */
export const HISTORY_TAG = '{history}';
export const WATCHES_TAG = '{watches}';
export const AGENTS_TAG = '{agents}';

export function isCluster(redis: Redis): boolean {
  return (redis as unknown as { isCluster?: boolean }).isCluster === true;
}

/**
 * Every key matching `match`: on a cluster, SCAN goes to one node only, so each master is scanned. Meant for small
 * sets (agents' heartbeats, a one-off upgrade): the keys of a store share one slot, so they are on one master.
 */
export async function scanKeys(redis: Redis, match: string): Promise<string[]> {
  const nodes: Redis[] = isCluster(redis) ? (redis as unknown as Cluster).nodes('master') : [redis];
  const keys = new Set<string>();
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      for (const key of found) keys.add(key);
    } while (cursor !== '0');
  }
  return [...keys];
}

/** The keys' names before they carried a hash tag, and the names they have now. */
function moves(prefix: string): [old: string, now: string][] {
  return [
    [`${prefix}:history:`, `${prefix}:${HISTORY_TAG}:`],
    [`${prefix}:baseline:`, `${prefix}:${HISTORY_TAG}:baseline:`],
    [`${prefix}:baselines:`, `${prefix}:${HISTORY_TAG}:baselines:`],
    [`${prefix}:watch:`, `${prefix}:${WATCHES_TAG}:watch:`],
    [`${prefix}:watches:`, `${prefix}:${WATCHES_TAG}:channel:`],
    [`${prefix}:watches-of:`, `${prefix}:${WATCHES_TAG}:user:`],
    [`${prefix}:watch-owners`, `${prefix}:${WATCHES_TAG}:owners`],
  ];
}

/**
 * Gives the keys an older version wrote (history, baselines, watches) their tagged names, keeping their values and
 * TTLs (RENAME), never over a key already under the new name; returns how many moved. Cheap when there is nothing to
 * do: one SCAN for the prefix. A cluster never held the old names (the older version refused to run on one).
 */
export async function moveOldKeys(redis: Redis, prefix = KEY_PREFIX): Promise<number> {
  if (isCluster(redis)) return 0;
  const table = moves(prefix);
  let moved = 0;
  for (const key of await scanKeys(redis, `${prefix}:*`)) {
    const move = table.find(([old]) => (old.endsWith(':') ? key.startsWith(old) : key === old));
    if (!move) continue;
    const [old, now] = move;
    if ((await redis.renamenx(key, now + key.slice(old.length))) === 1) moved += 1;
  }
  return moved;
}
