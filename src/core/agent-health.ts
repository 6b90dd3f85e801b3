/**
 * How an agent is doing, from the facts it publishes in its heartbeat: one model for `/sweep agents`,
 * `zensweep agents` and the bot's metrics, so the three never disagree.
 */
import { countOf, formatCount, formatDuration } from './format.js';

/** What an agent says of itself that bears on its health (a subset of its registry entry). */
export interface AgentFacts {
  /** Its last heartbeat, ISO 8601. */
  lastSeen: string;
  /** Probes outstanding at its last heartbeat; absent from agents older than this field. */
  inFlight?: number;
  /** Packets per second it sent between its last two heartbeats. */
  sendRate?: number;
  /** Its configured limit, packets per second; 0 = unlimited. */
  rateLimit?: number;
  /** The last thing that went wrong there (a failed chunk, a worker or Redis error), one line, no secret. */
  lastError?: { at: string; message: string };
  /** Its connections that wait for work and have stopped answering: it takes no work from those queues. */
  deaf?: { since: string; queues: string[] };
  /** Chunks it ran at its last heartbeat, of the most it holds at once. */
  load?: { active: number; concurrency: number };
}

export interface AgentHealth {
  /** Milliseconds since its last heartbeat (never negative, whatever the clocks say). */
  heartbeatAgeMs: number;
  /** The heartbeat is overdue: more than two heartbeat periods old. */
  late: boolean;
  inFlight: number;
  /** Packets per second. */
  sendRate: number;
  rateLimit?: number;
  lastError?: { ageMs: number; message: string };
  /** Its connections waiting for work have not answered for this long, as of its last heartbeat and since. */
  deaf?: { silentMs: number; queues: string[] };
  load?: { active: number; concurrency: number };
}

/** How often an agent refreshes its registry entry, in milliseconds. */
export const HEARTBEAT_MS = 10_000;

/** The health model of one agent at `now` (ms since the epoch). */
export function agentHealth(facts: AgentFacts, now: number): AgentHealth {
  const heartbeatAgeMs = Math.max(0, now - Date.parse(facts.lastSeen));
  const health: AgentHealth = {
    heartbeatAgeMs,
    late: heartbeatAgeMs > 2 * HEARTBEAT_MS,
    inFlight: facts.inFlight ?? 0,
    sendRate: facts.sendRate ?? 0,
  };
  if (facts.rateLimit !== undefined) health.rateLimit = facts.rateLimit;
  if (facts.load) health.load = { active: facts.load.active, concurrency: facts.load.concurrency };
  if (facts.lastError) {
    health.lastError = { ageMs: Math.max(0, now - Date.parse(facts.lastError.at)), message: facts.lastError.message };
  }
  if (facts.deaf) health.deaf = { silentMs: Math.max(0, now - Date.parse(facts.deaf.since)), queues: facts.deaf.queues };
  return health;
}

/**
 * `as of its heartbeat 3.20 s ago: 1 of 2 chunks running · 120 probes in flight · 450/10,000 pkt/s · last error 5 min
 * 2 s ago: bad chunk data`: the figures are those of its last heartbeat (every 10 s), and say so, with `LATE` in front
 * when that heartbeat is overdue.
 */
export function describeAgentHealth(health: AgentHealth): string {
  const limit = health.rateLimit === undefined ? '' : `/${health.rateLimit === 0 ? 'unlimited' : formatCount(health.rateLimit)}`;
  const parts = [
    ...(health.deaf
      ? [
          health.deaf.queues.length === 1
            ? `NOT TAKING WORK: its connection waiting on ${health.deaf.queues.join(', ')} has not answered for ${formatDuration(health.deaf.silentMs)}`
            : `NOT TAKING WORK: its connections waiting on ${health.deaf.queues.join(', ')} have not answered for ${formatDuration(health.deaf.silentMs)}`,
        ]
      : []),
    `${health.late ? 'LATE: as of its last heartbeat, ' : 'as of its heartbeat '}${formatDuration(health.heartbeatAgeMs)} ago: ` +
      [
        ...(health.load ? [`${formatCount(health.load.active)} of ${countOf(health.load.concurrency, 'chunk')} running`] : []),
        `${countOf(health.inFlight, 'probe')} in flight`,
        `${formatCount(Math.round(health.sendRate))}${limit} pkt/s`,
      ].join(' · '),
  ];
  if (health.lastError) parts.push(`last error ${formatDuration(health.lastError.ageMs)} ago: ${health.lastError.message}`);
  return parts.join(' · ');
}
