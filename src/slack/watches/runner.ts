import type { Job } from 'bullmq';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { z } from 'zod';
import { agentHealth } from '../../core/agent-health.js';
import { isZenSweepError } from '../../core/errors.js';
import { shownSummary, summaryLine, unsentCounts } from '../../views/words.js';
import { parseSweepText } from '../../core/grammar.js';
import type { SweepRequest } from '../../core/request.js';
import { compactHosts, noEchoTo } from '../../core/diff.js';
import { QUIET, adoptFacts, firstState, holdChanges, isQuiet, observeRun, runSignatures } from '../../core/watch.js';
import type { HostChange } from '../../core/watch.js';
import { agreedObservation, newDissent } from '../../core/vantage.js';
import type { VantageDissent } from '../../core/vantage.js';
import { countsWords } from '../../views/outline.js';
import { formatDuration } from '../../core/format.js';
import type { BotMetrics, WatchRunOutcome } from '../../metrics/bot-metrics.js';
import type { Dispatcher } from '../../queue/dispatcher.js';
import { newSweepId } from '../../queue/dispatcher.js';
import type { DistributedReport } from '../../core/report.js';
import { bullmq } from '../../queue/load.js';
import type { SweepPlan } from '../../queue/plan.js';
import type { AgentInfo } from '../../queue/registry.js';
import type { ResultStore } from '../../queue/results.js';
import { MAX_NOTICE_ATTEMPTS, MAX_OUTBOX } from '../../queue/watch-store.js';
import type { WatchNoticeRecord, WatchRecord, WatchStore } from '../../queue/watch-store.js';
import type { Requester } from '../../door/policy.js';
import {
  alertMessage,
  cannotPostMessage,
  closedAlert,
  closedMessage,
  closedStandalone,
  heldNoticeLines,
  livingAlert,
  pauseMessage,
  quietSummaryMessage,
  silenceEndedMessage,
  silenceHolds,
  updateMessage,
  vantageMessage,
  watchChart,
} from './render.js';
import { mapPng } from '../map-picture.js';
import type { WatchMessage } from './render.js';
import { slackErrorCode } from '../errors.js';
import { parseQuietWindow, quietAt } from '../../core/quiet-window.js';
import { keepsSeries, qualityOf, qualityWords, withFigures } from '../../core/watch-conditions.js';
import type { HostResult } from '../../core/report.js';
import { usualRtts } from '../../core/series.js';
import type { SeriesPoint } from '../../core/series.js';
import type { WatchSeries } from '../../queue/watch-series.js';

/** How a watch is allowed to sweep: the same checks as `/sweep` (the policy on the request, then on the plan). */
export interface WatchAccess {
  requester(user: string, channel: string): Promise<Requester>;
  plan(who: Requester, request: SweepRequest): Promise<{ plan: SweepPlan; agents: AgentInfo[] }>;
}

export interface WatchRunnerDeps {
  /**
   * Posts the notices. Best without retries of its own (`retryConfig: { retries: 0 }`, `rejectRateLimitedCalls`):
   * a notice Slack refuses for a while is tried again at the next runs, never by a run waiting on it.
   */
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
  /** Told when an incident of the watch was said to open or end (its creator's Home shows it). */
  onIncident?: (watch: WatchRecord) => void;
  /** Where a watch with `count:N`, `loss:` or `rtt:` keeps its hosts' loss and round trips, run after run. */
  series?: WatchSeries;
}

const DAY_MS = 24 * 3600_000;

/** A run's point of the series: each host that answered, its loss, round trips and first open port's connect time. */
function seriesPoint(hosts: readonly HostResult[], at: string): SeriesPoint {
  const point: SeriesPoint = { at, hosts: {} };
  for (const host of hosts) {
    if (host.state !== 'alive' && host.state !== 'alive_tcp_only') continue;
    const connect = host.ports.find((p) => p.state === 'open' && p.ms !== undefined)?.ms;
    const round = (n: number | undefined): number | null => (n === undefined ? null : Math.round(n * 1000) / 1000);
    point.hosts[host.ip] = [host.icmp.sent > 0 ? host.icmp.lossPct : 0, round(host.icmp.rtt?.avg), round(host.icmp.rtt?.max), round(connect)];
  }
  return point;
}

/** Changes as a notice says them: the host's figures of this run beside a limit it is now over (`lost/55%`). */
function changesWithFigures(changes: readonly HostChange[], hosts: ReadonlyMap<string, HostResult>): HostChange[] {
  return changes.map((change) => {
    const host = hosts.get(change.ip);
    return host && qualityOf(change.to).length > 0 ? { ...change, to: withFigures(change.to, host.icmp.lossPct, host.icmp.rtt?.avg) } : change;
  });
}

/** Dissents grouped by vantage, as a notice says them: each vantage's hosts, from the accepted state to what it saw. */
function dissentViews(dissent: readonly VantageDissent[]): { vantage: string; changes: { ip: string; from: string; to: string }[] }[] {
  const byVantage = new Map<string, { ip: string; from: string; to: string }[]>();
  for (const d of dissent) byVantage.set(d.vantage, [...(byVantage.get(d.vantage) ?? []), { ip: d.ip, from: d.accepted, to: d.seen }]);
  return [...byVantage].slice(0, 100).map(([vantage, changes]) => ({ vantage, changes }));
}

const runJobSchema = z.object({ v: z.literal(1), watchId: z.string().regex(/^w[0-9a-f]{6}$/) });

/**
 * Slack errors that mean no post in the watch's channel can go through (channel gone or archived, bot removed,
 * token or scope gone): the watch keeps its notices and sweeps on, and its creator is told once.
 */
const CANNOT_POST_HERE = new Set([
  'channel_not_found',
  'is_archived',
  'not_in_channel',
  'account_inactive',
  'invalid_auth',
  'token_revoked',
  'missing_scope',
  'restricted_action',
]);
/** Errors of chat.update on a message that was deleted (or can no longer be edited): a new message says it instead. */
const MESSAGE_GONE = new Set(['message_not_found', 'cant_update_message']);
/** Errors of a reply whose thread's parent was deleted: the reply goes to the channel as a message of its own. */
const THREAD_GONE = new Set(['thread_not_found', 'invalid_thread_ts', 'message_not_found']);

/** One word for a failure that may pass: Slack's code, the HTTP status, or the client's own error code. */
function failureReason(error: unknown): string {
  const code = slackErrorCode(error);
  if (code) return code;
  const { statusCode, code: clientCode } = error as { statusCode?: unknown; code?: unknown };
  if (typeof statusCode === 'number') return `http_${statusCode}`;
  // A 429 refused at once (rejectRateLimitedCalls) carries no Slack code: Slack's own word for it.
  if (clientCode === 'slack_webapi_rate_limited_error') return 'ratelimited';
  if (typeof clientCode === 'string') return clientCode;
  return error instanceof Error ? error.message.slice(0, 200) : 'unknown';
}

/** Marks a Slack call whose message (or thread) is gone, as opposed to a call that failed. */
const GONE = Symbol('gone');

/** What one run has spent on Slack: after a failed post, it tries nothing more (the next run tries again). */
interface RunTurn {
  failed: boolean;
}

/**
 * One run of a watch (a job its scheduler put in WATCH_QUEUE): checks that its agents are alive and that the
 * policy still allows it, sweeps as `/sweep` does (history keeps the report, "what changed" compares with it),
 * decides with the watch's state what changed, and tells the channel only what it must. A run that finds another
 * run of the same watch in progress does nothing. What it has to say is stored before it is posted, and posted
 * once: a restart neither loses nor repeats it. Whatever Slack answers, the run sweeps: a notice Slack refuses is
 * kept (tried once a run, at most MAX_NOTICE_ATTEMPTS times for a failure that may pass, for as long as it takes
 * while the channel refuses every post), a notice whose message or thread was deleted is posted anew.
 */
export function watchProcessor(deps: WatchRunnerDeps) {
  const { store, log } = deps;

  /** A Slack call, or GONE when it fails with one of `gone`; any other failure is thrown. */
  const unlessGone = async <T>(call: () => Promise<T>, gone: ReadonlySet<string>): Promise<T | typeof GONE> => {
    try {
      return await call();
    } catch (error) {
      if (gone.has(slackErrorCode(error) ?? '')) return GONE;
      throw error;
    }
  };

  const postTo = async (watch: WatchRecord, message: WatchMessage, thread?: string): Promise<string | undefined> => {
    const posted = await deps.client.chat.postMessage({
      channel: watch.channel,
      text: message.text,
      blocks: message.blocks,
      ...(thread ? { thread_ts: thread } : {}),
    });
    return posted.ts ?? undefined;
  };

  /**
   * The chart of an incident that ended, in its alert's thread beside the reply (a watch that keeps a series):
   * best effort, once; a failed upload is logged, and the Graph button draws it again.
   */
  const chartInThread = async (watch: WatchRecord, notice: Extract<WatchNoticeRecord, { kind: 'resolved' | 'settled' }>, thread: string): Promise<void> => {
    if (!deps.series || !keepsSeries(watch)) return;
    try {
      const ended = { hosts: [...new Set([...notice.changes.map((c) => c.ip), ...notice.calmed.map((c) => c.ip), ...(notice.held?.changes ?? []).map((c) => c.ip)])], from: Date.parse(notice.openedAt), to: Date.parse(notice.at) };
      const chart = watchChart(watch, await deps.series.read(watch.id), Date.now(), ended);
      if (!chart) return;
      await deps.client.files.uploadV2({ channel_id: watch.channel, thread_ts: thread, filename: `${watch.id}-chart.png`, file: mapPng(chart.picture), initial_comment: chart.legend });
    } catch (error) {
      log.info({ event: 'watch_chart_failed', watch: watch.id, message: (error as Error).message });
    }
  };

  /** The last run's figures of a watch with loss: or rtt:, for its alert. */
  const lastPoint = async (watch: WatchRecord): Promise<SeriesPoint | undefined> =>
    watch.conditions ? (await deps.series?.read(watch.id))?.at(-1) : undefined;

  /** Posts an alert (or a change whose alert is gone) as a channel message; later notices of the incident answer it. */
  const postAlert = async (watch: WatchRecord, notice: Extract<WatchNoticeRecord, { kind: 'alert' | 'update' }>): Promise<void> => {
    // The incident as it stands when the alert goes out; one that has ended meanwhile is said as the notice has it.
    const incident = watch.state?.incident;
    const message = (incident && livingAlert(watch, await store.response(watch.id, incident.openedAt), Date.now(), await lastPoint(watch))) ?? alertMessage(watch, notice);
    const ts = await postTo(watch, message);
    if (ts && watch.state?.incident) watch.state.incident.alert = { ts, text: message.text };
  };

  /**
   * The open incident's alert, edited to say how it stands now (its hosts, who acknowledged or silenced it): after
   * each change, whether said in its thread or held back by a silence. An alert that is gone stays gone.
   */
  const editAlert = async (watch: WatchRecord): Promise<void> => {
    const incident = watch.state?.incident;
    const alert = incident?.alert;
    if (!incident || !alert) return;
    const message = livingAlert(watch, await store.response(watch.id, incident.openedAt), Date.now(), await lastPoint(watch));
    if (!message) return;
    await unlessGone(() => deps.client.chat.update({ channel: watch.channel, ts: alert.ts, text: message.text, blocks: message.blocks }), MESSAGE_GONE);
  };

  /** Says one notice, whole: throws what Slack answered when it could not. */
  const deliver = async (watch: WatchRecord, notice: WatchNoticeRecord): Promise<void> => {
    switch (notice.kind) {
      case 'alert':
        return postAlert(watch, notice);
      case 'paused':
      case 'resumed':
        await postTo(watch, pauseMessage(watch, notice));
        return;
      case 'vantage':
        await postTo(watch, vantageMessage(watch, notice));
        return;
      case 'refresh':
        return editAlert(watch);
      case 'quiet_summary':
        await postTo(watch, quietSummaryMessage(watch, notice));
        return;
      case 'silence_ended': {
        const thread = watch.state?.incident?.alert?.ts;
        const message = silenceEndedMessage(watch, notice);
        if (!thread || (await unlessGone(() => postTo(watch, message, thread), THREAD_GONE)) === GONE) await postTo(watch, message);
        return editAlert(watch);
      }
      case 'update': {
        const thread = watch.state?.incident?.alert?.ts;
        if (thread && (await unlessGone(() => postTo(watch, updateMessage(watch, notice), thread), THREAD_GONE)) !== GONE) return editAlert(watch);
        // The alert was deleted (or never posted): the change is a new alert, which later notices answer.
        if (thread) log.info({ event: 'watch_alert_gone', watch: watch.id, channel: watch.channel });
        return postAlert(watch, notice);
      }
      case 'resolved':
      case 'settled': {
        const alert = notice.alert;
        if (alert && !notice.replied) {
          if ((await unlessGone(() => postTo(watch, closedMessage(watch, notice), alert.ts), THREAD_GONE)) === GONE) {
            log.info({ event: 'watch_alert_gone', watch: watch.id, channel: watch.channel });
            await postTo(watch, closedStandalone(watch, notice));
            return;
          }
          // Not said twice if the edit fails and the notice is tried again.
          notice.replied = true;
          await chartInThread(watch, notice, alert.ts);
        }
        if (alert) {
          const edited = closedAlert(alert.text, notice);
          const update = () => deps.client.chat.update({ channel: watch.channel, ts: alert.ts, text: edited.text, blocks: edited.blocks });
          if ((await unlessGone(update, MESSAGE_GONE)) !== GONE) return;
          log.info({ event: 'watch_alert_gone', watch: watch.id, channel: watch.channel });
        }
        // No alert to answer or mark: the end of the incident is a message of its own.
        await postTo(watch, closedStandalone(watch, notice));
        return;
      }
    }
  };

  /**
   * A maintenance window: while it holds, nothing is posted (the notices wait in the outbox, the runs go on). At the
   * first flush after it, what waited becomes one summary, then the open incident's alert (as it stands) if it has
   * none yet, or an edit of the one it has. True while the window holds.
   */
  const keepsQuiet = async (watch: WatchRecord): Promise<boolean> => {
    const spec = await store.quietOf(watch.id);
    let window;
    try {
      window = spec ? parseQuietWindow(spec) : undefined;
    } catch {
      window = undefined;
    }
    const now = new Date();
    if (window && quietAt(window, now).inside) {
      if (watch.quietHold === undefined) {
        watch.quietHold = { since: now.toISOString(), window: window.text };
        await store.save(watch);
      }
      return true;
    }
    if (watch.quietHold === undefined) return false;
    const hold = watch.quietHold;
    delete watch.quietHold;
    const held = watch.outbox.splice(0);
    const lines = held.flatMap(heldNoticeLines).slice(0, 200);
    watch.outbox.push({ kind: 'quiet_summary', window: hold.window, since: hold.since, lines, summary: watch.lastRun?.summary ?? '' });
    const incident = watch.state?.incident;
    if (incident && !incident.alert) watch.outbox.push({ kind: 'alert', changes: [], flapping: [], summary: watch.lastRun?.summary ?? '' });
    else if (incident) watch.outbox.push({ kind: 'refresh' });
    log.info({ event: 'watch_quiet_ended', watch: watch.id, held: held.length });
    return false;
  };

  /** Slack refuses every post in the channel: the watch goes on, its creator is told once (privately), and the log. */
  const cannotPost = async (watch: WatchRecord, code: string): Promise<void> => {
    if (watch.cannotPost?.code === code) return;
    const first = watch.cannotPost === undefined;
    watch.cannotPost = { code, since: new Date().toISOString() };
    log.warn({ event: 'watch_cannot_post', watch: watch.id, channel: watch.channel, error: code });
    if (!first) return;
    const message = cannotPostMessage(watch, code);
    // A DM: chat.postMessage to the user's id opens the app's conversation with them.
    await deps.client.chat.postMessage({ channel: watch.createdBy, text: message.text, blocks: message.blocks }).catch((error: unknown) => {
      log.info({ event: 'watch_cannot_tell_creator', watch: watch.id, error: failureReason(error) });
    });
  };

  /**
   * Posts what the watch has still to say, oldest first, recording each as it goes; after a failure it stops for
   * this run (`turn`). False when the watch was removed meanwhile.
   */
  const flush = async (watch: WatchRecord, turn: RunTurn): Promise<boolean> => {
    if (await keepsQuiet(watch)) return true;
    while (watch.outbox.length > 0 && !turn.failed) {
      const notice = watch.outbox[0] as WatchNoticeRecord;
      try {
        await deliver(watch, notice);
        watch.outbox.shift();
        if (['alert', 'resolved', 'settled'].includes(notice.kind)) deps.onIncident?.(watch);
        if (notice.kind !== 'refresh') deps.metrics?.watchNotice(notice.kind === 'settled' ? 'resolved' : notice.kind === 'silence_ended' || notice.kind === 'quiet_summary' ? 'update' : notice.kind);
        if ((notice.kind === 'alert' || notice.kind === 'update') && notice.flapping.length > 0) deps.metrics?.watchNotice('flapping');
        if (watch.cannotPost) {
          log.info({ event: 'watch_can_post_again', watch: watch.id, channel: watch.channel, after: watch.cannotPost.code });
          delete watch.cannotPost;
        }
      } catch (error) {
        turn.failed = true;
        const code = slackErrorCode(error);
        if (code && CANNOT_POST_HERE.has(code)) {
          await cannotPost(watch, code);
        } else {
          // Anything else may pass (429, 5xx, no answer) or not (a message Slack will never take): tried again at
          // the next runs, a bounded number of times.
          const attempts = (notice.attempts ?? 0) + 1;
          const reason = failureReason(error);
          if (attempts >= MAX_NOTICE_ATTEMPTS) {
            watch.outbox.shift();
            log.warn({ event: 'watch_notice_dropped', watch: watch.id, kind: notice.kind, attempts, reason });
          } else {
            notice.attempts = attempts;
            log.debug({ event: 'watch_notice_failed', watch: watch.id, kind: notice.kind, attempts, reason });
          }
        }
      }
      if (!(await store.save(watch))) return false;
    }
    return true;
  };

  /** Keeps a notice to say; a watch that cannot post keeps the newest MAX_OUTBOX. */
  const say = (watch: WatchRecord, notice: WatchNoticeRecord): void => {
    while (watch.outbox.length >= MAX_OUTBOX) {
      const dropped = watch.outbox.shift();
      log.warn({ event: 'watch_notice_dropped', watch: watch.id, kind: dropped?.kind, reason: 'outbox full' });
    }
    watch.outbox.push(notice);
  };

  /** Says once that the watch cannot run, and why; nothing more while the cause stays the same. */
  const block = (watch: WatchRecord, cause: 'agents' | 'policy' | 'plan', reason: string): void => {
    if (watch.blocked?.cause === cause && watch.blocked.reason === reason) return;
    watch.blocked = { cause, reason, since: new Date().toISOString() };
    say(watch, { kind: 'paused', cause, reason });
  };

  const run = async (watch: WatchRecord, signal: AbortSignal | undefined): Promise<WatchRunOutcome> => {
    const turn: RunTurn = { failed: false };
    const finish = async (outcome: WatchRunOutcome, extra: Partial<NonNullable<WatchRecord['lastRun']>> = {}): Promise<WatchRunOutcome> => {
      if (outcome !== 'muted' && outcome !== 'skipped') watch.lastRun = { at: new Date().toISOString(), outcome, ...extra };
      if (await store.save(watch)) await flush(watch, turn);
      return outcome;
    };

    // What an earlier run could not say first; whatever Slack answers, this run goes on.
    if (!(await flush(watch, turn))) return 'skipped';
    if (await store.mutedUntil(watch.id)) return 'muted';

    // Hosts of a group without a live agent are not probed at all: say so, never report them silent.
    const now = Date.now();
    const agents = (await deps.dispatcher.agents()).filter((a) => !agentHealth(a, now).late);
    const missing = watch.groups.filter((group) => !agents.some((a) => a.group === group));
    if (missing.length > 0) {
      block(watch, 'agents', `no agent of ${missing.join(', ')} is alive`);
      return finish('paused');
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
      return finish(cause === 'policy' ? 'refused' : 'paused');
    }
    if (watch.blocked) {
      const back = watch.blocked.cause === 'agents' ? `${watch.groups.join(', ')} ${watch.groups.length === 1 ? 'has' : 'have'} a live agent again` : 'it may run again';
      say(watch, { kind: 'resumed', cause: watch.blocked.cause, reason: back });
      delete watch.blocked;
    }

    const sweepId = newSweepId();
    const submitted = await deps.dispatcher.submit(request, watch.createdBy, sweepId, planned, watch.channel);
    deps.metrics?.sweep('started');
    const timeout = AbortSignal.timeout(deps.runTimeoutMs);
    let report: DistributedReport;
    try {
      // Stopped while it was being enqueued: an abort from before the wait would never reach it.
      signal?.throwIfAborted();
      report = await deps.dispatcher.waitForReport(submitted, {
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        onResubmit: (groups) => log.warn({ event: 'sweep_resubmitted', watch: watch.id, sweepId, groups }),
      });
    } catch (error) {
      if (signal?.aborted) {
        // The bot is stopping (or the job was taken from it): the sweep stops with the run, not left to the agents.
        await deps.dispatcher.cancel(sweepId);
        deps.metrics?.sweep('cancelled');
        log.info({ event: 'watch_run_abandoned', watch: watch.id, sweepId, reason: String(signal.reason) });
        throw error;
      }
      // No report in time (an agent died mid-run) or none at all: nothing is concluded from this run.
      await deps.dispatcher.cancel(sweepId);
      deps.metrics?.sweep(timeout.aborted ? 'cancelled' : 'failed');
      log.warn({ event: 'watch_run_inconclusive', watch: watch.id, sweepId, reason: timeout.aborted ? 'timeout' : (error as Error).message });
      return finish('inconclusive', { sweepId });
    }
    // Read once, here: what it concluded is in the watch and the history, and a run every minute would otherwise
    // leave 1,440 reports a day in Redis until they expire.
    await deps.results?.deleteReport(sweepId);
    deps.metrics?.sweep(report.cancelled ? 'cancelled' : 'finished');
    const summary = report.vantages ? `${countsWords(report)} · ${formatDuration(report.durationMs)}` : summaryLine(shownSummary(report), report.durationMs, report.icmp, unsentCounts(report));
    if (report.cancelled) return finish('inconclusive', { sweepId, summary });

    // Only the hosts this run probed to a verdict, by their facts (as "what changed" compares them): a chunk that
    // failed, or a host whose probes were stopped unanswered, leaves its hosts as they were. With confirm:agents, a
    // host the vantages disagree on is taken as it was, and what one vantage alone saw is that vantage's own view.
    let observed = runSignatures(compactHosts(report.hosts), noEchoTo(report.hosts));
    let dissent: VantageDissent[] = [];
    if (watch.agents && report.vantages) {
      // Against the accepted states; at the first run, against the combined view (each host as best reached).
      const state = watch.state;
      const combined = observed;
      const agreed = agreedObservation(report, (ip) => (state ? state.baseline[ip] : combined.get(ip)) ?? QUIET);
      if (state) observed = agreed.observed;
      dissent = agreed.dissent;
    }
    // loss: and rtt:: a host that meets one this run carries its word (loss/>20%), confirmed and alerted as a change.
    const conditions = watch.agents ? undefined : watch.conditions;
    const keeping = deps.series !== undefined && keepsSeries(watch);
    const series = keeping && conditions?.rttFactor !== undefined ? await deps.series?.read(watch.id) : undefined;
    const baseline = observed;
    if (conditions) {
      const usual = series ? usualRtts(series, Date.now() - DAY_MS) : new Map<string, number>();
      observed = new Map(observed);
      for (const host of report.hosts) {
        const signature = observed.get(host.ip);
        if (signature === undefined || isQuiet(signature)) continue;
        const words = qualityWords(host.icmp, conditions, usual.get(host.ip));
        if (words.length > 0) observed.set(host.ip, `${signature} ${words.join(' ')}`);
      }
    }
    if (keeping) await deps.series?.append(watch.id, seriesPoint(report.hosts, new Date().toISOString()));
    const byIp = new Map(report.hosts.map((h) => [h.ip, h]));
    const { toSay, record } = newDissent(watch.state?.dissent, dissent);
    const noteDissent = (): void => {
      if (!watch.state) return;
      if (Object.keys(record).length > 0) watch.state.dissent = record;
      else delete watch.state.dissent;
    };
    if (!watch.state) {
      // The first run is the baseline: what the vantages disagree on then is the starting picture, not news. A host
      // over a loss: or rtt: limit already is not its normal: the baseline is the host without it.
      watch.state = firstState(baseline);
      noteDissent();
      return finish('unchanged', { sweepId, summary });
    }
    // How the open incident is being handled (its alert's buttons): a silence holds its replies back.
    const open = watch.state.incident;
    const response = open ? await store.response(watch.id, open.openedAt) : undefined;
    const verdict = observeRun(adoptFacts(watch.state, observed), observed, watch.confirm, new Date());
    watch.state = verdict.state;
    noteDissent();
    if (toSay.length > 0) say(watch, { kind: 'vantage', views: dissentViews(toSay), summary });
    const { flapping, calmed } = verdict;
    const changes = changesWithFigures(verdict.changes, byIp);
    let silence = response?.silence;
    const incident = watch.state.incident;
    if (silence && !verdict.closed && !silenceHolds(silence) && incident) {
      // The silence ran out before the incident: what changed while it held, in one reply.
      const { by, at, reason } = silence;
      say(watch, { kind: 'silence_ended', silence: { by, at, reason }, ...(incident.held ? { held: incident.held } : {}), summary });
      delete incident.held;
      await store.respond(watch.id, incident.openedAt, 'silence', undefined);
      silence = undefined;
    }
    if (verdict.opened) {
      say(watch, { kind: 'alert', changes, flapping, summary });
    } else if (verdict.closed) {
      const { how, incident: ended } = verdict.closed;
      // A silence ends with its incident: the reply says it, and what changed while it held.
      const silenced = silence ? { silence: { by: silence.by, at: silence.at, reason: silence.reason }, ...(ended.held ? { held: ended.held } : {}) } : {};
      say(watch, { kind: how, changes, calmed, openedAt: ended.openedAt, at: new Date().toISOString(), summary, ...(ended.alert ? { alert: ended.alert } : {}), ...silenced });
      await store.forgetResponse(watch.id);
    } else if (changes.length + flapping.length + calmed.length > 0) {
      if (incident && silenceHolds(silence)) {
        incident.held = holdChanges(incident.held, { changes, flapping, calmed });
        say(watch, { kind: 'refresh' });
      } else {
        say(watch, { kind: 'update', changes, flapping, calmed, summary });
      }
    }
    const changed = verdict.opened || verdict.closed !== undefined || changes.length + flapping.length + calmed.length + toSay.length > 0;
    return finish(changed ? 'changed' : 'unchanged', { sweepId, summary });
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
        // read as one was reported by the store, one line a run, and stays until removed by its id.)
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
