import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { agentHealth } from '../core/agent-health.js';
import type { AgentInfo } from '../queue/registry.js';
import { labelledCounter, queueGauges, redisUpGauge, serviceRegistry, withinTime } from './registry.js';

export interface BotMetricSources {
  /** The bot's Redis connections. */
  connections: () => readonly Redis[];
  /** The live agents, from the registry. */
  agents: () => Promise<AgentInfo[]>;
  /** The sweep queue of a group (kept by the caller, closed at shutdown). */
  queueOf: (group: string) => Queue;
}

/** What the audit trail records, counted: every sweep the bot starts and how it ends. */
export type SweepOutcome = 'started' | 'delivered' | 'cancelled' | 'failed' | 'refused' | 'invalid' | 'allowed';

/** Outcomes of one watch run. */
export const WATCH_RUN_OUTCOMES = ['unchanged', 'changed', 'inconclusive', 'paused', 'muted', 'refused', 'failed', 'skipped'] as const;
export type WatchRunOutcome = (typeof WATCH_RUN_OUTCOMES)[number];

/** What a watch told a channel. */
export const WATCH_NOTICES = ['alert', 'update', 'resolved', 'flapping', 'paused', 'resumed', 'vantage'] as const;
export type WatchNotice = (typeof WATCH_NOTICES)[number];

/** The bot's metrics: sweeps by outcome, Slack API calls, watches, the agents and queues it sees in Redis. */
export class BotMetrics {
  readonly registry: Registry;
  private readonly sweeps: Record<'started' | 'finished' | 'cancelled' | 'failed', Counter>;
  private readonly refused: Counter<'reason'>;
  readonly slackCalls: Counter<'method'>;
  readonly slackErrors: Counter<'method' | 'error'>;
  readonly slackRetries: Counter<'method'>;
  private readonly watchRuns: Counter<'outcome'>;
  private readonly watchNotices: Counter<'kind'>;

  constructor(sources: BotMetricSources) {
    const registry = serviceRegistry();
    this.registry = registry;
    const counter = (name: string, help: string): Counter => new Counter({ name, help, registers: [registry] });
    this.sweeps = {
      started: counter('zensweep_sweeps_started_total', 'Sweeps this bot queued (commands, re-runs, watch runs).'),
      finished: counter('zensweep_sweeps_finished_total', 'Sweep reports this bot delivered to Slack.'),
      cancelled: counter('zensweep_sweeps_cancelled_total', 'Sweeps that ended cancelled (their report delivered as such).'),
      failed: counter('zensweep_sweeps_failed_total', 'Sweeps that could not be queued or whose report failed.'),
    };
    this.refused = labelledCounter(
      registry,
      'zensweep_commands_refused_total',
      'Commands and buttons answered with an error and nothing done, by reason: invalid (bad input) or refused (policy, limits, no agent).',
      ['reason'],
      { label: 'reason', values: ['invalid', 'refused'] },
    );
    this.slackCalls = labelledCounter(registry, 'zensweep_slack_api_calls_total', 'HTTP requests to Slack’s Web API, retries included, by method.', ['method']);
    this.slackErrors = labelledCounter(
      registry,
      'zensweep_slack_api_errors_total',
      'Slack Web API requests that failed, by method and error (a Slack error code, ratelimited, http_4xx, http_5xx or network).',
      ['method', 'error'],
    );
    this.slackRetries = labelledCounter(
      registry,
      'zensweep_slack_api_retries_total',
      'Slack Web API requests that failed in a way the client tries again (429, an HTTP error, a network error), by method.',
      ['method'],
    );
    this.watchRuns = labelledCounter(registry, 'zensweep_watch_runs_total', 'Watch runs, by outcome.', ['outcome'], {
      label: 'outcome',
      values: WATCH_RUN_OUTCOMES,
    });
    this.watchNotices = labelledCounter(
      registry,
      'zensweep_watch_alerts_total',
      'Messages watches posted, by kind: alert (a new incident), update (in its thread), resolved (or settled), paused, resumed, vantage (what one agent alone sees); flapping counts those that say a host flaps.',
      ['kind'],
      { label: 'kind', values: WATCH_NOTICES },
    );

    let agents: Promise<AgentInfo[]> | undefined;
    // Several gauges are collected in one scrape: read the registry once for them all.
    const listAgents = (): Promise<AgentInfo[]> => {
      agents ??= withinTime(sources.agents())
        .then((list) => list ?? [])
        .finally(() => setImmediate(() => (agents = undefined)));
      return agents;
    };
    new Gauge({
      name: 'zensweep_agent_heartbeat_age_seconds',
      help: 'Seconds since each live agent’s last heartbeat, by group and agent id.',
      labelNames: ['group', 'agent'] as const,
      registers: [registry],
      async collect() {
        const now = Date.now();
        const list = await listAgents();
        this.reset();
        for (const agent of list) this.set({ group: agent.group, agent: agent.id }, agentHealth(agent, now).heartbeatAgeMs / 1000);
      },
    });
    new Gauge({
      name: 'zensweep_agents',
      help: 'Live agents, by group.',
      labelNames: ['group'] as const,
      registers: [registry],
      async collect() {
        const list = await listAgents();
        this.reset();
        const byGroup = new Map<string, number>();
        for (const agent of list) byGroup.set(agent.group, (byGroup.get(agent.group) ?? 0) + 1);
        for (const [group, count] of byGroup) this.set({ group }, count);
      },
    });
    redisUpGauge(registry, sources.connections);
    queueGauges(registry, async () => {
      const groups = [...new Set((await listAgents()).map((a) => a.group))].sort();
      return new Map(groups.map((group) => [group, sources.queueOf(group)]));
    });
  }

  /** Counts a sweep the bot started, or how one ended (a cancelled one also counts as finished). */
  sweep(event: 'started' | 'finished' | 'cancelled' | 'failed'): void {
    if (event === 'cancelled') this.sweeps.finished.inc();
    this.sweeps[event].inc();
  }

  /** Counts one audited outcome (the audit trail calls this for each entry). */
  audited(outcome: SweepOutcome): void {
    switch (outcome) {
      case 'started':
      case 'cancelled':
      case 'failed':
        this.sweep(outcome);
        break;
      case 'delivered':
        this.sweep('finished');
        break;
      case 'refused':
      case 'invalid':
        this.refused.inc({ reason: outcome });
        break;
      case 'allowed':
        // A button let through: counted by what it starts, if anything.
        break;
    }
  }

  watchRun(outcome: WatchRunOutcome): void {
    this.watchRuns.inc({ outcome });
  }

  watchNotice(kind: WatchNotice): void {
    this.watchNotices.inc({ kind });
  }
}
