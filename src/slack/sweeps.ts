import type { Queue } from 'bullmq';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ZenSweepError, isZenSweepError } from '../core/errors.js';
import { describeRequest, parseCommand, parseSweepText } from '../core/grammar.js';
import type { Command, GrammarLimits } from '../core/grammar.js';
import type { WatchCommand } from '../core/watch-grammar.js';
import type { SweepRequest } from '../core/request.js';
import type { Dispatcher } from '../queue/dispatcher.js';
import { newSweepId } from '../queue/dispatcher.js';
import type { HistoryStore } from '../queue/history.js';
import { DEFAULT_HISTORY_AGE_DAYS, targetKey } from '../queue/history.js';
import { reachOfChunks } from '../queue/plan.js';
import type { SweepPlan } from '../queue/plan.js';
import type { AuditTrail, SweepButton } from './audit.js';
import { SlackHostJobs } from './host-jobs.js';
import type { HostJobs } from '../queue/host-jobs.js';
import type { SlackStore } from './store.js';
import { PolicyRefusedError, checkPolicy, checkRequest, checkUnknownReach, policyUsergroups } from './policy.js';
import type { Policy, Requester } from './policy.js';
import { progressBlocks } from '../views/blocks.js';
import type { SweepHeader } from '../views/blocks.js';
import { HELP_TEXT, agentsText, errorText, historyText } from './render/replies.js';
import { formatCount } from '../core/format.js';

/** The queue of report deliveries: one long job per sweep, run by the bot. */
export const DELIVERY_QUEUE = 'slack-deliveries';

/** A user already has as many sweeps running as the limit allows. */
export class TooManySweepsError extends ZenSweepError {
  constructor(message: string) {
    super('too_many_sweeps', message);
  }
}

/** Job data of a delivery: where the report goes. No token, no response_url (kept under its own key). */
export const deliveryJobSchema = z.object({
  v: z.literal(1),
  sweepId: z.string().min(1),
  channel: z.string().min(1),
  /** The parent message; absent when the bot could not post in the channel (the report goes to response_url). */
  parentTs: z.string().optional(),
  header: z.object({
    user: z.string().min(1),
    text: z.string(),
    groups: z.array(z.string()),
    addresses: z.number().int().min(0),
  }) satisfies z.ZodType<SweepHeader>,
});
export type DeliveryJob = z.infer<typeof deliveryJobSchema>;

/**
 * How the bot parses a sweep: without the size cap, which the plan applies after the policy (the dispatcher has
 * the cap), so that a channel the policy restricts hears the policy's reason and nothing about sizes or agents.
 */
export const PARSE_LIMITS: GrammarLimits = { maxAddresses: Number.MAX_SAFE_INTEGER };

/** What a sweep reaches, kept for its buttons: each group's targets (address ranges and names), and its text. */
const reachRecordSchema = z.object({
  v: z.literal(1),
  text: z.string().max(10_000),
  groups: z.array(z.object({ group: z.string().min(1).max(63), targets: z.array(z.string().min(1).max(300)).max(100_000) })).max(1000),
});
type ReachRecord = z.infer<typeof reachRecordSchema>;

/** What the slash command answers at once, privately. */
export interface Ack {
  response_type: 'ephemeral';
  text: string;
}

export interface SweepOrigin {
  user: string;
  channel: string;
  text: string;
  responseUrl: string;
  /** Unique per slash command; a retry of the same request carries the same one. */
  triggerId?: string;
  /** The button that asked (Re-run); absent for the slash command. */
  action?: SweepButton;
}

export interface SlackSweepsDeps {
  client: WebClient;
  store: SlackStore;
  dispatcher: Dispatcher;
  history: HistoryStore;
  deliveries: Queue;
  audit: AuditTrail;
  policy: Policy;
  maxSweepsPerUser: number;
  log: Logger;
  /** Where `/sweep trace` and `/sweep diag` are enqueued; without it they are refused. */
  hostJobs?: HostJobs;
  /** Answers the watch commands (`watch`, `watches`, `unwatch`, `mute`); without it they are refused. */
  watches?: { handle(origin: SweepOrigin, command: WatchCommand): Promise<Ack> };
}

/** Slack errors that mean "the bot cannot post here": the report then goes to the user through response_url. */
const CANNOT_POST = new Set(['not_in_channel', 'channel_not_found', 'is_archived', 'restricted_action', 'missing_scope']);

function slackErrorCode(error: unknown): string | undefined {
  const data = (error as { data?: { error?: unknown } }).data;
  return typeof data?.error === 'string' ? data.error : undefined;
}

/**
 * Everything `/sweep` and the Re-run button do, apart from Bolt: parse, authorize, plan, answer at once, then post
 * the parent message, enqueue the sweep and its delivery.
 */
export class SlackSweeps {
  private readonly hostJobs: SlackHostJobs | undefined;

  constructor(private readonly deps: SlackSweepsDeps) {
    const { client, policy, audit, log } = deps;
    const jobs = deps.hostJobs;
    this.hostJobs = jobs && new SlackHostJobs({ client, jobs, policy, audit, log, requester: (user, channel) => this.requester(user, channel) });
  }

  private readonly members = new Map<string, { at: number; users: Set<string> }>();

  /** The policy's user groups this user belongs to, looked up with usergroups.users.list, kept 5 minutes. */
  private async usergroupsOf(user: string): Promise<Set<string>> {
    const mine = new Set<string>();
    for (const group of policyUsergroups(this.deps.policy)) {
      let cached = this.members.get(group);
      if (!cached || Date.now() - cached.at > 5 * 60_000) {
        const listed = await this.deps.client.usergroups.users.list({ usergroup: group }).catch((error: unknown) => {
          throw new PolicyRefusedError(
            `the policy names user group ${group}, whose members I cannot read (${slackErrorCode(error) ?? 'error'}): ` +
              'the app needs the usergroups:read scope',
          );
        });
        cached = { at: Date.now(), users: new Set(listed.users ?? []) };
        this.members.set(group, cached);
      }
      if (cached.users.has(user)) mine.add(group);
    }
    return mine;
  }

  /** The requester the policy judges: this user, in this channel, with the user groups the policy names. */
  async requester(user: string, channel: string): Promise<Requester> {
    return { user, channel, usergroups: await this.usergroupsOf(user) };
  }

  /**
   * Checks a button on a sweep (Cancel, Show silent hosts, Save as baseline) for whoever pressed it, as if they had
   * asked for that sweep where they pressed it, and writes it to the audit trail. Throws PolicyRefusedError.
   */
  async authorizeButton(action: SweepButton, user: string, channel: string, sweepId: string): Promise<void> {
    const { deps } = this;
    const record = await this.loadReach(sweepId);
    const entry = { user, channel, text: record?.text ?? sweepId, action, sweepId };
    try {
      const who = await this.requester(user, channel);
      if (record) checkPolicy(deps.policy, who, reachOfChunks(record.groups));
      else checkUnknownReach(deps.policy, who);
    } catch (error) {
      if (!isZenSweepError(error)) throw error;
      await deps.audit.record({ ...entry, outcome: 'refused', reason: error.message });
      throw error;
    }
    await deps.audit.record({ ...entry, outcome: 'allowed' });
  }

  /** Keeps what a sweep reaches for as long as history may keep the sweep, for its buttons. */
  private async saveReach(sweepId: string, text: string, plan: SweepPlan): Promise<void> {
    const byGroup = new Map<string, string[]>();
    for (const chunk of plan.chunks) byGroup.set(chunk.group, [...(byGroup.get(chunk.group) ?? []), ...chunk.targets]);
    const record: ReachRecord = { v: 1, text, groups: [...byGroup].map(([group, targets]) => ({ group, targets })) };
    await this.deps.store.saveReach(sweepId, JSON.stringify(record), DEFAULT_HISTORY_AGE_DAYS * 24 * 3600);
  }

  /** The stored reach of a sweep; undefined when it is gone or unreadable (then nothing is assumed about it). */
  private async loadReach(sweepId: string): Promise<ReachRecord | undefined> {
    const text = await this.deps.store.reach(sweepId);
    if (!text) return undefined;
    try {
      const record = reachRecordSchema.parse(JSON.parse(text));
      reachOfChunks(record.groups);
      return record;
    } catch {
      this.deps.log.warn({ event: 'bad_reach_record', sweepId });
      return undefined;
    }
  }

  /**
   * Answers a command. Returns the ephemeral ack and, for a sweep, the work to do right after the ack (Slack wants
   * the ack within 3 s; posting and enqueueing come after).
   */
  async handle(origin: SweepOrigin): Promise<{ ack: Ack; after?: () => Promise<void> }> {
    const { deps } = this;
    if (origin.triggerId && !(await deps.store.firstRequest(origin.triggerId))) {
      return { ack: { response_type: 'ephemeral', text: 'This request is already being handled.' } };
    }
    let command: Command;
    try {
      command = parseCommand(origin.text, PARSE_LIMITS);
    } catch (error) {
      return this.invalid(origin, error);
    }
    switch (command.kind) {
      case 'help':
        return { ack: { response_type: 'ephemeral', text: HELP_TEXT } };
      case 'agents':
        return { ack: { response_type: 'ephemeral', text: agentsText(await deps.dispatcher.agents()) } };
      case 'history': {
        const key = command.target ? targetKey([command.target]) : undefined;
        return { ack: { response_type: 'ephemeral', text: historyText(await deps.history.recent(10, key), command.target) } };
      }
      case 'baselines':
      case 'forget':
        // Their answer comes with the door (HistoryStore.listBaselines / forgetBaseline, by this channel).
        return { ack: { response_type: 'ephemeral', text: errorText(`${command.kind} is not available on this bot yet`) } };
      case 'sweep':
        return this.sweep(origin, command.request);
      case 'trace':
      case 'diag':
        if (!this.hostJobs) return { ack: { response_type: 'ephemeral', text: errorText('trace and diag are not available on this bot') } };
        return this.hostJobs.handle(origin, command.kind === 'trace' ? { kind: 'trace', request: command.request } : { kind: 'diag', request: command.request });
      case 'watch':
      case 'watches':
      case 'unwatch':
      case 'mute':
        if (!deps.watches) return { ack: { response_type: 'ephemeral', text: errorText('watches are not available on this bot') } };
        return { ack: await deps.watches.handle(origin, command) };
    }
  }

  /**
   * Plans a sweep for this requester: the policy first, on the request and then on the plan, before any size or
   * planning message. Nothing is enqueued. Throws the refusal (PolicyRefusedError, OutOfScopeError, …).
   */
  async plan(who: Requester, request: SweepRequest): ReturnType<Dispatcher['plan']> {
    checkRequest(this.deps.policy, who, request);
    return this.deps.dispatcher.plan(request, (reach) => checkPolicy(this.deps.policy, who, reach), who.channel);
  }

  /** The Re-run button: the sweep's text again, from whoever pressed it, where they pressed it. */
  async rerun(origin: SweepOrigin): Promise<{ ack: Ack; after?: () => Promise<void> }> {
    const asked = { ...origin, action: 'rerun' as const };
    let request: SweepRequest;
    try {
      request = parseSweepText(origin.text, PARSE_LIMITS);
    } catch (error) {
      return this.invalid(asked, error);
    }
    return this.sweep(asked, request);
  }

  private async invalid(origin: SweepOrigin, error: unknown): Promise<{ ack: Ack }> {
    if (!isZenSweepError(error)) throw error;
    const { user, channel, text, action } = origin;
    await this.deps.audit.record({ user, channel, text, action, outcome: 'invalid', reason: error.message });
    return { ack: { response_type: 'ephemeral', text: errorText(error.message) } };
  }

  /** Checks and plans a sweep; on success answers "Sweeping…" and starts it right after the ack. */
  async sweep(origin: SweepOrigin, request: SweepRequest): Promise<{ ack: Ack; after?: () => Promise<void> }> {
    const { deps } = this;
    const text = describeRequest(request);
    try {
      const running = await deps.store.runningCount(origin.user);
      if (running >= deps.maxSweepsPerUser) {
        throw new TooManySweepsError(
          `you already have ${running} sweep${running === 1 ? '' : 's'} running (at most ${deps.maxSweepsPerUser}); wait for one to finish or cancel it`,
        );
      }
      const planned = await this.plan(await this.requester(origin.user, origin.channel), request);
      const header: SweepHeader = { user: origin.user, text, groups: planned.plan.groups, addresses: planned.plan.addresses };
      const sweepId = newSweepId();
      // Counted at once, so a burst of commands cannot start more than the limit.
      await deps.store.addRunning(origin.user, sweepId);
      const where = planned.plan.groups.join(', ');
      const size = planned.plan.addresses > 0 ? ` (${formatCount(planned.plan.addresses)} addresses)` : '';
      return {
        ack: { response_type: 'ephemeral', text: `Sweeping \`${text}\` in ${where}${size}…` },
        after: () =>
          this.start(origin, request, header, sweepId, planned).catch(async (error: unknown) => {
            // Whatever went wrong, the sweep no longer counts against the user's limit.
            await deps.store.removeRunning(origin.user, sweepId);
            throw error;
          }),
      };
    } catch (error) {
      if (!isZenSweepError(error)) throw error;
      const outcome = error.code === 'invalid_target' || error.code === 'invalid_option' ? 'invalid' : 'refused';
      await deps.audit.record({ user: origin.user, channel: origin.channel, text, action: origin.action, outcome, reason: error.message });
      return { ack: { response_type: 'ephemeral', text: errorText(error.message) } };
    }
  }

  private async start(
    origin: SweepOrigin,
    request: SweepRequest,
    header: SweepHeader,
    sweepId: string,
    planned: Awaited<ReturnType<Dispatcher['plan']>>,
  ): Promise<void> {
    const { deps } = this;
    // Before the parent message and its Cancel button exist.
    await this.saveReach(sweepId, header.text, planned.plan);
    let parentTs: string | undefined;
    try {
      const posted = await deps.client.chat.postMessage({
        channel: origin.channel,
        text: `<@${origin.user}> swept ${header.text} in ${header.groups.join(', ')}`,
        blocks: progressBlocks(header, sweepId, { done: 0, total: header.addresses, alive: 0 }),
      });
      parentTs = posted.ts;
    } catch (error) {
      const code = slackErrorCode(error);
      if (!code || !CANNOT_POST.has(code)) throw error;
      deps.log.info({ event: 'cannot_post', channel: origin.channel, error: code });
    }
    // Kept apart from job data, with the 30 minutes Slack honours it for.
    await deps.store.saveResponseUrl(sweepId, origin.responseUrl);
    try {
      await deps.dispatcher.submit(request, origin.user, sweepId, planned, origin.channel);
    } catch (error) {
      const reason = isZenSweepError(error) ? error.message : 'the sweep could not be queued';
      await deps.audit.record({ user: origin.user, channel: origin.channel, text: header.text, action: origin.action, outcome: 'failed', sweepId, reason });
      if (parentTs) {
        await deps.client.chat.update({ channel: origin.channel, ts: parentTs, text: `Sweep failed: ${reason}`, blocks: [] });
      }
      throw error;
    }
    const job: DeliveryJob = { v: 1, sweepId, channel: origin.channel, parentTs, header };
    await deps.deliveries.add('deliver', job, {
      jobId: `deliver-${sweepId}`,
      attempts: 20,
      backoff: { type: 'exponential', delay: 1000 },
      // Kept as long as the deliveries queue's defaultJobOptions say (src/queue/retention.ts).
    });
    await deps.audit.record({ user: origin.user, channel: origin.channel, text: header.text, action: origin.action, outcome: 'started', sweepId });
  }
}
