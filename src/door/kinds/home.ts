/**
 * The app's Home tab: the whole picture for whoever opens it, within their reach (the same policy as `/sweep`):
 * the agent groups they may use with their live agents and health, the watches they made (an open incident first,
 * with how it is handled), and their own last sweeps. Audited like every reveal.
 */
import type { IncidentResponse, WatchRecord } from '../../queue/watch-store.js';
import type { SweepRecord } from '../../queue/history.js';
import { targetKey } from '../../queue/history.js';
import { parseSweepText } from '../../core/grammar.js';
import type { AgentInfo } from '../../queue/registry.js';
import type { DoorContext } from '../kind.js';
import { declareKind } from '../kind.js';
import type { DoorServices } from '../services.js';
import { touchedBySweep } from './reach.js';
import { agentsWithinReach } from './reveals.js';
import { touchedByWatch } from './watches.js';

/** A watch as Home shows it: its record, when its mute ends, how its open incident is handled. */
export interface HomeWatch {
  watch: WatchRecord;
  mutedUntil?: string;
  response?: IncidentResponse;
}

export interface HomePicture {
  agents: AgentInfo[];
  watches: HomeWatch[];
  /** The viewer's own sweeps, newest first. */
  sweeps: SweepRecord[];
}

/** Sweeps of the history looked through for the viewer's own. */
const SWEEPS_LOOKED_AT = 500;
/** The viewer's sweeps shown. */
export const HOME_SWEEPS = 5;

export const HOME = declareKind({
  kind: 'home',
  touches: 'reveals',
  decide: async (_command, { judge, services, request }: DoorContext<DoorServices>) => {
    // The agents as `/sweep agents` shows them to this viewer.
    const agents = (await agentsWithinReach({ judge, services })).value;
    const mine = services.watches ? await services.watches.store.listOf(request.user) : [];
    const watches = judge.revealEach(mine, (watch, scopeIn) => {
      const touched = touchedByWatch(watch);
      if (!touched) return undefined;
      for (const [group, addresses] of touched) if (!scopeIn(group)?.covers(addresses)) return undefined;
      return watch;
    }).value;
    // Their own sweeps, not their watches' runs (which the history keeps under their name too: told apart by targets).
    const watched = new Set(mine.flatMap((w) => {
      try {
        return [targetKey(parseSweepText(w.sweep, { maxAddresses: Number.MAX_SAFE_INTEGER }).targets.map((t) => t.text))];
      } catch {
        return [];
      }
    }));
    const own = (await services.history.recent(SWEEPS_LOOKED_AT)).filter((r) => r.requestedBy === request.user && !watched.has(r.targetKey));
    const sweeps = judge.reveal(own, touchedBySweep).value.slice(0, HOME_SWEEPS);
    return judge.admitted({ agents, watches, sweeps });
  },
  async run(_command, { agents, watches, sweeps }, { services }): Promise<HomePicture> {
    const store = services.watches?.store;
    const shown: HomeWatch[] = [];
    for (const watch of watches) {
      const incident = watch.state?.incident;
      const [mutedUntil, response] = await Promise.all([store?.mutedUntil(watch.id), incident ? store?.response(watch.id, incident.openedAt) : undefined]);
      shown.push({ watch, ...(mutedUntil ? { mutedUntil } : {}), ...(response ? { response } : {}) });
    }
    return { agents, watches: shown, sweeps };
  },
  audited: 'allowed',
});
