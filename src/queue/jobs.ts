import type { JobsOptions } from 'bullmq';
import { retention } from './retention.js';
import { z } from 'zod';
import type { ChunkAccount, DistributedReport, SweepSummary, VantageView } from '../core/report.js';
import type { SweepOptions } from '../core/request.js';
import { parseNetwork } from '../core/targets.js';
import { BASELINE_OWNER } from './history.js';
import { hostResultSchema, icmpOffReasonSchema, nameResolutionSchema, sweepDiffSchema, sweepOptionsSchema, sweepReportSchema, sweepSummarySchema } from './report-schema.js';
import type { Same } from './report-schema.js';

/**
 * Job data, validated where it is read: BullMQ stores it in clear text and anything can put a job in a queue, so an
 * agent trusts nothing it did not check. It holds no secret.
 */

function isNetwork(text: string): boolean {
  try {
    parseNetwork(text);
    return true;
  } catch {
    return false;
  }
}

/** The options of a sweep, within SWEEP_LIMITS (src/core/request.ts), as the grammar holds them. */
const optionsSchema = sweepOptionsSchema;

export const chunkJobSchema = z.object({
  v: z.literal(1),
  sweepId: z.string().min(1).max(64),
  group: z.string().min(1).max(63),
  /** `from:all`: the agent that must run it (the chunk is on that agent's own queue); absent: any agent of the group. */
  agent: z.string().min(1).max(100).optional(),
  /** Position of this chunk in the sweep, for putting the report back in order. */
  index: z.number().int().min(0),
  /** Targets in the grammar's words: address ranges (`10.0.1.0-10.0.1.255`), addresses, or names. */
  targets: z.array(z.string().min(1).max(300)).min(1).max(4096),
  options: optionsSchema,
  /** The networks the requester may sweep (their policy's CIDRs): the agent refuses any address outside them. */
  scope: z.array(z.string().min(1).max(64).refine(isNetwork, 'is not a CIDR, address or range')).min(1).max(1024).optional(),
});
export type ChunkJob = z.infer<typeof chunkJobSchema> & { options: SweepOptions };

/** What an agent returns for a chunk; the hosts it found are in the ResultStore, not here. */
export const chunkResultSchema = z.object({
  index: z.number().int().min(0),
  group: z.string(),
  agentId: z.string(),
  /** Addresses this chunk was to probe. */
  planned: z.number().int().min(0),
  complete: z.boolean(),
  icmp: sweepReportSchema.shape.icmp,
  durationMs: z.number(),
  /** 1 on the first try; more when the chunk ran again after a failure or a stalled agent. */
  attempt: z.number().int().min(1),
  /** Times BullMQ found this chunk stalled (its agent stopped answering) before this run. */
  stalled: z.number().int().min(0),
  /** Why the chunk ended before every probe was answered: it ran past its time bound (then `complete` is false). */
  reason: z.string().optional(),
});
export type ChunkResult = z.infer<typeof chunkResultSchema>;

export const reportJobSchema = z.object({
  v: z.literal(1),
  sweepId: z.string().min(1).max(64),
  targets: z.array(z.string()),
  options: optionsSchema,
  groups: z.array(z.string()),
  requestedBy: z.string().max(200),
  /**
   * Whose baselines save:NAME and compare:NAME use: the Slack channel that asked, or `cli` for `zensweep submit`;
   * absent in jobs queued before baselines had owners (then `cli`).
   */
  owner: z.string().regex(BASELINE_OWNER).optional(),
  /** Addresses planned (names not counted: the agents resolve them). */
  addresses: z.number().int().min(0).optional(),
  /** The groups with chunks, each of which keeps a part (report-worker.ts); absent from jobs queued before parts. */
  parts: z.array(z.string().min(1).max(63)).min(1).max(1000).optional(),
  createdAt: z.string(),
  /** `from:all` / `from:each`: each vantage and its chunks (`count` of them from index `first`), as planned. */
  vantages: z
    .array(
      z.object({
        name: z.string().min(1).max(200),
        group: z.string().min(1).max(63),
        agent: z.string().min(1).max(100).optional(),
        first: z.number().int().min(0),
        count: z.number().int().min(1),
        addresses: z.number().int().min(0),
      }),
    )
    .min(1)
    .max(1000)
    .optional(),
});
export type ReportJob = z.infer<typeof reportJobSchema> & { options: SweepOptions };

/**
 * A sweep's part on one agent group (queue `report-parts.{GROUP}`): the parent of the group's chunks. Once they have
 * all ended it keeps what they returned, and the last part of the sweep to do so adds the report job, whose data it
 * carries (`report`). `parts`: how many groups the sweep spans.
 */
export const partJobSchema = z.object({
  v: z.literal(1),
  sweepId: z.string().min(1).max(64),
  group: z.string().min(1).max(63),
  parts: z.number().int().min(1).max(1000),
  report: reportJobSchema,
  /** Finished report jobs kept at most (ZENSWEEP_JOBS_KEPT of whoever submitted it), for the report job it adds. */
  jobsKept: z.number().int().min(1).optional(),
});
export type PartJob = Omit<z.infer<typeof partJobSchema>, 'report'> & { report: ReportJob };

/** What a part keeps of its group's chunks, by job key: each one's return value, and why each that failed for good did. */
export const sweepPartSchema = z.object({
  group: z.string(),
  values: z.record(z.string(), z.unknown()),
  failed: z.record(z.string(), z.string()),
});
export type SweepPart = z.infer<typeof sweepPartSchema>;

/** A chunk as it came back, for the report's account of who ran what. */
const chunkAccountSchema = chunkResultSchema.pick({
  index: true,
  group: true,
  agentId: true,
  attempt: true,
  stalled: true,
  durationMs: true,
}).extend({ icmpMode: z.enum(['raw', 'ping', 'off']).optional(), icmpReason: icmpOffReasonSchema.optional() });

/** How the earlier sweep of a comparison probed, when it differs from this one. */
const probedBeforeSchema = z.object({ ports: z.array(z.number().int()), count: z.number().int() }).optional();

/** One vantage's view of a `from:` sweep (core/report.ts VantageView). */
const vantageViewSchema = z.object({
  name: z.string(),
  group: z.string(),
  agent: z.string().optional(),
  complete: z.boolean(),
  missing: z.string().optional(),
  planned: z.number().int().min(0),
  summary: sweepSummarySchema,
  names: z.array(nameResolutionSchema),
  hosts: z.array(hostResultSchema),
});

/** What a report job puts together (kept in the ResultStore): the report model of core/report.ts and what the distributed run adds. */
export const distributedReportSchema = sweepReportSchema.extend({
  sweepId: z.string(),
  groups: z.array(z.string()),
  requestedBy: z.string(),
  chunks: z.array(chunkAccountSchema),
  /** True when someone cancelled the sweep (then `complete` is false too). */
  cancelled: z.boolean(),
  /** Chunks that failed for good (out of scope, bad data) or were given up past their time bound, with the reason. */
  failures: z.array(z.object({ index: z.number().int(), group: z.string(), reason: z.string() })),
  /** Against the last sweep of the same targets, when there was one. */
  changes: z.object({ since: z.string(), sinceId: z.string(), diff: sweepDiffSchema, probedBefore: probedBeforeSchema }).optional(),
  /** Against the baseline named with compare:NAME (absent when no baseline has that name). */
  baseline: z.object({ name: z.string(), at: z.string(), diff: sweepDiffSchema, probedBefore: probedBeforeSchema }).optional(),
  /** The baseline saved with save:NAME. */
  savedAs: z.string().optional(),
  /** save:NAME that was not saved (the sweep is partial), and why. */
  notSaved: z.object({ name: z.string(), reason: z.string() }).optional(),
  /** `from:all` / `from:each`: one view per vantage; `hosts` is the combined view. */
  vantages: z.array(vantageViewSchema).optional(),
});

/** Compiles only when the schemas above are exactly the report model's types. */
export const DISTRIBUTED_SCHEMAS_MATCH_CORE: [
  Same<z.infer<typeof chunkAccountSchema>, ChunkAccount>,
  Same<z.infer<typeof vantageViewSchema>, VantageView>,
  Same<z.infer<typeof distributedReportSchema>, DistributedReport>,
] extends true[]
  ? true
  : never = true;

/** What a report job returns (the report itself is in the ResultStore). */
export interface ReportDone {
  sweepId: string;
  summary: SweepSummary;
  complete: boolean;
}

/** Tries of a report job: 500 ms doubled each time, about 64 s in all before it fails for good. */
export const REPORT_ATTEMPTS = 8;

/** The options of a sweep's report job: its id is the sweep's, so adding it again (a part run twice) adds nothing. */
export function reportJobOptions(sweepId: string, jobsKept?: number): JobsOptions {
  return {
    jobId: sweepId,
    // A report that fails on a Redis hiccup, or finds a part not kept yet after a failover, is tried again for about a
    // minute; bad data fails for good (UnrecoverableError).
    attempts: REPORT_ATTEMPTS,
    backoff: { type: 'exponential', delay: 500 },
    ...retention('reports', jobsKept),
  };
}
