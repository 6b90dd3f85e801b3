import type { Job, Queue, Worker, WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { compactHosts, diffSweeps, noEchoTo } from '../core/diff.js';
import type { ChunkAccount, DistributedReport, HostResult, IcmpStatus, NameResolution, VantageView } from '../core/report.js';
import { icmpModeOf, partialCause, partialWords, summarize } from '../core/report.js';
import { combineVantages } from '../core/vantage.js';
import type { HistoryStore } from './history.js';
import { CLI_OWNER, comparisonWith, compactRecord, recordHosts, targetKey } from './history.js';
import { chunkResultSchema, partJobSchema, reportJobOptions, reportJobSchema } from './jobs.js';
import { REPORT_QUEUE, cancelledKey, groupOfQueue, partQueueName } from './names.js';
import type { ChunkResult, ReportDone, ReportJob, SweepPart } from './jobs.js';
import { retention } from './retention.js';
import { checkRecord, firstIssue, printBadRecord } from './records.js';
import type { OnBadRecord } from './records.js';
import { ResultStore } from './results.js';
import { bullmq } from './load.js';

/** `bull:sweep.{prod}:1h2k-ab12cd34.7` → 7: the chunk index is the last part of its job id. */
function chunkIndex(jobKey: string): number {
  const dot = jobKey.lastIndexOf('.');
  return Number(jobKey.slice(dot + 1));
}

/** `bull:sweep.{prod}:JOBID`, or `bull:sweep.{prod}@AGENT:JOBID` on an agent's own queue → prod. */
function groupOf(jobKey: string): string {
  return groupOfQueue(jobKey.split(':')[1] ?? '') ?? '';
}

/**
 * Processes a sweep's part job on one group once all the group's chunks have ended (it is their parent, in their
 * slot): keeps what they returned and which failed for good, and when every part of the sweep is kept, adds the
 * report job. Run again (its worker died), it keeps the same part and adds nothing twice.
 */
export function partProcessor(deps: {
  connection: Redis;
  /** The report queue (REPORT_QUEUE), where the last part adds the report job. */
  reports: Queue;
  prefix?: string;
  onBadRecord?: OnBadRecord;
  jobsKept?: number;
}) {
  const store = new ResultStore(deps.connection, deps.prefix, deps.onBadRecord ?? printBadRecord);
  return async (job: Job): Promise<{ sweepId: string; group: string; kept: number }> => {
    const parsed = partJobSchema.safeParse(job.data);
    if (!parsed.success) throw new bullmq.UnrecoverableError(`bad report part data: ${firstIssue(parsed.error)}`);
    const data = parsed.data;
    const values: Record<string, unknown> = await job.getChildrenValues();
    const ignored = await job.getIgnoredChildrenFailures();
    const failed = Object.fromEntries(Object.entries(ignored).map(([key, reason]) => [key, String(reason)]));
    const kept = await store.savePart(data.sweepId, { group: data.group, values, failed });
    if (kept >= data.parts) await deps.reports.add('report', data.report, reportJobOptions(data.sweepId, data.jobsKept ?? deps.jobsKept));
    return { sweepId: data.sweepId, group: data.group, kept };
  };
}

/** What one vantage's chunks (or the whole sweep's, without `from:`) came to. */
interface Gathered {
  hosts: HostResult[];
  names: NameResolution[];
  planned: number;
  complete: boolean;
}

/**
 * One vantage's view, from its chunks: incomplete when one of them failed or did not run, with why (its agent
 * left: that agent's trouble, not the hosts').
 */
function vantageView(
  vantage: NonNullable<ReportJob['vantages']>[number],
  gathered: Gathered,
  failures: readonly DistributedReport['failures'][number][],
): VantageView {
  const own = failures.filter((f) => f.index >= vantage.first && f.index < vantage.first + vantage.count);
  const view: VantageView = {
    name: vantage.name,
    group: vantage.group,
    ...(vantage.agent !== undefined ? { agent: vantage.agent } : {}),
    complete: gathered.complete && own.length === 0,
    planned: Math.max(gathered.planned, vantage.addresses),
    summary: summarize(gathered.hosts),
    names: gathered.names,
    hosts: gathered.hosts,
  };
  if (own.length > 0) {
    const which = own.length === vantage.count ? 'no view' : `${own.length} of its ${vantage.count} chunks missing`;
    view.missing = `${which}: ${own[0]?.reason ?? 'unknown'}`;
  }
  return view;
}

/**
 * What the sweep as a whole did with ICMP. Sent when any agent sent it (a ping socket worth saying over a raw one),
 * with the warning of the first agent without it (by chunk index): those agents are named per chunk
 * (agentsWithoutIcmp), and the views word their hosts apart. Not sent when no agent sent it: the first one's status,
 * its reason kept only when every agent without ICMP gave the same one.
 */
function sweepIcmp(results: readonly ChunkResult[]): IcmpStatus {
  const unsent = results.filter((r) => !r.icmp.available).map((r) => r.icmp);
  const sent = results.filter((r) => r.icmp.available).map((r) => r.icmp);
  const sending = sent.find((icmp) => icmpModeOf(icmp) === 'ping') ?? sent[0];
  const [first] = unsent;
  if (sending) return { available: true, mode: icmpModeOf(sending), ...(first?.warning ? { warning: first.warning } : {}) };
  if (!first) return { available: true };
  const { reason, ...status } = first;
  return reason !== undefined && unsent.every((icmp) => icmp.reason === reason) ? { ...status, reason } : status;
}

/**
 * Processes a sweep's report job once all its chunks are in: puts the chunks' hosts back in address order into one
 * report model (the same the CLI prints), notes which agent ran which chunk and which ran again, records the sweep
 * in the history, and says what changed since the last sweep of the same targets and against a named baseline.
 */
export function reportProcessor(deps: {
  connection: Redis;
  history?: HistoryStore;
  prefix?: string;
  /** Told of each stored result that fails its schema; default: a line on stderr. */
  onBadRecord?: OnBadRecord;
}) {
  const { connection, history } = deps;
  const onBadRecord = deps.onBadRecord ?? printBadRecord;
  const store = new ResultStore(connection, deps.prefix, onBadRecord);
  return async (job: Job): Promise<ReportDone> => {
    const parsed = reportJobSchema.safeParse(job.data);
    if (!parsed.success) throw new bullmq.UnrecoverableError(`bad report job data: ${firstIssue(parsed.error)}`);
    const data = parsed.data;
    // Run again after it finished (its worker died before the job was marked completed): the chunks' hosts are
    // gone by then, so the report already saved is the answer, not a rebuild from nothing.
    const built = await store.loadReport(data.sweepId);
    if (built) return { sweepId: built.sweepId, summary: built.summary, complete: built.complete };
    // Every part of the sweep, one per group: what its chunks returned, and which failed for good. One planned and
    // not found was lost with the last writes of a master that failed over, and is being kept again (its job runs
    // again): this job is tried again, with backoff, for about a minute (REPORT_ATTEMPTS).
    const partGroups = data.parts ?? data.groups;
    const found = await store.loadParts(data.sweepId, partGroups);
    const missing = partGroups.filter((_, i) => found[i] === undefined);
    if (data.parts && missing.length > 0) throw new Error(`the part of group ${missing.join(', ')} is not kept yet`);
    const parts: SweepPart[] = found.filter((p): p is SweepPart => p !== undefined);
    const values: Record<string, unknown> = Object.assign({}, ...parts.map((p) => p.values)) as Record<string, unknown>;
    const ignored: Record<string, string> = Object.assign({}, ...parts.map((p) => p.failed)) as Record<string, string>;
    const failures: DistributedReport['failures'] = Object.entries(ignored).map(([key, reason]) => ({
      index: chunkIndex(key),
      group: groupOf(key),
      reason: String(reason),
    }));

    const results: ChunkResult[] = [];
    for (const [key, value] of Object.entries(values)) {
      const result = checkRecord(chunkResultSchema, value, { what: 'chunk return value', key }, onBadRecord);
      if (result) results.push(result);
      else failures.push({ index: chunkIndex(key), group: groupOf(key), reason: 'its agent returned an unreadable result' });
    }
    results.sort((a, b) => a.index - b.index);
    const chunks: ChunkAccount[] = [];
    let complete = true;
    // Without from: one gathering for the whole sweep; with it, one per vantage (its chunks follow each other).
    const vantages = data.vantages ?? [];
    const gathered: Gathered[] = (vantages.length > 0 ? vantages : [undefined]).map(() => ({ hosts: [], names: [], planned: 0, complete: true }));
    const gatheringOf = (index: number): Gathered | undefined =>
      vantages.length === 0 ? gathered[0] : gathered[vantages.findIndex((v) => index >= v.first && index < v.first + v.count)];
    const stored = await store.loadChunks(data.sweepId, results);
    for (const [position, result] of results.entries()) {
      const found = stored[position];
      const into = gatheringOf(result.index);
      if (found && into) {
        for (const host of found.hosts) into.hosts.push(host);
        into.names.push(...found.names);
      } else if (!found && result.planned > 0) {
        // Only a chunk skipped before it started (a cancelled sweep) stores no hosts.
        failures.push({ index: result.index, group: result.group, reason: 'its hosts are missing from Redis or unreadable' });
      }
      if (!result.complete) {
        complete = false;
        if (into) into.complete = false;
      }
      if (into) into.planned += result.planned;
      chunks.push({
        index: result.index,
        group: result.group,
        agentId: result.agentId,
        attempt: result.attempt,
        stalled: result.stalled,
        durationMs: result.durationMs,
        icmpMode: icmpModeOf(result.icmp),
        // As its agent said it: an older agent's chunk says no reason (read as the want of a socket, as then).
        ...(!result.icmp.available && result.icmp.reason ? { icmpReason: result.icmp.reason } : {}),
      });
    }
    // A chunk given up past its time bound: its hosts are in, with the reason it stopped short.
    for (const r of results) if (r.reason) failures.push({ index: r.index, group: r.group, reason: r.reason });
    failures.sort((a, b) => a.index - b.index);
    if (failures.length > 0) complete = false;

    const cancelled = (await connection.exists(cancelledKey(data.sweepId, deps.prefix))) === 1;
    if (cancelled) complete = false;
    // A chunk given up past its time bound stopped the sweep short (unless it was cancelled first): its reason says how.
    const overTime = cancelled ? undefined : results.find((r) => r.reason)?.reason;
    const views = vantages.map((vantage, i) => vantageView(vantage, gathered[i] ?? { hosts: [], names: [], planned: 0, complete: false }, failures));
    // With vantages, the combined view: each host as the vantage that reached it best saw it.
    const { hosts, names } = views.length > 0 ? combineVantages(views) : (gathered[0] ?? { hosts: [], names: [] });
    const planned = Math.max(0, ...gathered.map((g) => g.planned));
    const finishedAt = new Date();
    const report: DistributedReport = {
      targets: data.targets,
      options: data.options,
      startedAt: data.createdAt,
      durationMs: finishedAt.getTime() - new Date(data.createdAt).getTime(),
      complete,
      // A chunk skipped because the sweep was cancelled before it started probed nothing but was still planned.
      planned: Math.max(planned, data.addresses ?? 0),
      icmp: sweepIcmp(results),
      summary: summarize(hosts),
      names,
      hosts,
      sweepId: data.sweepId,
      groups: data.groups,
      requestedBy: data.requestedBy,
      chunks,
      failures,
      cancelled,
      ...(overTime ? { stopped: { code: 'over_time' as const, reason: overTime } } : {}),
      ...(views.length > 0 ? { vantages: views } : {}),
    };
    // Partial: it lists the hosts it probed, is kept in the history as partial, and is never compared against later.
    const cause = partialCause(report);

    if (history) {
      const key = targetKey(data.targets);
      const facts = compactHosts(hosts);
      // A silent fact is the same word with or without an echo: which of them were never asked by ICMP.
      const noEchoNow = noEchoTo(hosts);
      const probed = { ports: data.options.ports, count: data.options.count };
      const previous = await history.lastOf(key, data.sweepId);
      if (previous) {
        const { context, probedBefore } = comparisonWith(previous, probed);
        const diff = diffSweeps(compactRecord(previous), facts, { ...context, noEchoNow });
        report.changes = { since: previous.at, sinceId: previous.id, diff, ...(probedBefore ? { probedBefore } : {}) };
      }
      // Baselines are the owner's own: another channel's of the same name is neither read nor replaced.
      const owner = data.owner ?? CLI_OWNER;
      if (data.options.compare) {
        const baseline = await history.baseline(owner, data.options.compare);
        if (baseline) {
          const { context, probedBefore } = comparisonWith(baseline.record, probed);
          const diff = diffSweeps(compactRecord(baseline.record), facts, { ...context, noEchoNow });
          report.baseline = { name: baseline.name, at: baseline.record.at, diff, ...(probedBefore ? { probedBefore } : {}) };
        }
      }
      await history.record({
        id: data.sweepId,
        requestedBy: data.requestedBy,
        at: finishedAt.toISOString(),
        targets: data.targets,
        targetKey: key,
        groups: data.groups,
        summary: report.summary,
        durationMs: report.durationMs,
        complete,
        ...recordHosts(hosts),
        probed,
        ...(cause ? { partial: { why: cause, planned: report.planned } } : {}),
      });
      const save = data.options.save;
      if (save && cause) {
        report.notSaved = {
          name: save,
          reason: `the sweep is ${partialWords(cause, report.summary.total, report.planned)}, and only a complete sweep can be a baseline`,
        };
      } else if (save && (await history.saveBaseline(owner, save, data.sweepId, data.requestedBy))) {
        report.savedAs = save;
      }
    }
    // Saved before the job completes: whoever sees it complete finds the report there.
    await store.saveReport(report);
    await store.deleteChunks(data.sweepId, results);
    await store.deleteParts(data.sweepId, parts.map((p) => p.group));
    return { sweepId: data.sweepId, summary: report.summary, complete };
  };
}

export interface AssemblyOptions {
  /** What the processors read and write with. */
  connection: Redis;
  /** What the workers block on (BullMQ duplicates it): `maxRetriesPerRequest: null`. */
  workerConnection: Redis;
  /** The groups whose parts are put together here: an agent's own group, or every group of a sweep `submit` waits on. */
  groups: readonly string[];
  history?: HistoryStore;
  prefix?: string;
  onBadRecord?: OnBadRecord;
  jobsKept?: number;
  /** Wraps each job's processing (the agent keeps it in the set a stop waits for). */
  track?: <T>(processing: Promise<T>) => Promise<T>;
  /** BullMQ options of every worker here (lock, stall check). */
  workerOptions?: Partial<WorkerOptions>;
  /** Where the workers' `error` events go; without a listener BullMQ prints each on stderr. */
  onError: (error: Error, queue: string) => void;
}

/**
 * Who puts reports together: a worker for each group's parts and one for the report queue, and the queue the last
 * part adds the report job to. The agent runs one for its group; `submit` one for its sweep's groups when no agent
 * has made the report after a while. Closed together.
 */
export class ReportAssembly {
  readonly parts: Worker[];
  readonly reports: Worker;
  private readonly reportQueue: Queue;

  constructor(options: AssemblyOptions) {
    const track = options.track ?? (<T>(p: Promise<T>): Promise<T> => p);
    const common = { connection: options.workerConnection, ...options.workerOptions };
    this.reportQueue = new bullmq.Queue(REPORT_QUEUE, { connection: options.connection, defaultJobOptions: retention('reports', options.jobsKept) });
    this.reportQueue.on('error', (error) => options.onError(error, REPORT_QUEUE));
    const part = partProcessor({ ...options, reports: this.reportQueue });
    this.parts = options.groups.map((group) => new bullmq.Worker(partQueueName(group), (job) => track(part(job)), common));
    const report = reportProcessor(options);
    this.reports = new bullmq.Worker(REPORT_QUEUE, (job) => track(report(job)), { concurrency: 4, ...common });
    for (const worker of this.workers) worker.on('error', (error) => options.onError(error, worker.name));
  }

  get workers(): Worker[] {
    return [...this.parts, this.reports];
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers.map((w) => w.close()), this.reportQueue.close()]);
  }
}
