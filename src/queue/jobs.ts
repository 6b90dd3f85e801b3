import { z } from 'zod';
import type { SweepReport, SweepSummary } from '../core/report.js';
import type { SweepOptions } from '../core/request.js';
import type { SweepDiff } from '../core/diff.js';
import { parseNetwork } from '../core/targets.js';

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

const optionsSchema = z.object({
  ports: z.array(z.number().int().min(1).max(65_535)).max(1024),
  count: z.number().int().min(1).max(100),
  timeoutMs: z.number().int().min(1).max(60_000),
  retries: z.number().int().min(0).max(10),
  rate: z.number().int().min(0).max(1_000_000),
  intervalMs: z.number().int().min(1).max(60_000),
  vpc: z.string().max(63).optional(),
  save: z.string().max(63).optional(),
  compare: z.string().max(63).optional(),
});

export const chunkJobSchema = z.object({
  v: z.literal(1),
  sweepId: z.string().min(1).max(64),
  group: z.string().min(1).max(63),
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
export interface ChunkResult {
  index: number;
  group: string;
  agentId: string;
  /** Addresses this chunk was to probe. */
  planned: number;
  complete: boolean;
  icmp: SweepReport['icmp'];
  durationMs: number;
  /** 1 on the first try; more when the chunk ran again after a failure or a stalled agent. */
  attempt: number;
  /** Times BullMQ found this chunk stalled (its agent stopped answering) before this run. */
  stalled: number;
}

export const reportJobSchema = z.object({
  v: z.literal(1),
  sweepId: z.string().min(1).max(64),
  targets: z.array(z.string()),
  options: optionsSchema,
  groups: z.array(z.string()),
  requestedBy: z.string().max(200),
  /** Addresses planned (names not counted: the agents resolve them). */
  addresses: z.number().int().min(0).optional(),
  createdAt: z.string(),
});
export type ReportJob = z.infer<typeof reportJobSchema> & { options: SweepOptions };

/** A chunk as it came back, for the report's account of who ran what. */
export interface ChunkAccount {
  index: number;
  group: string;
  agentId: string;
  attempt: number;
  stalled: number;
  durationMs: number;
}

/** What a report job returns: the report model and what the distributed run adds to it. */
export interface DistributedReport extends SweepReport {
  sweepId: string;
  groups: string[];
  requestedBy: string;
  chunks: ChunkAccount[];
  /** True when someone cancelled the sweep (then `complete` is false too). */
  cancelled: boolean;
  /** Chunks that failed for good (out of scope, bad data), with the reason. */
  failures: { index: number; group: string; reason: string }[];
  /** Against the last sweep of the same targets, when there was one. */
  changes?: { since: string; sinceId: string; diff: SweepDiff };
  /** Against the baseline named with compare:NAME (absent when no baseline has that name). */
  baseline?: { name: string; at: string; diff: SweepDiff };
  /** The baseline saved with save:NAME. */
  savedAs?: string;
}

/** What a report job returns (the report itself is in the ResultStore). */
export interface ReportDone {
  sweepId: string;
  summary: SweepSummary;
  complete: boolean;
}
