import { gunzipSync, gzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import type { z } from 'zod';

/**
 * Records ZenSweep keeps in Redis are data from outside when read back: an older version, or anything else with
 * access to Redis, may have written them. Each is checked against the schema its writer uses; one that fails is
 * reported in one line and skipped, never thrown at a listener.
 */

/** Where a record was read from, for the line that reports it. */
export interface RecordSource {
  /** What it should have been, e.g. `history record`. */
  what: string;
  /** Its Redis key. */
  key: string;
}

/** A record that failed its schema. Holds no part of the record itself: it may be anything. */
export interface BadRecord extends RecordSource {
  /** The first thing wrong with it, e.g. `summary.alive: Invalid input: expected number, received undefined`. */
  reason: string;
}

/** Told of each bad record as it is skipped. */
export type OnBadRecord = (bad: BadRecord) => void;

/** For services: one pino line per bad record, `{"event":"bad_record","what":…,"key":…,"reason":…}`. */
export function logBadRecords(log: Pick<Logger, 'warn'>): OnBadRecord {
  return (bad) => log.warn({ event: 'bad_record', ...bad }, `skipped a bad ${bad.what}`);
}

/** For the command line (and the default): one line on stderr. */
export const printBadRecord: OnBadRecord = (bad) => {
  process.stderr.write(`zensweep: skipped a bad ${bad.what} at ${bad.key}: ${bad.reason}\n`);
};

/** The first issue of a failed parse, in one line: `path: message`. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue?.path.join('.') ?? '';
  return `${path === '' ? 'record' : path}: ${issue?.message.replace(/\s+/g, ' ') ?? 'is invalid'}`;
}

/** An already parsed value checked against its schema; undefined, and one line to `onBad`, when it does not fit. */
export function checkRecord<S extends z.ZodType>(schema: S, value: unknown, source: RecordSource, onBad: OnBadRecord): z.output<S> | undefined {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  onBad({ ...source, reason: firstIssue(parsed.error) });
  return undefined;
}

/** A JSON record as stored, checked against its schema; undefined, and one line to `onBad`, when it is not one. */
export function readRecord<S extends z.ZodType>(schema: S, text: string, source: RecordSource, onBad: OnBadRecord): z.output<S> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the text, which may be anything.
    onBad({ ...source, reason: 'not JSON' });
    return undefined;
  }
  return checkRecord(schema, value, source, onBad);
}

/** Level 1: a /16 report packs about as small as at the default level, in a fraction of the time. */
export function packRecord(value: unknown): Buffer {
  return gzipSync(JSON.stringify(value), { level: 1 });
}

/** A record stored with `packRecord` (gzipped JSON), read as `readRecord` does. */
export function readPackedRecord<S extends z.ZodType>(
  schema: S,
  data: Buffer,
  source: RecordSource,
  onBad: OnBadRecord,
): z.output<S> | undefined {
  let text: string;
  try {
    text = gunzipSync(data).toString('utf8');
  } catch {
    onBad({ ...source, reason: 'not gzipped JSON' });
    return undefined;
  }
  return readRecord(schema, text, source, onBad);
}

/**
 * A record stored either way: gzipped by `packRecord` (its first two bytes are gzip's magic, which no JSON text starts
 * with), or as JSON text, as history records and baselines were before they were packed. Read as `readRecord` does.
 */
export function readStoredRecord<S extends z.ZodType>(
  schema: S,
  data: Buffer,
  source: RecordSource,
  onBad: OnBadRecord,
): z.output<S> | undefined {
  if (data[0] === 0x1f && data[1] === 0x8b) return readPackedRecord(schema, data, source, onBad);
  return readRecord(schema, data.toString('utf8'), source, onBad);
}
