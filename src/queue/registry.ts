import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { AgentFacts } from '../core/agent-health.js';
import { KEY_PREFIX } from './names.js';
import { AGENTS_TAG, scanKeys } from './key-layout.js';
import { printBadRecord, readRecord } from './records.js';
import { icmpOffReasonSchema } from './report-schema.js';
import type { OnBadRecord } from './records.js';

/** What an agent says of itself in its heartbeat (its health facts included). */
export const agentInfoSchema = z.object({
  group: z.string().min(1),
  id: z.string().min(1),
  /** The CIDRs it may probe (ZENSWEEP_CIDRS). */
  cidrs: z.array(z.string()),
  version: z.string(),
  /** Whether it can send ICMP (a raw socket, or a ping socket). */
  icmp: z.boolean(),
  /** How: raw (root or CAP_NET_RAW), ping (net.ipv4.ping_group_range), off; absent from agents older than it. */
  icmpMode: z.enum(['raw', 'ping', 'off']).optional(),
  /** With icmpMode off: why (ZENSWEEP_ICMP=off, or no ICMP socket); absent from agents older than it. */
  icmpReason: icmpOffReasonSchema.optional(),
  /** Chunks running now, out of how many at once. */
  load: z.object({ active: z.number().int().min(0), concurrency: z.number().int().min(0) }),
  startedAt: z.string(),
  lastSeen: z.string(),
  // Its health (core/agent-health.ts); absent from agents older than these fields.
  inFlight: z.number().int().min(0).optional(),
  sendRate: z.number().min(0).optional(),
  rateLimit: z.number().int().min(0).optional(),
  lastError: z.object({ at: z.string(), message: z.string().max(1000) }).optional(),
  /** Its connections waiting for work that do not answer (src/agent/deaf-watch.ts): since when, on which queues. */
  deaf: z.object({ since: z.string(), queues: z.array(z.string().max(200)).min(1).max(10) }).optional(),
});
export type AgentInfo = z.infer<typeof agentInfoSchema>;
// The health facts are the core's, field for field.
const sameFacts: AgentFacts = {} as AgentInfo;
void sameFacts;

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
    /** Told of each heartbeat that fails its schema, which is then left out; default: a line on stderr. */
    private readonly onBadRecord: OnBadRecord = printBadRecord,
  ) {}

  private key(group: string, id: string): string {
    return `${this.prefix}:${AGENTS_TAG}:agent:${group}:${id}`;
  }

  async heartbeat(info: AgentInfo, ttlSeconds = AGENT_TTL_SECONDS): Promise<void> {
    await this.redis.set(this.key(info.group, info.id), JSON.stringify(info), 'EX', ttlSeconds);
  }

  /** Whether this agent's heartbeat is still listed (it has not left, or not for AGENT_TTL_SECONDS yet). */
  async isListed(group: string, id: string): Promise<boolean> {
    return (await this.redis.exists(this.key(group, id))) === 1;
  }

  async remove(group: string, id: string): Promise<void> {
    await this.redis.del(this.key(group, id));
  }

  async list(): Promise<AgentInfo[]> {
    // One hash tag for every heartbeat: one MGET reads them all, on a cluster too.
    const keys = await scanKeys(this.redis, `${this.prefix}:${AGENTS_TAG}:agent:*`);
    if (keys.length === 0) return [];
    const values = await this.redis.mget(...keys);
    const agents: AgentInfo[] = [];
    keys.forEach((key, i) => {
      const value = values[i];
      const agent = value ? readRecord(agentInfoSchema, value, { what: 'agent heartbeat', key }, this.onBadRecord) : undefined;
      if (agent) agents.push(agent);
    });
    return agents.sort((a, b) => a.group.localeCompare(b.group) || a.id.localeCompare(b.id));
  }
}
