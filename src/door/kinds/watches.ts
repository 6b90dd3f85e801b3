/**
 * The watch kinds: `watch` (probes, at every run: decided on its plan as a sweep is, and again by each run),
 * `watches` (reveals the channel's watches within the requester's reach), `unwatch` and `mute` (change one watch,
 * allowed only where the requester may reach all it sweeps). Every one passes the door: judged, limited, audited.
 */
import { ZenSweepError } from '../../core/errors.js';
import { describeRequest, parseSweepText } from '../../core/grammar.js';
import { formatEvery } from '../../core/watch-grammar.js';
import { newWatchId } from '../../queue/watch-store.js';
import type { IncidentResponse, RemovedWatch, UnreadableWatch, WatchRecord } from '../../queue/watch-store.js';
import type { SeriesPoint } from '../../core/series.js';
import type { DoorContext } from '../kind.js';
import { declareKind } from '../kind.js';
import type { Allowed, Touched } from '../policy.js';
import type { DoorServices, WatchServices } from '../services.js';
import { touchedByTargets } from './reach.js';

/** A watch asked to run more often than the bot allows. */
export class WatchTooFrequentError extends ZenSweepError {
  constructor(message: string) {
    super('watch_too_frequent', message);
  }
}

/** No such watch in this channel. */
export class UnknownWatchError extends ZenSweepError {
  constructor(message: string) {
    super('unknown_watch', message);
  }
}

/** Watches are served by the bot only. */
export class WatchesUnavailableError extends ZenSweepError {
  constructor() {
    super('watches_unavailable', 'watches are not available here: use /sweep watch in Slack');
  }
}

function watchServices(services: DoorServices): WatchServices {
  if (!services.watches) throw new WatchesUnavailableError();
  return services.watches;
}

/** What a watch sweeps, in each of its groups; undefined when its words no longer read as a sweep. */
export function touchedByWatch(watch: Pick<WatchRecord, 'sweep' | 'groups'>): Touched | undefined {
  try {
    const request = parseSweepText(watch.sweep, { maxAddresses: Number.MAX_SAFE_INTEGER });
    return touchedByTargets(request.targets.map((t) => t.text), watch.groups);
  } catch {
    return undefined;
  }
}

/** What a new watch answers: its record, for the words of the answer. */
export const WATCH = declareKind({
  kind: 'watch',
  touches: 'probes',
  decide: (command, { judge, services }: DoorContext<DoorServices>) =>
    judge.probe(command.watch.request, (authorize) => services.dispatcher.plan(command.watch.request, authorize)),
  async run(command, planned, { services, request }): Promise<WatchRecord> {
    const watches = watchServices(services);
    const { request: sweep, everyMs, confirm, agents } = command.watch;
    if (everyMs < watches.minIntervalMs) {
      throw new WatchTooFrequentError(
        `every:${formatEvery(everyMs)} is more often than watches may run here (every ${formatEvery(watches.minIntervalMs)} at most), ` +
          `e.g. every:${formatEvery(Math.max(watches.minIntervalMs, 5 * 60_000))}`,
      );
    }
    const record: WatchRecord = {
      v: 1,
      id: newWatchId(),
      channel: request.channel,
      createdBy: request.user,
      createdAt: new Date().toISOString(),
      sweep: describeRequest(sweep),
      everyMs,
      confirm,
      ...(agents ? { agents } : {}),
      ...(command.watch.conditions ? { conditions: command.watch.conditions } : {}),
      groups: planned.plan.groups,
      outbox: [],
    };
    // Throws TooManyWatchesError naming the cap (channel, user, total), all checked at once with the making.
    await watches.store.create(record, watches.caps);
    if (command.watch.quiet) await watches.store.setQuiet(record.id, command.watch.quiet);
    return record;
  },
  audited: 'allowed',
});

/** The channel's watches the requester may see, with when each mute ends, and those whose record does not read. */
export interface WatchList {
  watches: WatchRecord[];
  muted: Map<string, string>;
  unreadable: UnreadableWatch[];
  /** Each watch's maintenance window, where it has one. */
  quiet: Map<string, string>;
}

export const WATCHES = declareKind({
  kind: 'watches',
  touches: 'reveals',
  // A record that no longer reads shows nothing but its id and what is wrong with it: listed, so it can be removed.
  decide: async (_command, { judge, services, request }: DoorContext<DoorServices>) => {
    const { watches, unreadable } = await watchServices(services).store.list(request.channel);
    const shown = judge.revealEach(watches, (watch, scopeIn) => {
      const touched = touchedByWatch(watch);
      if (!touched) return undefined;
      for (const [group, addresses] of touched) {
        if (!scopeIn(group)?.covers(addresses)) return undefined;
      }
      return watch;
    });
    return judge.admitted({ watches: shown.value, unreadable });
  },
  async run(_command, { watches, unreadable }, { services }): Promise<WatchList> {
    const store = watchServices(services).store;
    const muted = new Map<string, string>();
    const quiet = new Map<string, string>();
    for (const watch of watches) {
      const [until, window] = await Promise.all([store.mutedUntil(watch.id), store.quietOf(watch.id)]);
      if (until) muted.set(watch.id, until);
      if (window) quiet.set(watch.id, window);
    }
    return { watches, muted, unreadable, quiet };
  },
  audited: 'allowed',
});

function unknownWatch(id: string): UnknownWatchError {
  return new UnknownWatchError(`there is no watch ${id} in this channel: /sweep watches lists them`);
}

/** One watch of this channel, judged for the requester: refused unless they may reach all it sweeps. */
async function judgedWatch(id: string, { judge, services, request }: DoorContext<DoorServices>): Promise<Allowed<WatchRecord>> {
  const watch = await watchServices(services).store.get(id);
  if (!watch || watch.channel !== request.channel) throw unknownWatch(id);
  return judge.subject(watch, touchedByWatch(watch), `watch ${id} no longer reads as a sweep, and the policy limits what you may sweep here`);
}

export const UNWATCH = declareKind({
  kind: 'unwatch',
  touches: 'changes',
  // A watch whose record no longer reads sweeps nothing anyone can judge: whoever may use this channel removes it.
  decide: async (command, context: DoorContext<DoorServices>): Promise<Allowed<WatchRecord | undefined>> => {
    const store = watchServices(context.services).store;
    if ((await store.get(command.id)) === undefined && (await store.exists(command.id))) return context.judge.admitted(undefined);
    return judgedWatch(command.id, context);
  },
  async run(command, _watch, { services, request }): Promise<RemovedWatch> {
    const removed = await watchServices(services).store.removeById(command.id, request.channel);
    if (!removed) throw unknownWatch(command.id);
    return removed;
  },
  audited: 'allowed',
});

export const MUTE = declareKind({
  kind: 'mute',
  touches: 'changes',
  decide: (command, context: DoorContext<DoorServices>) => judgedWatch(command.id, context),
  async run(command, watch, { services }): Promise<{ watch: WatchRecord; until?: string }> {
    await watchServices(services).store.mute(watch.id, command.forMs);
    return command.forMs === 0 ? { watch } : { watch, until: new Date(Date.now() + command.forMs).toISOString() };
  },
  audited: 'allowed',
});

/** The watch has no open incident (it ended, or the alert is an old one's). */
export class NoIncidentError extends ZenSweepError {
  constructor(message: string) {
    super('no_incident', message);
  }
}

/** The open incident of a watch, or why there is none to act on. */
function openIncident(watch: WatchRecord, verb: string): NonNullable<NonNullable<WatchRecord['state']>['incident']> {
  const incident = watch.state?.incident;
  if (!incident) throw new NoIncidentError(`watch ${watch.id} has no open incident (it has ended): nothing to ${verb}`);
  return incident;
}

/** What acknowledging or silencing answers: the watch, and how its incident is now handled. */
export interface Responded {
  watch: WatchRecord;
  response: IncidentResponse;
  /** An acknowledgement that was there already (the first stays). */
  already?: boolean;
}

export const ACKNOWLEDGE = declareKind({
  kind: 'acknowledge',
  touches: 'changes',
  decide: (command, context: DoorContext<DoorServices>) => judgedWatch(command.id, context),
  async run(_command, watch, { services, request }): Promise<Responded> {
    const incident = openIncident(watch, 'acknowledge');
    const response = await watchServices(services).store.respond(watch.id, incident.openedAt, 'ack', { by: request.user, at: new Date().toISOString() });
    return { watch, response, ...(response.ack?.by === request.user ? {} : { already: true }) };
  },
  audited: 'allowed',
});

export const SILENCE = declareKind({
  kind: 'silence',
  touches: 'changes',
  decide: (command, context: DoorContext<DoorServices>) => judgedWatch(command.id, context),
  async run(command, watch, { services, request }): Promise<Responded> {
    const incident = openIncident(watch, 'silence');
    const at = new Date();
    const silence = {
      by: request.user,
      at: at.toISOString(),
      reason: command.reason,
      ...(command.forMs > 0 ? { until: new Date(at.getTime() + command.forMs).toISOString() } : {}),
    };
    return { watch, response: await watchServices(services).store.respond(watch.id, incident.openedAt, 'silence', silence) };
  },
  audited: 'allowed',
});

/** `quiet ID WINDOW`: a watch's maintenance window set (or `off`), where the requester may reach all it sweeps. */
export const QUIET = declareKind({
  kind: 'quiet',
  touches: 'changes',
  decide: (command, context: DoorContext<DoorServices>) => judgedWatch(command.id, context),
  async run(command, watch, { services }): Promise<{ watch: WatchRecord; window?: string }> {
    await watchServices(services).store.setQuiet(watch.id, command.window);
    return command.window ? { watch, window: command.window } : { watch };
  },
  audited: 'allowed',
});

/** A watch's chart: its series, where the requester may reach all it sweeps. */
export const GRAPH = declareKind({
  kind: 'graph',
  touches: 'reveals',
  decide: (command, context: DoorContext<DoorServices>) => judgedWatch(command.id, context),
  async run(_command, watch, { services }): Promise<{ watch: WatchRecord; points: SeriesPoint[] }> {
    const series = watchServices(services).series;
    return { watch, points: series ? await series.read(watch.id) : [] };
  },
  audited: 'allowed',
});
