/**
 * Every kind of command, declared once (door/kinds/): the table is checked against the commands the grammar and the
 * buttons produce, so a command without a kind — and so without a policy decision — does not compile.
 */
import type { CommandKind, Kind } from './kind.js';
import type { DoorServices } from './services.js';
import { CANCEL, HOSTS, SAVE_BASELINE } from './kinds/follow-ups.js';
import { DIAG, SWEEP, TRACE } from './kinds/probes.js';
import { AGENTS, BASELINES, FORGET, HELP, HISTORY } from './kinds/reveals.js';
import { ACKNOWLEDGE, GRAPH, MUTE, QUIET, SILENCE, UNWATCH, WATCH, WATCHES } from './kinds/watches.js';
import { HOME } from './kinds/home.js';

export const KINDS = {
  help: HELP,
  agents: AGENTS,
  history: HISTORY,
  baselines: BASELINES,
  forget: FORGET,
  sweep: SWEEP,
  trace: TRACE,
  diag: DIAG,
  watch: WATCH,
  watches: WATCHES,
  unwatch: UNWATCH,
  mute: MUTE,
  quiet: QUIET,
  cancel: CANCEL,
  hosts: HOSTS,
  save_baseline: SAVE_BASELINE,
  acknowledge: ACKNOWLEDGE,
  silence: SILENCE,
  home: HOME,
  graph: GRAPH,
} as const satisfies { readonly [K in CommandKind]: Kind<K, unknown, DoorServices> };

/** What a kind answers once it ran. */
export type ResultOf<K extends CommandKind> = (typeof KINDS)[K] extends Kind<K, infer R, DoorServices> ? R : never;
