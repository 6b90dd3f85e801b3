/** Counts, durations and resolver errors in words, for every view and service. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

const RESOLVER_ERRORS: Record<string, string> = {
  ENOTFOUND: 'no such name',
  ENODATA: 'the name has no A or AAAA record',
  EAI_AGAIN: 'the DNS server did not answer',
  ETIMEOUT: 'name resolution timed out',
  ESERVFAIL: 'the DNS server failed',
};

/** `no such name (ENOTFOUND)`: a resolver error in words, code kept. */
export function describeResolverError(code: string): string {
  const words = RESOLVER_ERRORS[code];
  return words ? `${words} (${code})` : code;
}

/**
 * `65534` → `65,534`. Not toLocaleString: its first call loads ICU data, about 35 ms of every CLI run.
 */
export function formatCount(value: number | bigint): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `1 address`, `254 addresses`: a count with its noun, singular for one. */
export function countOf(value: number | bigint, one: string, many = `${one}s`): string {
  return `${formatCount(value)} ${value === 1 || value === 1n ? one : many}`;
}

/** `1 address`, `65,534 addresses`. */
export function addressCount(value: number | bigint): string {
  return countOf(value, 'address', 'addresses');
}
