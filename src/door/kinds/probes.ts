/**
 * The kinds that probe: a sweep, a trace, a diag. Each is decided on its plan (the exact addresses each group will
 * probe), holds one of the requester's running slots until its answer is given, and is started durably by the
 * transport's starter.
 */
import { describeRequest } from '../../core/grammar.js';
import type { SweepOptions } from '../../core/request.js';
import { SWEEP_LIMITS } from '../../core/request.js';
import { DIAG_LIMITS, TRACE_LIMITS } from '../../core/trace.js';
import { describeTrace } from '../../core/trace-grammar.js';
import { flowOf, newSweepId } from '../../queue/dispatcher.js';
import type { Dispatcher } from '../../queue/dispatcher.js';
import { plannedProbes } from '../../queue/plan.js';
import type { PlannedVantage } from '../../queue/plan.js';
import { hostJobOf, hostJobTimeoutMs, newHostJobId, sweepRequestOf } from '../../queue/host-jobs.js';
import type { HostJob, HostRequest, PlannedHostJob } from '../../queue/host-jobs.js';
import type { CommandOf, DoorContext, RunContext } from '../kind.js';
import { declareKind } from '../kind.js';
import type { DoorServices } from '../services.js';
import { reachOf } from './reach.js';

/** A slot outlives the work it counts by this much at least, in ms: the answer is still to be delivered. */
const DELIVERY_ROOM_MS = 10 * 60_000;
/** No slot lives longer than this, in ms, whatever the estimate. */
const LONGEST_SLOT_MS = 24 * 3600_000;

/**
 * How long a sweep may take at the most, in ms, to size its slot: every probe paced at the sweep's rate on one agent
 * (N agents go N times faster), the echoes' interval, and the whole wait of a silent address, twice over.
 */
export function sweepSlotMs(addresses: number, options: SweepOptions): number {
  const rate = options.rate > 0 ? options.rate : SWEEP_LIMITS.rate.max;
  const probes = addresses * (options.count + options.ports.length) * (options.retries + 1);
  let waitMs = 0;
  for (let attempt = 0; attempt <= options.retries; attempt++) waitMs += options.timeoutMs * 1.5 ** attempt;
  const estimate = (probes / rate) * 1000 + (options.count - 1) * options.intervalMs + waitMs;
  return Math.min(LONGEST_SLOT_MS, DELIVERY_ROOM_MS + 2 * estimate);
}

/** `trace 10.0.2.15 tcp:443`, `diag 10.0.2.15 tcp:443,5432`: the words of the request, canonical. */
export function describeHostJob(job: HostRequest): string {
  if (job.kind === 'trace') return `trace ${describeTrace(job.request)}`;
  const { options, target } = job.request;
  return `diag ${target.text} tcp:${options.ports.join(',')}${options.vpc ? ` vpc:${options.vpc}` : ''}`;
}

/** A sweep's plan, and the agents it was made against. */
type PlannedSweep = Awaited<ReturnType<Dispatcher['plan']>>;

/** A sweep as started: its id, words, groups and size. */
export interface StartedSweep {
  id: string;
  text: string;
  groups: string[];
  addresses: number;
  chunks: number;
  /** `from:all` / `from:each`: the vantages (agents or groups), each probing the addresses again. */
  vantages?: PlannedVantage[];
  /** Probes of an address in all: `addresses` once per vantage (without `from:`, `addresses`). */
  probes: number;
}

export const SWEEP = declareKind({
  kind: 'sweep',
  touches: 'probes',
  limits: SWEEP_LIMITS,
  // One slot, sized for one vantage's share: with from:, each agent probes its copy at the sweep's rate at the same
  // time as the others (the rate is per agent), so N vantages take about as long as one, at N times the probes.
  starts: { newId: newSweepId, slotMs: (planned: PlannedSweep, command) => sweepSlotMs(planned.plan.addresses, command.request.options) },
  // compare:NAME reads the asking channel's own baselines (`cli` for the command line).
  decide: (command, { judge, services, request }: DoorContext<DoorServices>) =>
    judge.probe(command.request, (authorize) => services.dispatcher.plan(command.request, authorize, request.channel)),
  async run(command, planned: PlannedSweep, context: RunContext<DoorServices>): Promise<StartedSweep> {
    const { id, request: asker, services } = context;
    const text = describeRequest(command.request);
    await context.requests.save({
      v: 1,
      id,
      kind: 'sweep',
      source: asker.source,
      requester: asker.user,
      channel: asker.channel,
      text,
      groups: reachOf(planned.plan.chunks),
      at: new Date().toISOString(),
    });
    const flow = flowOf(command.request, asker.user, id, planned.plan, asker.channel);
    await services.start.sweep({ flow, text, asker, ...(context.slot ? { slot: context.slot } : {}) });
    const { plan } = planned;
    return {
      id,
      text,
      groups: plan.groups,
      addresses: plan.addresses,
      chunks: flow.chunks.length,
      probes: plannedProbes(plan),
      ...(plan.vantages ? { vantages: plan.vantages } : {}),
    };
  },
  audited: 'started',
});

/** A trace or diag as started: its words and its job. */
export interface StartedHostJob {
  text: string;
  job: HostJob;
}

function waitMsOf(job: HostRequest): number {
  return hostJobTimeoutMs(job.kind === 'trace' ? { kind: 'trace', options: job.request.options } : { kind: 'diag' });
}

/** The steps of trace and diag, the same but for the job: decided as a sweep of that one host, on its plan. */
function hostJobSteps<C>(kind: 'trace' | 'diag', jobOf: (command: C) => HostRequest, limits: object) {
  return {
    touches: 'probes' as const,
    limits,
    starts: { newId: () => newHostJobId(kind), slotMs: (_planned: unknown, command: C) => DELIVERY_ROOM_MS + waitMsOf(jobOf(command)) },
    decide: (command: C, { judge, services }: DoorContext<DoorServices>) =>
      judge.probe(sweepRequestOf(jobOf(command)), (authorize) => services.hostJobs.plan(jobOf(command), authorize)),
    async run(command: C, planned: PlannedHostJob, context: RunContext<DoorServices>): Promise<StartedHostJob> {
      const { id, request: asker, services } = context;
      const job = jobOf(command);
      const text = describeHostJob(job);
      await context.requests.save({
        v: 1,
        id,
        kind,
        source: asker.source,
        requester: asker.user,
        channel: asker.channel,
        text,
        groups: [{ group: planned.group, targets: [job.request.target.text] }],
        at: new Date().toISOString(),
      });
      const data = hostJobOf(job, planned, asker.user, id);
      await services.start.hostJob({ job: data, text, asker, ...(context.slot ? { slot: context.slot } : {}) });
      return { text, job: data };
    },
    audited: 'started' as const,
  };
}

export const TRACE = declareKind({
  kind: 'trace',
  ...hostJobSteps('trace', (command: CommandOf<'trace'>): HostRequest => ({ kind: 'trace', request: command.request }), TRACE_LIMITS),
});

export const DIAG = declareKind({
  kind: 'diag',
  ...hostJobSteps('diag', (command: CommandOf<'diag'>): HostRequest => ({ kind: 'diag', request: command.request }), DIAG_LIMITS),
});
