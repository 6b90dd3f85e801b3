import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { KEY_PREFIX } from '../queue/names.js';

/** A button on a sweep's messages: each press is checked against the policy and audited like a command. */
export type SweepButton = 'rerun' | 'cancel' | 'show_silent' | 'save_baseline';

/** One line of the audit trail: who asked for what, where, and what came of it. No token, no payload. */
export interface AuditEntry {
  at: string;
  user: string;
  channel: string;
  /** The command text as typed (targets and options: nothing secret); for a button, the text of its sweep. */
  text: string;
  /** The button pressed; absent for the slash command. */
  action?: SweepButton;
  /** `allowed`: a button the policy let through (Cancel, Show silent hosts, Save as baseline). */
  outcome: 'started' | 'refused' | 'invalid' | 'delivered' | 'cancelled' | 'failed' | 'allowed';
  sweepId?: string;
  /** For refused, invalid and failed: the one-line reason. */
  reason?: string;
}

/** Entries kept in Redis, newest first. */
export const AUDIT_KEEP = 10_000;

/** The audit trail, in Redis (a capped list) and in the logs, one line per event. */
export class AuditTrail {
  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
    private readonly prefix = KEY_PREFIX,
    /** Told of each entry as it is recorded (metrics). */
    private readonly onRecord?: (entry: AuditEntry) => void,
  ) {}

  key(): string {
    return `${this.prefix}:audit`;
  }

  async record(entry: Omit<AuditEntry, 'at'>): Promise<void> {
    const full: AuditEntry = { at: new Date().toISOString(), ...entry };
    this.log.info({ event: 'audit', ...full });
    this.onRecord?.(full);
    await this.redis.multi().lpush(this.key(), JSON.stringify(full)).ltrim(this.key(), 0, AUDIT_KEEP - 1).exec();
  }

  async recent(limit = 50): Promise<AuditEntry[]> {
    const items = await this.redis.lrange(this.key(), 0, limit - 1);
    return items.map((item) => JSON.parse(item) as AuditEntry);
  }
}
