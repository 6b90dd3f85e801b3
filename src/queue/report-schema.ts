import { z } from 'zod';
import type { SweepDiff } from '../core/diff-model.js';
import type { HostResult, IcmpOffReason, NameResolution, SweepReport, SweepSummary } from '../core/report.js';
import { SWEEP_LIMITS, VANTAGES } from '../core/request.js';
import type { SweepOptions } from '../core/request.js';
import { HOST_STATES, PORT_STATES } from '../core/states.js';

/**
 * The report model (src/core/report.ts) as a schema, for what is stored in Redis and read back: job data, chunk
 * results, reports, history. core/ stays free of a schema library (`zensweep sweep` loads every module of it at
 * start), so the schemas live here, and the compiler holds each one to its core type (see `Same` below).
 */

const { ports, count, timeoutMs, retries, rate, intervalMs } = SWEEP_LIMITS;
const within = (limits: { min: number; max: number }) => z.number().int().min(limits.min).max(limits.max);

/** Sweep options, within SWEEP_LIMITS: the grammar's limits, checked again wherever job data is read. */
export const sweepOptionsSchema = z.object({
  ports: z.array(within(ports)).max(ports.distinct),
  count: within(count),
  timeoutMs: within(timeoutMs),
  retries: within(retries),
  rate: within(rate),
  intervalMs: within(intervalMs),
  vpc: z.string().max(63).optional(),
  vpcs: z.array(z.string().min(1).max(63)).min(2).max(100).optional(),
  from: z.enum(VANTAGES).optional(),
  save: z.string().max(63).optional(),
  compare: z.string().max(63).optional(),
  dns: z.boolean().optional(),
});

const hostState = z.enum(HOST_STATES);
const tally = z.number().int().min(0);

const reporterSchema = z.object({
  verdict: z.enum(['prohibited', 'unreachable']),
  address: z.string(),
  icmpType: z.number().optional(),
  icmpCode: z.number().optional(),
  errno: z.string().optional(),
  reason: z.string(),
});

export const hostResultSchema = z.object({
  ip: z.string(),
  names: z.array(z.string()).optional(),
  state: hostState,
  icmp: z.object({
    sent: tally,
    received: tally,
    lossPct: z.number(),
    rtt: z.object({ min: z.number(), avg: z.number(), max: z.number(), mdev: z.number() }).optional(),
  }),
  ports: z.array(
    z.object({
      port: z.number().int(),
      state: z.enum(PORT_STATES),
      ms: z.number().optional(),
      reporter: reporterSchema.optional(),
      attempts: tally,
      unanswered: z.literal(true).optional(),
    }),
  ),
  reporter: reporterSchema.optional(),
  unfinished: z.literal(true).optional(),
  link: z.enum(['answered', 'no_answer']).optional(),
  mac: z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){0,31}$/).optional(),
  // Looked up once the probes have ended (dns:on): after every other key, as the engine adds them.
  ptr: z.string().max(255).optional(),
  ptrError: z.string().max(40).optional(),
});

export const nameResolutionSchema = z.object({
  name: z.string(),
  addresses: z.array(z.string()),
  error: z.string().optional(),
});

export const sweepSummarySchema = z.object({
  alive: tally,
  alive_tcp_only: tally,
  prohibited: tally,
  unreachable: tally,
  silent: tally,
  total: tally,
});

/** Why an agent sent no ICMP echo (core/report.ts IcmpOffReason); optional where it is read, for older records. */
export const icmpOffReasonSchema = z.enum(['setting', 'unavailable']);

/** IcmpStatus; `mode` and `reason` are absent from records written before each was kept. */
export const icmpStatusSchema = z.object({
  available: z.boolean(),
  mode: z.enum(['raw', 'ping', 'off']).optional(),
  reason: icmpOffReasonSchema.optional(),
  warning: z.string().optional(),
});

export const sweepReportSchema = z.object({
  targets: z.array(z.string()),
  options: sweepOptionsSchema,
  startedAt: z.string(),
  durationMs: z.number(),
  complete: z.boolean(),
  planned: tally,
  icmp: icmpStatusSchema,
  summary: sweepSummarySchema,
  names: z.array(nameResolutionSchema),
  hosts: z.array(hostResultSchema),
  stopped: z.object({ code: z.enum(['cancelled', 'over_time']), reason: z.string() }).optional(),
});

const compactHostSchema = z.tuple([z.string(), hostState]);

export const sweepDiffSchema = z.object({
  appeared: z.array(compactHostSchema),
  wentSilent: z.array(compactHostSchema),
  changed: z.array(
    z.object({
      ip: z.string(),
      from: hostState,
      to: hostState,
      ports: z.array(z.object({ port: z.number().int(), from: z.enum(PORT_STATES), to: z.enum(PORT_STATES) })).optional(),
    }),
  ),
  unchanged: tally,
  notCompared: z.array(z.object({ ip: z.string(), ports: z.array(z.number().int()) })).optional(),
  echoNotCompared: z.array(z.object({ ip: z.string(), then: hostState, now: hostState, unsent: z.enum(['then', 'now']) })).optional(),
});

/** True only when A and B are the same type: a field added to one and not the other fails to compile. */
export type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Compiles only when every schema above is exactly its core type. */
export type SchemasMatchCore = [
  Same<z.infer<typeof sweepOptionsSchema>, SweepOptions>,
  Same<z.infer<typeof hostResultSchema>, HostResult>,
  Same<z.infer<typeof nameResolutionSchema>, NameResolution>,
  Same<z.infer<typeof sweepSummarySchema>, SweepSummary>,
  Same<z.infer<typeof sweepReportSchema>, SweepReport>,
  Same<z.infer<typeof icmpOffReasonSchema>, IcmpOffReason>,
  Same<z.infer<typeof sweepDiffSchema>, SweepDiff>,
] extends true[]
  ? true
  : never;
export const SCHEMAS_MATCH_CORE: SchemasMatchCore = true;
