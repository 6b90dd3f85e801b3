import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { DiffContext, FactHost, ProbeSet } from '../core/diff-model.js';
import { NO_ECHO_WORD, echoNotSent, hostFact } from '../core/facts.js';
import type { HostResult } from '../core/report.js';
import { partialWords } from '../core/report.js';
import { HOST_STATES } from '../core/states.js';
import { AddressSet, parseTargetToken, probeRange } from '../core/targets.js';
import { ZenSweepError } from '../core/errors.js';
import { KEY_PREFIX } from './names.js';
import { packRecord, printBadRecord, readStoredRecord } from './records.js';
import { HISTORY_TAG, scanKeys } from './key-layout.js';
import type { OnBadRecord } from './records.js';
import { sweepSummarySchema } from './report-schema.js';

/**
 * One host as history keeps it: only hosts that were not silent, with the figures a later look wants (the
 * silent ones are kept as address ranges, so a /16 of empty space costs a few bytes, not 65,536 entries).
 */
const recordedHostSchema = z.object({
  ip: z.string(),
  state: z.enum(HOST_STATES),
  /** Average echo round trip in milliseconds, when an echo came back. */
  rttMs: z.number().optional(),
  /** Echo loss in percent, when echoes were sent. */
  lossPct: z.number().optional(),
  /** TCP ports that answered (open or closed). */
  openPorts: z.array(z.number().int()).optional(),
  /**
   * The host's fact (core/facts.ts `hostFact`) when it says more than its state: the state of each port probed
   * (`alive 22/closed 5432/open`), or `silent` for a host unreachable only because nothing answered its neighbour
   * lookup. Absent when the state alone is the fact, and in records written before facts were kept (their ports
   * are then not compared).
   */
  fact: z.string().max(4000).optional(),
});
export type RecordedHost = z.infer<typeof recordedHostSchema>;

/** A finished sweep, as stored. Holds no secret. */
export const sweepRecordSchema = z.object({
  id: z.string(),
  /** Who asked: a Slack user id, or user@host for the CLI. */
  requestedBy: z.string(),
  /** Where it was asked from, e.g. a Slack channel id; absent for the CLI. */
  origin: z.string().optional(),
  /** When it finished, ISO 8601. */
  at: z.string(),
  targets: z.array(z.string()),
  /** The targets in canonical form: two sweeps with the same key swept the same addresses and names. */
  targetKey: z.string(),
  groups: z.array(z.string()),
  summary: sweepSummarySchema,
  durationMs: z.number(),
  complete: z.boolean(),
  hosts: z.array(recordedHostSchema),
  /** Silent addresses, as ranges in the grammar's words (`198.18.0.2-198.18.0.9`). */
  silent: z.array(z.string()),
  /** How it probed: TCP ports and echoes per host (absent in records written before it was kept). */
  probed: z.object({ ports: z.array(z.number().int()), count: z.number().int() }).optional(),
  /**
   * Of the silent addresses, those no ICMP echo went to (their agent ran without ICMP): not probed by ICMP, and no TCP
   * port answered. As ranges, like `silent`, which lists them too. Absent when there were none, and in records before.
   */
  silentNoEcho: z.array(z.string()).optional(),
  /** Hosts no echo went to, of the two states that then say nothing of ICMP; absent when there were none. */
  unsent: z.object({ alive_tcp_only: z.number().int().min(0), silent: z.number().int().min(0) }).optional(),
  /**
   * Why a partial sweep (`complete` false) stopped short, and the addresses it was to probe (`summary.total` were):
   * cancelled, stopped past its time bound, or some of its chunks failed. Absent for a complete sweep, and in
   * records written before it was kept. A partial sweep is never "the last sweep" of its targets, nor a baseline.
   */
  partial: z.object({ why: z.enum(['cancelled', 'over_time', 'failed']), planned: z.number().int().min(0) }).optional(),
});
export type SweepRecord = z.infer<typeof sweepRecordSchema>;

/** A named sweep to compare later sweeps with ("before the cutover"), of one owner, expiring with the history. */
export const baselineSchema = z.object({
  name: z.string(),
  /** Whose it is: the Slack channel that saved it, or `cli`; absent in baselines saved before owners. */
  owner: z.string().optional(),
  savedBy: z.string(),
  savedAt: z.string(),
  record: sweepRecordSchema,
});
export type Baseline = z.infer<typeof baselineSchema>;

/** A partial sweep (cancelled, stopped, a chunk failed) cannot be a baseline: it would make every host it missed "appear". */
export class PartialSweepError extends ZenSweepError {
  constructor(message: string) {
    super('partial_sweep', message);
  }
}

/** The owner of baselines saved and compared with by `zensweep submit`. */
export const CLI_OWNER = 'cli';

/**
 * Who may own baselines: `cli`, or a Slack conversation id (`C…`, `G…`, `D…`). No `:`, so that an owner and a name
 * make one key unambiguously.
 */
export const BASELINE_OWNER = /^(cli|[A-Z0-9]{1,40})$/;

/** An owner that is not one (a bug, or a job written by something else): nothing is saved or read under it. */
export class InvalidBaselineOwnerError extends ZenSweepError {
  constructor(owner: string) {
    super('invalid_baseline_owner', `${JSON.stringify(owner.slice(0, 50))} cannot own baselines: cli or a Slack channel id`);
  }
}

export interface HistoryOptions {
  /** Redis key prefix, default 'zensweep'. */
  prefix?: string;
  /** Sweeps kept at most, oldest dropped first, default 1000. */
  maxCount?: number;
  /** Age after which a sweep is dropped, in days, default 30. */
  maxAgeDays?: number;
  /** Told of each stored record that fails its schema, which is then skipped; default: a line on stderr. */
  onBadRecord?: OnBadRecord;
}

export const DEFAULT_HISTORY_COUNT = 1000;
export const DEFAULT_HISTORY_AGE_DAYS = 30;

/**
 * The canonical form of a sweep's targets: address targets merged into ranges (so `10.0.1.0/24` and
 * `10.0.1.1-254` are the same sweep), host names lower-cased, both sorted. Unreadable tokens are kept as written.
 */
export function targetKey(targets: readonly string[]): string {
  const addresses = new AddressSet();
  const others = new Set<string>();
  for (const text of targets) {
    try {
      const spec = parseTargetToken(text);
      if (spec.kind === 'name') others.add(spec.name.toLowerCase().replace(/\.$/, ''));
      else {
        const range = probeRange(spec);
        addresses.add(range.family, range.start, range.end);
      }
    } catch {
      others.add(text);
    }
  }
  return [...addresses.toTargets(), ...[...others].sort()].join(' ');
}

/** The stored form of a report's hosts. */
export function recordHosts(hosts: readonly HostResult[]): Pick<SweepRecord, 'hosts' | 'silent' | 'silentNoEcho' | 'unsent'> {
  const kept: RecordedHost[] = [];
  const silent = new AddressSet();
  const silentNoEcho = new AddressSet();
  const unsent = { alive_tcp_only: 0, silent: 0 };
  for (const host of hosts) {
    const noEcho = echoNotSent(host);
    if (noEcho && (host.state === 'alive_tcp_only' || host.state === 'silent')) unsent[host.state] += 1;
    if (host.state === 'silent') {
      const spec = parseTargetToken(host.ip);
      if (spec.kind !== 'name') {
        silent.add(spec.family, spec.start, spec.end);
        if (noEcho) silentNoEcho.add(spec.family, spec.start, spec.end);
      }
      continue;
    }
    const entry: RecordedHost = { ip: host.ip, state: host.state };
    if (host.icmp.rtt) entry.rttMs = host.icmp.rtt.avg;
    if (host.icmp.sent > 0) entry.lossPct = host.icmp.lossPct;
    const answered = host.ports.filter((p) => p.state === 'open' || p.state === 'closed').map((p) => p.port);
    if (answered.length > 0) entry.openPorts = answered;
    const fact = hostFact(host);
    if (fact !== host.state) entry.fact = fact;
    kept.push(entry);
  }
  const noEchoRanges = silentNoEcho.toTargets();
  return {
    hosts: kept,
    silent: silent.toTargets(),
    ...(noEchoRanges.length > 0 ? { silentNoEcho: noEchoRanges } : {}),
    ...(unsent.alive_tcp_only + unsent.silent > 0 ? { unsent } : {}),
  };
}

/** Every host of a record, silent ones included, with its fact: the form `diffSweeps` compares. */
export function compactRecord(record: Pick<SweepRecord, 'hosts' | 'silent' | 'silentNoEcho'>): FactHost[] {
  const all: FactHost[] = record.hosts.map((h): FactHost => [h.ip, h.fact ?? h.state]);
  const silent = new AddressSet();
  for (const text of record.silent) {
    const spec = parseTargetToken(text);
    if (spec.kind !== 'name') silent.add(spec.family, spec.start, spec.end);
  }
  const noEcho = new AddressSet();
  for (const text of record.silentNoEcho ?? []) {
    const spec = parseTargetToken(text);
    if (spec.kind !== 'name') noEcho.add(spec.family, spec.start, spec.end);
  }
  // A silence no echo asked is said as such (diffSweeps then compares it by TCP alone); the rest are plain silent.
  const unasked = new Set<string>(noEcho);
  for (const ip of silent) all.push([ip, unasked.has(ip) ? `silent ${NO_ECHO_WORD}` : 'silent']);
  return all;
}

/**
 * What a later sweep compares with a record: the ports each host answered on then, and how the later sweep probed.
 * `probedBefore` is set only when the record says how it probed and that differs from `now`.
 */
export function comparisonWith(
  record: Pick<SweepRecord, 'hosts' | 'probed'>,
  now: ProbeSet,
): { context: DiffContext; probedBefore?: ProbeSet } {
  const answeredOn = new Map(record.hosts.filter((h) => h.openPorts).map((h) => [h.ip, h.openPorts ?? []]));
  const before = record.probed;
  const differs = before !== undefined && (before.count !== now.count || before.ports.join(',') !== now.ports.join(','));
  return { context: { answeredOn, portsNow: now.ports }, ...(differs ? { probedBefore: before } : {}) };
}

/**
 * Finished sweeps in Redis, with bounded retention (count and age), the last sweep of the same targets, and named
 * baselines. Keys, each with a TTL or a bound:
 * - `PREFIX:history:sweep:ID`: the record, expiring with the age limit (and deleted beyond the count limit);
 * - `PREFIX:history:all`: ids by time, pruned to the count and age limits at every record;
 * - `PREFIX:history:target:KEY`: ids of one target key by time, pruned with the records, expiring with the age
 *   limit after its last sweep;
 * - `PREFIX:baseline:OWNER:NAME`: a baseline of one owner (a Slack channel, or `cli`), expiring with the age limit
 *   after it was saved; another owner neither reads nor replaces it;
 * - `PREFIX:baselines:OWNER`: the names of an owner's baselines by save time, expiring with the age limit after
 *   the last save (a name whose baseline has expired is dropped when listed).
 */
export class HistoryStore {
  private readonly prefix: string;
  private readonly maxCount: number;
  private readonly maxAgeMs: number;
  private readonly onBadRecord: OnBadRecord;

  constructor(
    private readonly redis: Redis,
    options: HistoryOptions = {},
  ) {
    this.prefix = options.prefix ?? KEY_PREFIX;
    this.maxCount = options.maxCount ?? DEFAULT_HISTORY_COUNT;
    this.maxAgeMs = (options.maxAgeDays ?? DEFAULT_HISTORY_AGE_DAYS) * 24 * 3600 * 1000;
    this.onBadRecord = options.onBadRecord ?? printBadRecord;
  }

  /** A stored sweep, or undefined (and one line to onBadRecord) when it is not one. */
  private readSweep(id: string, data: Buffer): SweepRecord | undefined {
    return readStoredRecord(sweepRecordSchema, data, { what: 'history record', key: this.recordKey(id) }, this.onBadRecord);
  }

  private recordKey(id: string): string {
    return `${this.prefix}:${HISTORY_TAG}:sweep:${id}`;
  }

  private indexKey(): string {
    return `${this.prefix}:${HISTORY_TAG}:all`;
  }

  private targetIndexKey(key: string): string {
    return `${this.prefix}:${HISTORY_TAG}:target:${key}`;
  }

  private baselineKey(owner: string, name: string): string {
    if (!BASELINE_OWNER.test(owner)) throw new InvalidBaselineOwnerError(owner);
    return `${this.prefix}:${HISTORY_TAG}:baseline:${owner}:${name.toLowerCase()}`;
  }

  private baselineIndexKey(owner: string): string {
    if (!BASELINE_OWNER.test(owner)) throw new InvalidBaselineOwnerError(owner);
    return `${this.prefix}:${HISTORY_TAG}:baselines:${owner}`;
  }

  /**
   * Stores a finished sweep and drops what the retention no longer allows. Recording the same id twice (a report
   * job that ran again) replaces the record and keeps one index entry.
   */
  async record(record: SweepRecord): Promise<void> {
    const at = Date.parse(record.at);
    const ttlSeconds = Math.max(1, Math.ceil((at + this.maxAgeMs - Date.now()) / 1000));
    await this.redis
      .multi()
      .set(this.recordKey(record.id), packRecord(record), 'EX', ttlSeconds)
      .zadd(this.indexKey(), at, record.id)
      .zadd(this.targetIndexKey(record.targetKey), at, record.id)
      .pexpire(this.targetIndexKey(record.targetKey), this.maxAgeMs)
      .exec();
    await this.prune();
  }

  private async prune(): Promise<void> {
    const cutoff = Date.now() - this.maxAgeMs;
    const old = await this.redis.zrangebyscore(this.indexKey(), '-inf', `(${cutoff}`);
    const excess = await this.redis.zrange(this.indexKey(), 0, -(this.maxCount + 1));
    const gone = [...new Set([...old, ...excess])];
    if (gone.length === 0) return;
    const records = await this.redis.mgetBuffer(...gone.map((id) => this.recordKey(id)));
    const tx = this.redis.multi();
    gone.forEach((id, i) => {
      const text = records[i];
      // An unreadable record's target index entry goes when that index expires.
      const record = text ? this.readSweep(id, text) : undefined;
      if (record) tx.zrem(this.targetIndexKey(record.targetKey), id);
      tx.del(this.recordKey(id));
    });
    tx.zrem(this.indexKey(), ...gone);
    await tx.exec();
  }

  async get(id: string): Promise<SweepRecord | undefined> {
    const data = await this.redis.getBuffer(this.recordKey(id));
    return data ? this.readSweep(id, data) : undefined;
  }

  /**
   * The most recent complete sweep of the same targets, other than `exceptId`: a partial one (cancelled, stopped,
   * a chunk failed) is passed over, as its missing hosts would all "appear" in the next sweep.
   */
  async lastOf(key: string, exceptId?: string): Promise<SweepRecord | undefined> {
    const page = 20;
    // Bounded by the history's own count limit: the index holds no more ids than that (and a few bad ones).
    for (let from = 0; ; from += page) {
      const ids = await this.redis.zrevrange(this.targetIndexKey(key), from, from + page - 1);
      for (const id of ids) {
        if (id === exceptId) continue;
        const record = await this.get(id);
        if (record?.complete) return record;
      }
      if (ids.length < page) return undefined;
    }
  }

  /** The newest sweeps first, all of them or those of one target key, at most `limit`. */
  async recent(limit = 10, key?: string): Promise<SweepRecord[]> {
    const ids = await this.redis.zrevrange(key ? this.targetIndexKey(key) : this.indexKey(), 0, limit - 1);
    if (ids.length === 0) return [];
    const texts = await this.redis.mgetBuffer(...ids.map((id) => this.recordKey(id)));
    const records: SweepRecord[] = [];
    ids.forEach((id, i) => {
      const text = texts[i];
      const record = text ? this.readSweep(id, text) : undefined;
      if (record) records.push(record);
    });
    return records;
  }

  /**
   * Saves a recorded sweep as `owner`'s baseline `name`, replacing that owner's baseline of that name (and no other
   * owner's). It expires as a history record saved now would. False when the sweep is no longer kept; throws
   * PartialSweepError, saving nothing, when the sweep is partial.
   */
  async saveBaseline(owner: string, name: string, sweepId: string, savedBy: string): Promise<boolean> {
    const key = this.baselineKey(owner, name);
    const index = this.baselineIndexKey(owner);
    const record = await this.get(sweepId);
    if (!record) return false;
    if (!record.complete) {
      throw new PartialSweepError(
        `not saved as baseline ${name.toLowerCase()}: the sweep is ${record.partial ? partialWords(record.partial.why, record.summary.total, record.partial.planned) : 'partial'}, and only a complete sweep can be a baseline`,
      );
    }
    const savedAt = new Date();
    const baseline: Baseline = { name: name.toLowerCase(), owner, savedBy, savedAt: savedAt.toISOString(), record };
    await this.redis
      .multi()
      .set(key, packRecord(baseline), 'PX', this.maxAgeMs)
      .zadd(index, savedAt.getTime(), name.toLowerCase())
      .pexpire(index, this.maxAgeMs)
      .exec();
    return true;
  }

  /** `owner`'s baseline `name`; undefined when it has none of that name (whoever else has one). */
  async baseline(owner: string, name: string): Promise<Baseline | undefined> {
    const key = this.baselineKey(owner, name);
    const data = await this.redis.getBuffer(key);
    return data ? readStoredRecord(baselineSchema, data, { what: 'baseline', key }, this.onBadRecord) : undefined;
  }

  /** `owner`'s baselines, the most recently saved first; names whose baseline has expired are dropped on the way. */
  async listBaselines(owner: string): Promise<Baseline[]> {
    const index = this.baselineIndexKey(owner);
    const names = await this.redis.zrevrange(index, 0, -1);
    if (names.length === 0) return [];
    const keys = names.map((name) => this.baselineKey(owner, name));
    const texts = await this.redis.mgetBuffer(...keys);
    const baselines: Baseline[] = [];
    const gone: string[] = [];
    names.forEach((name, i) => {
      const text = texts[i];
      if (!text) {
        gone.push(name);
        return;
      }
      const baseline = readStoredRecord(baselineSchema, text, { what: 'baseline', key: keys[i] ?? '' }, this.onBadRecord);
      if (baseline) baselines.push(baseline);
    });
    if (gone.length > 0) await this.redis.zrem(index, ...gone);
    return baselines;
  }

  /**
   * Baselines saved before baselines had owners (`PREFIX:baseline:NAME`, without a TTL) are no one's to read any
   * more: they expire as one saved now would. Returns how many were given that TTL; cheap when there is none.
   */
  async expireUnownedBaselines(): Promise<number> {
    const head = `${this.prefix}:${HISTORY_TAG}:baseline:`;
    let expired = 0;
    for (const key of await scanKeys(this.redis, `${head}*`)) {
      // An owned baseline is `OWNER:NAME`; names have no ':'.
      if (key.slice(head.length).includes(':')) continue;
      // (PEXPIRE … NX would need Redis 7.)
      if ((await this.redis.pttl(key)) !== -1) continue;
      await this.redis.pexpire(key, this.maxAgeMs);
      expired += 1;
    }
    return expired;
  }

  /** Deletes `owner`'s baseline `name` (readable or not); false when it had none of that name. */
  async forgetBaseline(owner: string, name: string): Promise<boolean> {
    const [deleted] = (await this.redis
      .multi()
      .del(this.baselineKey(owner, name))
      .zrem(this.baselineIndexKey(owner), name.toLowerCase())
      .exec()) ?? [[null, 0]];
    return deleted?.[1] === 1;
  }
}
