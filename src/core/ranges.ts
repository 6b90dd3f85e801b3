import { addressToBigInt } from './targets.js';

/**
 * Folds a list of addresses into runs, so 245 silent hosts read as `198.18.0.2-9, 198.18.0.13-19, …`.
 * IPv4 runs within one /24 use the last-octet form; others use `first-last`.
 */
export function foldAddresses(addresses: readonly string[]): string[] {
  const parsed = addresses.map((a) => ({ text: a, ...addressToBigInt(a) }));
  parsed.sort((a, b) => a.family - b.family || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  const runs: string[] = [];
  let i = 0;
  while (i < parsed.length) {
    const first = parsed[i] as (typeof parsed)[number];
    let last = first;
    let j = i + 1;
    while (j < parsed.length) {
      const next = parsed[j] as (typeof parsed)[number];
      if (next.family !== first.family || next.value !== last.value + 1n) break;
      if (first.family === 4 && next.value >> 8n !== first.value >> 8n) break;
      last = next;
      j++;
    }
    if (last === first) runs.push(first.text);
    else if (first.family === 4) runs.push(`${first.text}-${Number(last.value & 0xffn)}`);
    else runs.push(`${first.text}-${last.text}`);
    i = j;
  }
  return runs;
}
