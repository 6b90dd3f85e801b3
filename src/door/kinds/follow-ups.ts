/**
 * The kinds that act on a request started before: Cancel (a button, or `zensweep cancel ID`), Show hosts, Save as
 * baseline. Each is judged on what that request reached, as if whoever presses asked for it where they press.
 */
import { ZenSweepError } from '../../core/errors.js';
import type { DistributedReport } from '../../core/report.js';
import type { DoorContext } from '../kind.js';
import { declareKind } from '../kind.js';
import { PolicyRefusedError } from '../policy.js';
import type { Allowed } from '../policy.js';
import type { RequestRecord } from '../requests.js';
import { touchedBy } from '../requests.js';
import type { DoorServices } from '../services.js';

/** An id that names no request on record (mistyped, or older than the history keeps). */
export class UnknownRequestError extends ZenSweepError {
  constructor(message: string) {
    super('unknown_request', message);
  }
}

/**
 * The request a follow-up is about, judged for whoever asks. From the command line it must be on record and the
 * asker's own; a button on a message older than its record passes only for a requester who may reach anything.
 */
async function judgedRecord(id: string, verb: 'cancel' | 'see' | 'save', context: DoorContext<DoorServices>): Promise<Allowed<RequestRecord | undefined>> {
  const { judge, requests, request } = context;
  const record = await requests.get(id);
  if (request.source === 'cli') {
    if (!record) throw new UnknownRequestError(`no request ${id} is on record: give an id as zensweep submit printed it`);
    if (record.requester !== request.user) {
      throw new PolicyRefusedError(`${id} was started by ${record.requester}, not by you: only its requester may ${verb} it from here`);
    }
  }
  const unknown = 'what this sweep covered is no longer on record, and the policy limits what you may sweep here';
  return judge.subject(record, record ? touchedBy(record.groups) : undefined, unknown);
}

/** What a cancel did. */
export type CancelOutcome = 'cancelling' | 'finished' | 'not_a_sweep';

export const CANCEL = declareKind({
  kind: 'cancel',
  touches: 'changes',
  decide: (command, context: DoorContext<DoorServices>) => judgedRecord(command.id, 'cancel', context),
  async run(command, record, { services }): Promise<CancelOutcome> {
    if (record && record.kind !== 'sweep') return 'not_a_sweep';
    if (await services.dispatcher.finished(command.id)) return 'finished';
    await services.dispatcher.cancel(command.id);
    return 'cancelling';
  },
  audited: 'allowed',
});

export const HOSTS = declareKind({
  kind: 'hosts',
  touches: 'reveals',
  decide: (command, context: DoorContext<DoorServices>) => judgedRecord(command.sweepId, 'see', context),
  run: async (command, _record, { services }): Promise<DistributedReport | undefined> => services.results.loadReport(command.sweepId),
  audited: 'allowed',
});

/** A baseline name from a sweep's targets: `10.0.1.0/24 10.0.2.5` → `base-10.0.1.0-24-10.0.2.5`. */
export function baselineNameFor(targets: readonly string[]): string {
  const name = `base-${targets.join('-')}`.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/-+/g, '-');
  return name.slice(0, 63).replace(/[-.]+$/, '');
}

export const SAVE_BASELINE = declareKind({
  kind: 'save_baseline',
  touches: 'changes',
  decide: (command, context: DoorContext<DoorServices>) => judgedRecord(command.sweepId, 'save', context),
  async run(command, _record, { services, request }): Promise<{ name: string; targets: string[] } | undefined> {
    const swept = await services.history.get(command.sweepId);
    if (!swept) return undefined;
    const name = baselineNameFor(swept.targets);
    // The pressing channel's own baseline: another channel's of the same name is left as it is.
    await services.history.saveBaseline(request.channel, name, swept.id, request.user);
    return { name, targets: swept.targets };
  },
  audited: 'allowed',
});
