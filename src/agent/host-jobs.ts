import type { Job } from 'bullmq';
import type { DiagReport } from '../core/diag.js';
import { isZenSweepError } from '../core/errors.js';
import { Scope } from '../core/scope.js';
import { parseTargetToken } from '../core/targets.js';
import type { TraceReport } from '../core/trace.js';
import { runDiag } from '../engine/diag/run-diag.js';
import { runTrace } from '../engine/trace/run-trace.js';
import { hostJobSchema } from '../queue/host-jobs.js';
import { firstIssue } from '../queue/records.js';
import { bullmq } from '../queue/load.js';

export interface HostJobContext {
  group: string;
  agentId: string;
  /** The agent's own CIDRs: it probes nothing else. */
  scope: Scope;
}

/**
 * Runs a trace or diag job on this agent: the data is checked as any job's, the host must lie in the agent's CIDRs
 * and in the requester's scope when the job carries one (both checked after a name is resolved, before a packet
 * leaves). Bad data and refusals fail for good; the report is the job's return value.
 */
export async function runHostJob(job: Job, context: HostJobContext, signal?: AbortSignal): Promise<TraceReport | DiagReport> {
  const parsed = hostJobSchema.safeParse(job.data);
  if (!parsed.success) throw new bullmq.UnrecoverableError(`bad ${job.name} data: ${firstIssue(parsed.error)}`);
  const data = parsed.data;
  if (data.group !== context.group) {
    throw new bullmq.UnrecoverableError(`${data.kind} for group ${data.group} reached an agent of group ${context.group}`);
  }
  const target = parseTargetToken(data.target);
  if (target.kind !== 'address' && target.kind !== 'name') throw new bullmq.UnrecoverableError(`bad ${data.kind} data: one host expected`);
  let requesterScope: Scope | undefined;
  try {
    requesterScope = data.scope && Scope.of(data.scope);
  } catch (error) {
    throw new bullmq.UnrecoverableError(`bad ${data.kind} data: ${(error as Error).message}`);
  }
  const deps = { signal, scope: context.scope, requesterScope };
  const agent = { group: context.group, id: context.agentId };
  try {
    if (data.kind === 'trace') return { ...(await runTrace({ target, options: data.options }, deps)), agent };
    return { ...(await runDiag({ target, options: data.options }, deps)), agent };
  } catch (error) {
    if (isZenSweepError(error)) throw new bullmq.UnrecoverableError(error.message);
    throw error;
  }
}
