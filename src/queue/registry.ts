import type { Redis } from 'ioredis';
import type { AgentFacts } from '../core/agent-health.js';
import { KEY_PREFIX } from './names.js';

/** What an agent says of itself in its heartbeat (its health facts included). */
export interface AgentInfo extends AgentFacts {
  group: string;
  id: string;
  /** The CIDRs it may probe (ZENSWEEP_CIDRS). */
  cidrs: string[];
  version: string;
  /** Whether it can send ICMP (root or CAP_NET_RAW). */
  icmp: boolean;
  /** Chunks running now, out of how many at once. */
  load: { active: number; concurrency: number };
  startedAt: string;
  lastSeen: string;
}

/** Seconds an agent stays listed after its last heartbeat. */
export const AGENT_TTL_SECONDS = 30;

/**
 * Live agents, one Redis key each with a TTL: an agent that stops heartbeating drops out on its own within
 * AGENT_TTL_SECONDS, with no one to clean up after it.
 */
export class AgentRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = KEY_PREFIX,
  ) {}

  private key(group: string, id: string): string {
    return `${this.prefix}:agent:${group}:${id}`;
  }

  async heartbeat(info: AgentInfo, ttlSeconds = AGENT_TTL_SECONDS): Promise<void> {
    await this.redis.set(this.key(info.group, info.id), JSON.stringify(info), 'EX', ttlSeconds);
  }

  async remove(group: string, id: string): Promise<void> {
    await this.redis.del(this.key(group, id));
  }

  async list(): Promise<AgentInfo[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:agent:*`, 'COUNT', 500);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    if (keys.length === 0) return [];
    const values = await this.redis.mget(...keys);
    const agents: AgentInfo[] = [];
    for (const value of values) {
      if (!value) continue;
      try {
        agents.push(JSON.parse(value) as AgentInfo);
      } catch {
        // A malformed entry is somebody else's key: skip it.
      }
    }
    return agents.sort((a, b) => a.group.localeCompare(b.group) || a.id.localeCompare(b.id));
  }
}
