/**
 * What a watch decides after each run, from the hosts the run found: which changes are confirmed (held for
 * `confirm` consecutive runs), which hosts flap, when an incident opens and when it ends. Pure: the state goes in
 * and comes out, so a restarted bot carries on from Redis exactly where the last one stopped.
 *
 * A host is compared by its fact (core/facts.ts, the same as "what changed" in a report): its state and, when TCP
 * ports are probed, each port's state (`alive 22/closed 5432/open`). So a database port that stops answering while
 * the host still answers ping is a change, as a security-group edit that bites new flows only should be; and an
 * empty address that reads "host unreachable" once its neighbour lookup has failed is as silent as before.
 * The state keeps facts as strings ("signatures").
 */
import { NO_ECHO_WORD, QUIET_FACT, hostFact, readFact, sameFacts } from './facts.js';
import type { ReadFact } from './facts.js';

/** The signature of a host that answers nothing: the one a host not on record has. */
export const QUIET = QUIET_FACT;
/**
 * The version of host facts a state's signatures are written in: 1 since facts (core/facts.ts). A state without it
 * was written before, when an empty address whose neighbour lookup had failed read `unreachable` (see adoptFacts).
 */
export const FACTS_VERSION = 1;
/** Runs looked back over for flapping. */
export const FLAP_WINDOW = 10;
/**
 * Changes within the window that make a host flapping. A change counted here is a move away from the host's
 * accepted state: a blip, an outage and its recovery count three, not four.
 */
export const FLAP_CHANGES = 4;
/** Runs without such a change after which a flapping host has settled. */
export const CALM_RUNS = 5;
/** Runs without any change after which an incident that did not return to how it began is taken as the new normal. */
export const SETTLE_RUNS = 12;

/**
 * Whether a signature says the host answers nothing: QUIET, or a silence no echo asked (`silent icmp/unsent`, from an
 * agent without ICMP), which is kept as QUIET, so that a watch's state never holds the silent addresses.
 */
export function isQuiet(signature: string): boolean {
  return signature === QUIET || readFact(signature).state === 'silent';
}

/**
 * A run's signatures: each host's fact (`hostFact`), and for a silent host no echo went to (its agent ran without
 * ICMP), `silent icmp/unsent`: the run could not ask ICMP, so a host that answered ICMP alone before is not taken to
 * have gone silent (observeRun compares with sameFacts), and one that stopped answering TCP is said so.
 */
export function runSignatures(facts: Iterable<readonly [string, string]>, noEcho: ReadonlySet<string>): Map<string, string> {
  const observed = new Map<string, string>();
  for (const [ip, fact] of facts) observed.set(ip, fact === QUIET && noEcho.has(ip) ? `${QUIET} ${NO_ECHO_WORD}` : fact);
  return observed;
}

/** A host's signature: its fact (core/facts.ts `hostFact`; this name is kept for callers written before it). */
export const hostSignature = hostFact;

/** A signature read back: the host state and each port's state (core/facts.ts `readFact`). */
export function readSignature(signature: string): ReadFact {
  return readFact(signature);
}

/** An incident: the message that announced it, and how its hosts were before it began. */
export interface Incident {
  /** ISO 8601. */
  openedAt: string;
  /** Signatures before the incident, of every host it involved. */
  reference: Record<string, string>;
  /** Runs since the last change of any of its hosts. */
  quietRuns: number;
  /** The alert message, once posted: its ts and text (for the edit that closes it). */
  alert?: { ts: string; text: string };
  /** What changed while the incident was silenced (its replies held back), for the summary when the silence ends. */
  held?: HeldChanges;
}

/** Changes of a silenced incident, not said one by one: summed up when the silence ends. */
export interface HeldChanges {
  changes: HostChange[];
  flapping: { ip: string; changes: number }[];
  calmed: HostChange[];
}

/** Held changes with a run's added: a host's latest change replaces its earlier one (from its first `from`). */
export function holdChanges(held: HeldChanges | undefined, more: HeldChanges): HeldChanges {
  const merge = (a: readonly HostChange[], b: readonly HostChange[]): HostChange[] => {
    const byIp = new Map(a.map((c) => [c.ip, c]));
    for (const c of b) byIp.set(c.ip, { ip: c.ip, from: byIp.get(c.ip)?.from ?? c.from, to: c.to });
    return [...byIp.values()].filter((c) => c.from !== c.to);
  };
  const flapping = new Map((held?.flapping ?? []).map((f) => [f.ip, f]));
  for (const f of more.flapping) flapping.set(f.ip, f);
  return { changes: merge(held?.changes ?? [], more.changes), flapping: [...flapping.values()], calmed: merge(held?.calmed ?? [], more.calmed) };
}

/**
 * The incident as it stands: each of its hosts from how it was before the incident to what is accepted now (those
 * back as they were left out), and those of its hosts that flap.
 */
export function incidentNow(state: WatchState): { changes: HostChange[]; flapping: string[] } {
  const incident = state.incident;
  if (!incident) return { changes: [], flapping: [] };
  const flaps = new Set(state.flapping);
  const changes: HostChange[] = [];
  const flapping: string[] = [];
  for (const [ip, from] of Object.entries(incident.reference)) {
    if (flaps.has(ip)) flapping.push(ip);
    else if ((state.baseline[ip] ?? QUIET) !== from) changes.push({ ip, from, to: state.baseline[ip] ?? QUIET });
  }
  return { changes, flapping };
}

export interface WatchState {
  /** FACTS_VERSION when the signatures are facts; absent in states written before (see adoptFacts). */
  facts?: 1;
  /** Runs observed (inconclusive runs are not). */
  runs: number;
  /** The accepted signature of each host that is not quiet. */
  baseline: Record<string, string>;
  /** Where the last run saw a host otherwise than its baseline. */
  lastSeen: Record<string, string>;
  /** Changes seen and not yet confirmed: the new signature and for how many consecutive runs it has held. */
  pending: Record<string, { signature: string; runs: number }>;
  /**
   * Run numbers at which each host moved away from its accepted signature (differing both from the run before and
   * from its baseline), within the flapping window.
   */
  transitions: Record<string, number[]>;
  flapping: string[];
  incident?: Incident;
  /**
   * `confirm:agents`: what some vantage alone saw of a host (vantage → address → signature), already said as that
   * vantage's own view: said again only once it has ended and come back.
   */
  dissent?: Record<string, Record<string, string>>;
}

export interface HostChange {
  ip: string;
  from: string;
  to: string;
}

export interface RunVerdict {
  state: WatchState;
  /** Changes confirmed by this run, of hosts that do not flap. */
  changes: HostChange[];
  /** Hosts found flapping by this run, with their changes within the window. */
  flapping: { ip: string; changes: number }[];
  /** Hosts that stopped flapping in this run, from their baseline to what they are now. */
  calmed: HostChange[];
  /** This run opened an incident. */
  opened: boolean;
  /** This run closed the incident: its hosts are back (`resolved`) or held their new states long enough (`settled`). */
  closed?: { how: 'resolved' | 'settled'; incident: Incident };
}

/** The state after a first run: what it found is the baseline. */
export function firstState(observed: ReadonlyMap<string, string>): WatchState {
  const baseline: Record<string, string> = {};
  for (const [ip, signature] of observed) if (!isQuiet(signature)) baseline[ip] = signature;
  return { facts: FACTS_VERSION, runs: 1, baseline, lastSeen: {}, pending: {}, transitions: {}, flapping: [] };
}

/** What a signature of before facts would read as a fact: `unreachable` was an empty address's, ports likewise. */
function asFactOfBefore(signature: string): string {
  const { state, ports } = readFact(signature);
  if (state === 'unreachable' || state === 'silent') return QUIET;
  const parts = [...ports].sort(([a], [b]) => a - b).map(([port, portState]) => `${port}/${portState === 'unreachable' ? 'filtered' : portState}`);
  return [state, ...parts].join(' ');
}

/**
 * A state written before facts, brought to them with one run's observations, before that run is judged: where a
 * host's stored signature is what its observed fact read as before facts (an empty address's `unreachable` for
 * `silent`, a port's `unreachable` for `filtered`), the stored one becomes the observed fact, so that reading the
 * same host the new way is not announced as a change. Every other difference is left for the run to judge. The one
 * change this can hide is a host that was unreachable for another reason (a route gone) and is silent on exactly
 * the first run after the upgrade.
 */
export function adoptFacts(previous: WatchState, observed: ReadonlyMap<string, string>): WatchState {
  if (previous.facts === FACTS_VERSION) return previous;
  const state: WatchState = structuredClone(previous);
  state.facts = FACTS_VERSION;
  const adopt = (ip: string, stored: string): string => {
    const seen = observed.get(ip);
    return seen !== undefined && seen !== stored && asFactOfBefore(stored) === seen ? seen : stored;
  };
  for (const [ip, signature] of Object.entries(state.baseline)) {
    const fact = adopt(ip, signature);
    if (fact === QUIET) delete state.baseline[ip];
    else state.baseline[ip] = fact;
  }
  const baselineOf = (ip: string): string => state.baseline[ip] ?? QUIET;
  for (const [ip, signature] of Object.entries(state.lastSeen)) {
    const fact = adopt(ip, signature);
    if (fact === baselineOf(ip)) delete state.lastSeen[ip];
    else state.lastSeen[ip] = fact;
  }
  for (const [ip, pending] of Object.entries(state.pending)) {
    const fact = adopt(ip, pending.signature);
    if (fact === baselineOf(ip)) delete state.pending[ip];
    else state.pending[ip] = { ...pending, signature: fact };
  }
  if (state.incident) {
    for (const [ip, signature] of Object.entries(state.incident.reference)) state.incident.reference[ip] = adopt(ip, signature);
  }
  return state;
}

/**
 * Takes one run's signatures (`observed`: every host the run probed; a host it did not probe, e.g. of a chunk that
 * failed, is left as it was) and decides what changed. `now` dates a new incident.
 */
export function observeRun(previous: WatchState, observed: ReadonlyMap<string, string>, confirm: number, now: Date): RunVerdict {
  const state: WatchState = structuredClone(previous);
  const run = state.runs + 1;
  state.runs = run;
  const changes: HostChange[] = [];
  const flapping: RunVerdict['flapping'] = [];
  const calmed: HostChange[] = [];
  const baselineOf = (ip: string): string => state.baseline[ip] ?? QUIET;
  const accept = (ip: string, signature: string): void => {
    if (isQuiet(signature)) delete state.baseline[ip];
    else state.baseline[ip] = signature;
  };
  const flaps = new Set(state.flapping);

  for (const [ip, observedFact] of observed) {
    // A run whose agent sent no ICMP sees less, not otherwise: what it could see being as before is no change.
    const seen = sameFacts(observedFact, baselineOf(ip)) ? baselineOf(ip) : observedFact;
    const before = state.lastSeen[ip] ?? baselineOf(ip);
    const recent = (state.transitions[ip] ?? []).filter((at) => at > run - FLAP_WINDOW);
    if (seen !== before && seen !== baselineOf(ip)) recent.push(run);
    if (recent.length > 0) state.transitions[ip] = recent;
    else delete state.transitions[ip];

    if (flaps.has(ip)) {
      // Changes of a flapping host are not reported one by one: only that it settled, once it has.
      if (recent.every((at) => at <= run - CALM_RUNS)) {
        flaps.delete(ip);
        calmed.push({ ip, from: baselineOf(ip), to: seen });
        accept(ip, seen);
      }
    } else if (recent.length >= FLAP_CHANGES) {
      flaps.add(ip);
      flapping.push({ ip, changes: recent.length });
      delete state.pending[ip];
    } else if (seen === baselineOf(ip)) {
      delete state.pending[ip];
    } else {
      const pending = state.pending[ip];
      const runs = pending?.signature === seen ? pending.runs + 1 : 1;
      if (runs >= confirm) {
        changes.push({ ip, from: baselineOf(ip), to: seen });
        accept(ip, seen);
        delete state.pending[ip];
      } else {
        state.pending[ip] = { signature: seen, runs };
      }
    }
    if (seen === baselineOf(ip)) delete state.lastSeen[ip];
    else state.lastSeen[ip] = seen;
  }
  state.flapping = [...flaps].sort();

  let opened = false;
  let closed: RunVerdict['closed'];
  const involved = [...changes, ...flapping.map(({ ip }) => ({ ip, from: previous.baseline[ip] ?? QUIET }))];
  if (involved.length > 0 || calmed.length > 0) {
    if (!state.incident && involved.length > 0) {
      state.incident = { openedAt: now.toISOString(), reference: {}, quietRuns: 0 };
      opened = true;
    }
    if (state.incident) {
      for (const { ip, from } of involved) state.incident.reference[ip] ??= from;
      state.incident.quietRuns = 0;
    }
  } else if (state.incident) {
    state.incident.quietRuns += 1;
  }
  const incident = state.incident;
  if (incident && !opened) {
    const hosts = Object.keys(incident.reference);
    const back = hosts.every((ip) => !flaps.has(ip) && baselineOf(ip) === incident.reference[ip]);
    const still = hosts.every((ip) => !flaps.has(ip) && state.pending[ip] === undefined);
    if (back) closed = { how: 'resolved', incident };
    else if (still && incident.quietRuns >= SETTLE_RUNS) closed = { how: 'settled', incident };
    if (closed) delete state.incident;
  }
  return { state, changes, flapping, calmed, opened, closed };
}
