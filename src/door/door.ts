/**
 * The door: every request — a slash command, a button, `zensweep submit`, `agents`, `history`, `cancel` — passes the
 * same steps, in the same order: parse → requester (user, channel, user groups) → the kind's policy decision on what
 * it will probe or reveal → limits (atomic) → the work (a durable start) → audit → answer. The kinds (kinds.ts) say
 * what each step means for them; the transports (slack/, cli/) only carry requests in and answers out.
 */
import { isZenSweepError } from '../core/errors.js';
import type { ZenSweepError } from '../core/errors.js';
import type { AuditEntry, AuditTrail } from './audit.js';
import type { CommandKind, CommandOf, DoorCommand, DoorContext, DoorRequest, Kind } from './kind.js';
import { KINDS } from './kinds.js';
import type { ResultOf } from './kinds.js';
import { Judge } from './policy.js';
import type { Policy, Requester } from './policy.js';
import type { RequestRecords } from './requests.js';
import type { DoorServices } from './services.js';
import type { RequestSlots } from './slots.js';

export interface DoorDeps {
  policy: Policy;
  audit: AuditTrail;
  slots: RequestSlots;
  requests: RequestRecords;
  services: DoorServices;
  /**
   * The policy's user groups this user belongs to (Slack's usergroups.users.list); none where it does not apply (the
   * command line). Throws PolicyRefusedError when they cannot be read.
   */
  usergroupsOf?: (user: string) => Promise<ReadonlySet<string>>;
}

/** The answer to one request: what its kind did, or why nothing was done. */
export type DoorAnswer =
  | { [K in CommandKind]: { kind: K; command: CommandOf<K>; value: ResultOf<K> } }[CommandKind]
  | { kind: 'refused' | 'invalid'; message: string; error: ZenSweepError };

/** Codes of errors that say the words were wrong, not that the request was refused. */
const INVALID = new Set(['invalid_target', 'invalid_option']);

export class Door {
  constructor(private readonly deps: DoorDeps) {}

  /**
   * Answers a request whose words `parse` reads (the grammar, or a button's value). Bad words and refusals are
   * answers (audited, nothing done); anything else that goes wrong is thrown.
   */
  async answer(request: DoorRequest, parse: () => DoorCommand): Promise<DoorAnswer> {
    let command: DoorCommand;
    try {
      command = parse();
    } catch (error) {
      return this.refusal(request, undefined, error, true);
    }
    try {
      return { kind: command.kind, command, value: await this.handle(request, command) } as DoorAnswer;
    } catch (error) {
      return this.refusal(request, command.kind, error);
    }
  }

  /** One kind, its answer typed (the command line). Refusals are audited, then thrown. */
  async run<K extends CommandKind>(request: DoorRequest, command: CommandOf<K>): Promise<ResultOf<K>> {
    try {
      return (await this.handle(request, command)) as ResultOf<K>;
    } catch (error) {
      await this.refusal(request, command.kind, error);
      throw error;
    }
  }

  private async handle(request: DoorRequest, command: DoorCommand): Promise<unknown> {
    const { deps } = this;
    const who: Requester = { user: request.user, channel: request.channel, usergroups: (await deps.usergroupsOf?.(request.user)) ?? new Set() };
    const context: DoorContext<DoorServices> = {
      request,
      judge: new Judge(deps.policy, who),
      audit: deps.audit,
      slots: deps.slots,
      requests: deps.requests,
      services: deps.services,
    };
    // The table is checked kind by kind (kinds.ts); TypeScript cannot follow a union into it, so it is looked up here.
    const kind = KINDS[command.kind] as Kind<CommandKind, unknown, DoorServices>;
    return kind.handle(command as CommandOf<CommandKind>, context);
  }

  /** Audits a refusal or bad input and says it in one sentence; anything that is not one is thrown. */
  private async refusal(request: DoorRequest, kind: CommandKind | undefined, error: unknown, unread = false): Promise<DoorAnswer> {
    if (!isZenSweepError(error)) throw error;
    const outcome: AuditEntry['outcome'] = unread || INVALID.has(error.code) ? 'invalid' : 'refused';
    const { user, channel, text, action, subject } = request;
    await this.deps.audit.record({ user, channel, text, action, ...(kind ? { kind } : {}), outcome, ...(subject ? { sweepId: subject } : {}), reason: error.message });
    return { kind: outcome, message: error.message, error };
  }
}
