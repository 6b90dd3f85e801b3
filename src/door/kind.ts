/**
 * What a kind of command declares, once: what the policy judges of it (what it probes or reveals), whether it holds
 * one of the requester's running slots, its limits, and what it does once allowed. The door (door.ts) runs every
 * request through the same steps; {@link declareKind} binds a declaration to them, so no kind can run a step of its
 * own order or skip one.
 */
import type { Command } from '../core/grammar.js';
import type { HostState } from '../core/states.js';
import type { AuditEntry, AuditTrail } from './audit.js';
import type { Allowed, Judge } from './policy.js';
import type { RequestRecords, RequestSource } from './requests.js';
import type { RequestSlots, Slot } from './slots.js';

/** A request from a button, or from `zensweep cancel`: about a request started before. */
export type FollowUpCommand =
  | { kind: 'cancel'; id: string }
  /** Every host of one state of a sweep's report (`Show all N unreachable`, `Show silent hosts`). */
  | { kind: 'hosts'; sweepId: string; state: HostState }
  | { kind: 'save_baseline'; sweepId: string }
  /** A watch's open incident acknowledged, from its alert. */
  | { kind: 'acknowledge'; id: string }
  /** A watch's open incident silenced from its alert: for `forMs` (0: until it ends), with a reason. */
  | { kind: 'silence'; id: string; forMs: number; reason: string }
  /** The app's Home tab, opened: the whole picture within the viewer's reach. */
  | { kind: 'home' }
  /** A watch's chart (its alert's Graph button): loss and round trips of its hosts over time. */
  | { kind: 'graph'; id: string };

/** Everything the door answers: what the grammar reads from a command's text, and the follow-ups. */
export type DoorCommand = Command | FollowUpCommand;
export type CommandKind = DoorCommand['kind'];
export type CommandOf<K extends CommandKind> = Extract<DoorCommand, { kind: K }>;

/** One request at the door: who asks, from where, with which words. */
export interface DoorRequest {
  source: RequestSource;
  /** A Slack user id, or user@host. */
  user: string;
  /** A Slack channel id (C…, G…, D…), or `cli`. */
  channel: string;
  /** The words as typed (for a button: the words of the request it is about), for the audit trail. */
  text: string;
  /** The button pressed, when a button asked. */
  action?: AuditEntry['action'];
  /** Slack's response_url of the request: where its answer goes when the bot cannot post in the channel. */
  responseUrl?: string;
  /** The request a follow-up (a button, `zensweep cancel`) is about: its id, for the audit trail. */
  subject?: string;
}

/** What the policy judges of a kind: what it sends packets to, what stored facts it shows, or what it changes. */
export type Touches = 'probes' | 'reveals' | 'changes' | 'nothing';

/** The steps' shared services, handed to every kind by the door. */
export interface DoorContext<S = unknown> {
  request: DoorRequest;
  judge: Judge;
  audit: AuditTrail;
  slots: RequestSlots;
  requests: RequestRecords;
  /** What the kinds use: stores, dispatcher, starters (see kinds/services.ts). */
  services: S;
}

/** What a kind's `run` is given besides its command: the slot it holds, if it takes one. */
export interface RunContext<S> extends DoorContext<S> {
  /** The request's id (a sweep id, a trace id) when the kind starts something; the slot's id. */
  id: string;
  slot?: Slot;
}

export interface KindDeclaration<K extends CommandKind, D, R, S> {
  readonly kind: K;
  readonly touches: Touches;
  /** Limits of the request (SWEEP_LIMITS, TRACE_LIMITS, DIAG_LIMITS …), for the record: the grammar applies them. */
  readonly limits?: object;
  /** The id of what it starts (a sweep id…); given, the request holds a running slot for `slotMs` of `decided`. */
  readonly starts?: { newId(): string; slotMs(decided: D, command: CommandOf<K>): number };
  /** The policy's decision on what it will probe or reveal: a Judge's Allowed value, or a thrown refusal. */
  decide(command: CommandOf<K>, context: DoorContext<S>): Promise<Allowed<D>>;
  /** What it does once allowed (and holding its slot): answers, changes a store, or durably starts the work. */
  run(command: CommandOf<K>, decided: D, context: RunContext<S>): Promise<R>;
  /** The audit line of a success: `started` (work began), `allowed` (a change or a reveal), or none (help). */
  readonly audited: 'started' | 'allowed' | 'none';
}

/** A kind bound to the door's steps: decide → slot → run → audit. */
export interface Kind<K extends CommandKind, R, S> {
  readonly kind: K;
  readonly touches: Touches;
  handle(command: CommandOf<K>, context: DoorContext<S>): Promise<R>;
}

/**
 * Binds a declaration to the door's steps, in the one order: the policy's decision; the running slot, taken
 * atomically; the work; the audit line. A slot taken is released if the work fails to start; once started, whoever
 * ends the request releases it (the delivery, the command line), or it expires on its own.
 */
export function declareKind<K extends CommandKind, D, R, S>(declaration: KindDeclaration<K, D, R, S>): Kind<K, R, S> {
  return {
    kind: declaration.kind,
    touches: declaration.touches,
    async handle(command, context) {
      const decided = (await declaration.decide(command, context)).value;
      const id = declaration.starts?.newId() ?? '';
      const slot = declaration.starts
        ? await context.slots.take(context.request.user, id, declaration.starts.slotMs(decided, command))
        : undefined;
      let result: R;
      try {
        result = await declaration.run(command, decided, { ...context, id, ...(slot ? { slot } : {}) });
      } catch (error) {
        if (slot) await context.slots.release(slot).catch(() => undefined);
        throw error;
      }
      if (declaration.audited !== 'none') {
        const { user, channel, text, action, subject } = context.request;
        const sweepId = id || subject;
        // Logged before it is stored: a Redis hiccup here must not turn work already started into an error.
        await context.audit
          .record({ user, channel, text, action, kind: declaration.kind, outcome: declaration.audited, ...(sweepId ? { sweepId } : {}) })
          .catch(() => undefined);
      }
      return result;
    },
  };
}
