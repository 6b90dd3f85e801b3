import { addressToBigInt } from '../core/targets.js';
import { dnsModule } from './builtins.js';

/** Reverse DNS: the names of an address (its PTR records). */
export type ReverseResolver = (address: string) => Promise<string[]>;

/** What reverse DNS said of one address: its first PTR name, or why it has none when that is not "no record". */
export interface ReverseName {
  name?: string;
  /** The resolver's code when the lookup failed for a reason other than "no PTR record": ETIMEOUT, ESERVFAIL… */
  error?: string;
}

export interface ReverseOptions {
  /** Lookups outstanding at once; default 64. */
  concurrency?: number;
  /**
   * Time allowed to the whole, in milliseconds (default 5000): an address not answered by then reads ETIMEOUT, so a
   * name server that does not answer costs a sweep this much at most.
   */
  timeoutMs?: number;
  /**
   * The resolver; default PTR queries to the name servers of /etc/resolv.conf (as nmap asks them: DNS alone, no hosts
   * file, which holds the names this machine gives, not the network's).
   */
  reverse?: ReverseResolver;
}

export const REVERSE_CONCURRENCY = 64;
export const REVERSE_TIMEOUT_MS = 5000;

/** `198.18.0.10` → `10.0.18.198.in-addr.arpa`; IPv6 by nibbles under ip6.arpa. */
export function arpaName(address: string): string {
  const { family, value } = addressToBigInt(address);
  if (family === 4) return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
  return `${[...value.toString(16).padStart(32, '0')].reverse().join('.')}.ip6.arpa`;
}

/** "No such record" in the resolver's words: an answer, not a failure. */
const NO_RECORD = new Set(['ENOTFOUND', 'ENODATA']);

/**
 * Looks up the PTR name of each address, at most `concurrency` at once, the whole within `timeoutMs`. Never throws:
 * an address without a record has neither name nor error, one whose lookup failed has the resolver's code.
 */
export async function reverseNames(addresses: readonly string[], options: ReverseOptions = {}): Promise<Map<string, ReverseName>> {
  const unique = [...new Set(addresses)];
  const found = new Map<string, ReverseName>();
  if (unique.length === 0) return found;
  const timeoutMs = options.timeoutMs ?? REVERSE_TIMEOUT_MS;
  // A resolver of its own, cancelled at the end: a query still out cannot hold the process (or the next sweep) open.
  const resolver = options.reverse ? undefined : new (dnsModule().Resolver)({ timeout: Math.min(timeoutMs, 2000), tries: 2 });
  const reverse = options.reverse ?? ((address: string) => (resolver as NonNullable<typeof resolver>).resolvePtr(arpaName(address)));
  let next = 0;
  let timedOut = false;
  const worker = async (): Promise<void> => {
    while (!timedOut && next < unique.length) {
      const address = unique[next++] as string;
      try {
        const names = await reverse(address);
        if (timedOut) return;
        const first = names[0]?.replace(/\.$/, '');
        found.set(address, first ? { name: first } : {});
      } catch (error) {
        if (timedOut) return;
        const code = (error as NodeJS.ErrnoException).code ?? 'ESERVFAIL';
        found.set(address, NO_RECORD.has(code) ? {} : { error: code });
      }
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      timedOut = true;
      resolve();
    }, timeoutMs);
  });
  const workers = Array.from({ length: Math.min(options.concurrency ?? REVERSE_CONCURRENCY, unique.length) }, worker);
  await Promise.race([Promise.all(workers), deadline]);
  clearTimeout(timer);
  timedOut = true;
  resolver?.cancel();
  for (const address of unique) if (!found.has(address)) found.set(address, { error: 'ETIMEOUT' });
  return found;
}
