import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { KEY_PREFIX } from '../queue/names.js';
import { logBadRecords, readRecord } from '../queue/records.js';

/** A button on a sweep's messages: each press is checked against the policy and audited like a command. */
export type SweepButton = 'rerun' | 'cancel' | 'show_hosts' | 'show_silent' | 'save_baseline';

/** One line of the audit trail: who asked for what, where, and what came of it. No token, no payload. */
export const auditEntrySchema = z.object({
  at: z.string(),
  user: z.string(),
  channel: z.string(),
  /** The command text as typed (targets and options: nothing secret); for a button, the text of its sweep. */
  text: z.string(),
  /** The button pressed; absent for the slash command. */
  action: z.enum(['rerun', 'cancel', 'show_hosts', 'show_silent', 'save_baseline', 'acknowledge', 'silence', 'unwatch', 'graph']).optional(),
  /** The kind of command (sweep, trace, agents, history, watch …); absent in entries older than this field. */
  kind: z.string().max(32).optional(),
  /** `allowed`: a reveal or a change the policy let through (agents, history, unwatch, a button …). */
  outcome: z.enum(['started', 'refused', 'invalid', 'delivered', 'cancelled', 'failed', 'allowed']),
  sweepId: z.string().optional(),
  /** For refused, invalid and failed: the one-line reason. */
  reason: z.string().optional(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

/** Entries kept in Redis, newest first. */
export const AUDIT_KEEP = 10_000;

/** The audit trail, in Redis (`PREFIX:audit`, a list capped at AUDIT_KEEP entries) and in the logs, one line per event. */
export class AuditTrail {
  constructor(
    private readonly redis: Redis,
    /** Where each entry is also logged (a service's pino logger; the command line logs nothing). */
    private readonly log: Pick<Logger, 'info' | 'warn'>,
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

  /** The newest entries first; one that fails its schema is logged once and left out. */
  async recent(limit = 50): Promise<AuditEntry[]> {
    const items = await this.redis.lrange(this.key(), 0, limit - 1);
    const onBad = logBadRecords(this.log);
    return items.flatMap((item, i) => readRecord(auditEntrySchema, item, { what: 'audit entry', key: `${this.key()}[${i}]` }, onBad) ?? []);
  }
}
