import type { Job } from 'bullmq';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { z } from 'zod';
import { agentHealth } from '../../core/agent-health.js';
import { isZenSweepError } from '../../core/errors.js';
import { summaryLine } from '../../views/words.js';
import { parseSweepText } from '../../core/grammar.js';
import type { SweepRequest } from '../../core/request.js';
import { firstState, hostSignature, observeRun } from '../../core/watch.js';
import type { BotMetrics, WatchRunOutcome } from '../../metrics/bot-metrics.js';
import type { Dispatcher } from '../../queue/dispatcher.js';
import { newSweepId } from '../../queue/dispatcher.js';
import type { DistributedReport } from '../../core/report.js';
import { bullmq } from '../../queue/load.js';
import type { SweepPlan } from '../../queue/plan.js';
import type { AgentInfo } from '../../queue/registry.js';
import type { ResultStore } from '../../queue/results.js';
import type { WatchNoticeRecord, WatchRecord, WatchStore } from '../../queue/watch-store.js';
import type { Requester } from '../policy.js';
import { alertMessage, closedAlert, closedMessage, pauseMessage, updateMessage } from './render.js';
import type { WatchMessage } from './render.js';

/** How a watch is allowed to sweep: the same checks as `/sweep` (the policy on the request, then on the plan). */
export interface WatchAccess {
  requester(user: string, channel: string): Promise<Requester>;
  plan(who: Requester, request: SweepRequest): Promise<{ plan: SweepPlan; agents: AgentInfo[] }>;
}

export interface WatchRunnerDeps {
  client: WebClient;
  store: WatchStore;
  dispatcher: Dispatcher;
  access: WatchAccess;
  /** Where a run's report is deleted once read (the history and the watch keep what it concluded). */
  results?: Pick<ResultStore, 'deleteReport'>;
  metrics?: BotMetrics;
  log: Logger;
  /** Longest a run waits for its report, in ms, before it counts as inconclusive (its sweep is cancelled). */
  runTimeoutMs: number;
}

const runJobSchema = z.object({ v: z.literal(1), watchId: z.string().regex(/^w[0-9a-f]{6}$/) });

/** Slack errors that mean the bot cannot post in the watch's channel: the notice is dropped, the watch goes on. */
const CANNOT_POST = new Set(['not_in_channel', 'channel_not_found', 'is_archived', 'restricted_action', 'missing_scope']);

function slackErrorCode(error: unknown): string | undefined {
  const data = (error as { data?: { error?: unknown } }).data;
  return typeof data?.error === 'string' ? data.error : undefined;
}

/**
 * One run of a watch (a job its scheduler put in WATCH_QUEUE): checks that its agents are alive and that the
 * policy still allows it, sweeps as `/sweep` does (history keeps the report, "what changed" compares with it),
 * decides with the watch's state what changed, and tells the channel only what it must. A run that finds another
 * run of the same watch in progress does nothing. What it has to say is stored before it is posted, and posted
 * once: a restart neither loses nor repeats it.
 */
export function watchProcessor(deps: WatchRunnerDeps) {
  const { store, log } = deps;

  const render = (watch: WatchRecord, notice: WatchNoticeRecord): WatchMessage => {
    switch (notice.kind) {
      case 'alert':
        return alertMessage(watch, notice);
      case 'update':
        return updateMessage(watch, notice);
      case 'resolved':
      case 'settled':
        return closedMessage(watch, notice);
      case 'paused':
      case 'resumed':
        return pauseMessage(watch, notice);
    }
  };

  /** Posts one notice; resolves with the ts of the message it posted. */
  const post = async (watch: WatchRecord, notice: WatchNoticeRecord): Promise<string | undefined> => {
    const message = render(watch, notice);
    const channel = watch.channel;
    const incidentTs = watch.state?.incident?.alert?.ts;
    const closing = notice.kind === 'resolved' || notice.kind === 'settled' ? notice.alert : undefined;
    const thread = notice.kind === 'update' ? incidentTs : closing?.ts;
    const posted = await deps.client.chat.postMessage({ channel, text: message.text, blocks: message.blocks, ...(thread ? { thread_ts: thread } : {}) });
    if (closing && (notice.kind === 'resolved' || notice.kind === 'settled')) {
      const edited = closedAlert(closing.text, notice);
      await deps.client.chat.update({ channel, ts: closing.ts, text: edited.text, blocks: edited.blocks });
    }
    deps.metrics?.watchNotice(notice.kind === 'settled' ? 'resolved' : notice.kind);
    if ((notice.kind === 'alert' || notice.kind === 'update') && notice.flapping.length > 0) deps.metrics?.watchNotice('flapping');
    return notice.kind === 'alert' ? (posted.ts ?? undefined) : undefined;
  };

  /** Posts what the watch has still to say, oldest first, recording each as it goes. */
  const flush = async (watch: WatchRecord): Promise<void> => {
    while (watch.outbox.length > 0) {
      const notice = watch.outbox[0] as WatchNoticeRecord;
      try {
        const ts = await post(watch, notice);
        if (ts && watch.state?.incident) {
          watch.state.incident.alert = { ts, text: render(watch, notice).text };
        }
      } catch (error) {
        const code = slackErrorCode(error);
        if (!code || !CANNOT_POST.has(code)) throw error;
        log.warn({ event: 'watch_cannot_post', watch: watch.id, channel: watch.channel, error: code });
      }
      watch.outbox.shift();
      if (!(await store.save(watch))) return;
    }
  };

  /** Says once that the watch cannot run, and why; nothing more while the cause stays the same. */
  const block = (watch: WatchRecord, cause: 'agents' | 'policy' | 'plan', reason: string): void => {
    if (watch.blocked?.cause === cause && watch.blocked.reason === reason) return;
    watch.blocked = { cause, reason, since: new Date().toISOString() };
    watch.outbox.push({ kind: 'paused', cause, reason });
  };

  const finish = async (watch: WatchRecord, outcome: WatchRunOutcome, extra: Partial<NonNullable<WatchRecord['lastRun']>> = {}): Promise<WatchRunOutcome> => {
    if (outcome !== 'muted' && outcome !== 'skipped') watch.lastRun = { at: new Date().toISOString(), outcome, ...extra };
    if (await store.save(watch)) await flush(watch);
    return outcome;
  };

  const run = async (watch: WatchRecord, signal: AbortSignal | undefined): Promise<WatchRunOutcome> => {
    await flush(watch);
    if (await store.mutedUntil(watch.id)) return 'muted';

    // Hosts of a group without a live agent are not probed at all: say so, never report them silent.
    const now = Date.now();
    const agents = (await deps.dispatcher.agents()).filter((a) => !agentHealth(a, now).late);
    const missing = watch.groups.filter((group) => !agents.some((a) => a.group === group));
    if (missing.length > 0) {
      block(watch, 'agents', `no agent of ${missing.join(', ')} is alive`);
      return finish(watch, 'paused');
    }
    let request: SweepRequest;
    let planned: { plan: SweepPlan; agents: AgentInfo[] };
    try {
      request = parseSweepText(watch.sweep, { maxAddresses: Number.MAX_SAFE_INTEGER });
      planned = await deps.access.plan(await deps.access.requester(watch.createdBy, watch.channel), request);
    } catch (error) {
      if (!isZenSweepError(error)) throw error;
      const cause = error.code === 'policy_refused' ? 'policy' : 'plan';
      block(watch, cause, cause === 'policy' ? `the policy no longer allows it: ${error.message}` : error.message);
      return finish(watch, cause === 'policy' ? 'refused' : 'paused');
    }
    if (watch.blocked) {
      const back = watch.blocked.cause === 'agents' ? `${watch.groups.join(', ')} ${watch.groups.length === 1 ? 'has' : 'have'} a live agent again` : 'it may run again';
      watch.outbox.push({ kind: 'resumed', cause: watch.blocked.cause, reason: back });
      delete watch.blocked;
    }

    const sweepId = newSweepId();
    await deps.dispatcher.submit(request, watch.createdBy, sweepId, planned);
    deps.metrics?.sweep('started');
    const timeout = AbortSignal.timeout(deps.runTimeoutMs);
    let report: DistributedReport;
    try {
      report = await deps.dispatcher.waitForReport(
        { sweepId, ...planned },
        { signal: signal ? AbortSignal.any([signal, timeout]) : timeout },
      );
    } catch (error) {
      if (signal?.aborted) throw error;
      // No report in time (an agent died mid-run) or none at all: nothing is concluded from this run.
      await deps.dispatcher.cancel(sweepId);
      deps.metrics?.sweep(timeout.aborted ? 'cancelled' : 'failed');
      log.warn({ event: 'watch_run_inconclusive', watch: watch.id, sweepId, reason: timeout.aborted ? 'timeout' : (error as Error).message });
      return finish(watch, 'inconclusive', { sweepId });
    }
    // Read once, here: what it concluded is in the watch and the history, and a run every minute would otherwise
    // leave 1,440 reports a day in Redis until they expire.
    await deps.results?.deleteReport(sweepId);
    deps.metrics?.sweep(report.cancelled ? 'cancelled' : 'finished');
    const summary = summaryLine(report.summary, report.durationMs);
    if (report.cancelled) return finish(watch, 'inconclusive', { sweepId, summary });

    // Only the hosts this run probed: a chunk that failed leaves its hosts as they were.
    const observed = new Map(report.hosts.map((host) => [host.ip, hostSignature(host)]));
    if (!watch.state) {
      watch.state = firstState(observed);
      return finish(watch, 'unchanged', { sweepId, summary });
    }
    const verdict = observeRun(watch.state, observed, watch.confirm, new Date());
    watch.state = verdict.state;
    const { changes, flapping, calmed } = verdict;
    if (verdict.opened) {
      watch.outbox.push({ kind: 'alert', changes, flapping, summary });
    } else if (verdict.closed) {
      const { how, incident } = verdict.closed;
      watch.outbox.push({ kind: how, changes, calmed, openedAt: incident.openedAt, at: new Date().toISOString(), summary, ...(incident.alert ? { alert: incident.alert } : {}) });
    } else if (changes.length + flapping.length + calmed.length > 0) {
      watch.outbox.push({ kind: 'update', changes, flapping, calmed, summary });
    }
    const changed = verdict.opened || verdict.closed !== undefined || changes.length + flapping.length + calmed.length > 0;
    return finish(watch, changed ? 'changed' : 'unchanged', { sweepId, summary });
  };

  return async (job: Job, _token?: string, signal?: AbortSignal): Promise<{ outcome: WatchRunOutcome }> => {
    const parsed = runJobSchema.safeParse(job.data);
    if (!parsed.success) throw new bullmq.UnrecoverableError('bad watch run data');
    const { watchId } = parsed.data;
    const release = await store.lock(watchId, deps.runTimeoutMs + 60_000);
    if (!release) {
      deps.metrics?.watchRun('skipped');
      return { outcome: 'skipped' };
    }
    try {
      const watch = await store.get(watchId);
      if (!watch) {
        // Removed while a run was already scheduled: make sure nothing schedules it again. (A record that does not
        // read as one was reported by the store and is left alone.)
        if (!(await store.exists(watchId))) await store.unschedule(watchId);
        deps.metrics?.watchRun('skipped');
        return { outcome: 'skipped' };
      }
      const outcome = await run(watch, signal).catch((error: unknown) => {
        deps.metrics?.watchRun('failed');
        throw error;
      });
      deps.metrics?.watchRun(outcome);
      log.info({ event: 'watch_run', watch: watchId, outcome });
      return { outcome };
    } finally {
      await release().catch(() => undefined);
    }
  };
}
