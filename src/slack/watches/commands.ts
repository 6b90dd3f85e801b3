import type { Logger } from 'pino';
import { ZenSweepError, isZenSweepError } from '../../core/errors.js';
import { describeRequest } from '../../core/grammar.js';
import { formatEvery } from '../../core/watch-grammar.js';
import type { WatchCommand } from '../../core/watch-grammar.js';
import { newWatchId } from '../../queue/watch-store.js';
import type { WatchLimits, WatchRecord, WatchStore } from '../../queue/watch-store.js';
import type { AuditTrail } from '../audit.js';
import { errorText } from '../render/replies.js';
import type { Ack, SweepOrigin } from '../sweeps.js';
import type { WatchAccess } from './runner.js';
import { slackTime, watchesText } from './render.js';

/** A watch asked to run more often than the bot allows. */
export class WatchTooFrequentError extends ZenSweepError {
  constructor(message: string) {
    super('watch_too_frequent', message);
  }
}

/** A cap on watches (channel, user, total) is reached: thrown by the store, which checks them atomically. */
export { TooManyWatchesError } from '../../queue/watch-store.js';

/** No such watch in this channel. */
export class UnknownWatchError extends ZenSweepError {
  constructor(message: string) {
    super('unknown_watch', message);
  }
}

export interface SlackWatchesDeps {
  store: WatchStore;
  access: WatchAccess;
  audit: AuditTrail;
  /** Shortest interval a watch may have, in ms (ZENSWEEP_WATCH_MIN_INTERVAL_MS). */
  minIntervalMs: number;
  /** Most watches per channel, per user and in all (ZENSWEEP_WATCH_MAX_PER_CHANNEL, _PER_USER, _TOTAL). */
  limits: WatchLimits;
  log: Logger;
}

/**
 * `/sweep watch | watches | unwatch | mute`, apart from Bolt. A watch is checked like a sweep when it is made (the
 * policy on the request and on the plan, live agents covering it) and at every run; a watch belongs to the
 * channel it was made in, and only that channel lists, mutes or removes it.
 */
export class SlackWatches {
  constructor(private readonly deps: SlackWatchesDeps) {}

  async handle(origin: SweepOrigin, command: WatchCommand): Promise<Ack> {
    const { deps } = this;
    const entry = { user: origin.user, channel: origin.channel, text: origin.text };
    try {
      const text = await this.answer(origin, command);
      if (command.kind !== 'watches') await deps.audit.record({ ...entry, outcome: 'allowed' });
      return { response_type: 'ephemeral', text };
    } catch (error) {
      if (!isZenSweepError(error)) throw error;
      const outcome = error.code === 'invalid_target' || error.code === 'invalid_option' ? 'invalid' : 'refused';
      await deps.audit.record({ ...entry, outcome, reason: error.message });
      return { response_type: 'ephemeral', text: errorText(error.message) };
    }
  }

  private async answer(origin: SweepOrigin, command: WatchCommand): Promise<string> {
    const { deps } = this;
    switch (command.kind) {
      case 'watches': {
        const { watches, unreadable } = await deps.store.list(origin.channel);
        const muted = new Map<string, string>();
        for (const watch of watches) {
          const until = await deps.store.mutedUntil(watch.id);
          if (until) muted.set(watch.id, until);
        }
        return watchesText(watches, muted, Date.now(), unreadable);
      }
      case 'unwatch': {
        // By id: a watch whose record no longer reads is removed all the same.
        const removed = await deps.store.removeById(command.id, origin.channel);
        if (!removed) throw new UnknownWatchError(`there is no watch ${command.id} in this channel: /sweep watches lists them`);
        return removed.sweep === undefined
          ? `Removed the unreadable watch \`${removed.id}\`.`
          : `Stopped watching \`${removed.sweep}\` (\`${removed.id}\`).`;
      }
      case 'mute': {
        const watch = await this.ofChannel(command.id, origin.channel);
        await deps.store.mute(watch.id, command.forMs);
        if (command.forMs === 0) return `\`${watch.id}\` (\`${watch.sweep}\`) speaks again.`;
        const until = new Date(Date.now() + command.forMs).toISOString();
        return `Muted \`${watch.id}\` (\`${watch.sweep}\`) until ${slackTime(until)}: it does not run until then.`;
      }
      case 'watch': {
        const { request, everyMs, confirm } = command.watch;
        if (everyMs < deps.minIntervalMs) {
          throw new WatchTooFrequentError(
            `every:${formatEvery(everyMs)} is more often than watches may run here (every ${formatEvery(deps.minIntervalMs)} at most), e.g. every:${formatEvery(Math.max(deps.minIntervalMs, 5 * 60_000))}`,
          );
        }
        const who = await deps.access.requester(origin.user, origin.channel);
        const { plan } = await deps.access.plan(who, request);
        const record: WatchRecord = {
          v: 1,
          id: newWatchId(),
          channel: origin.channel,
          createdBy: origin.user,
          createdAt: new Date().toISOString(),
          sweep: describeRequest(request),
          everyMs,
          confirm,
          groups: plan.groups,
          outbox: [],
        };
        await deps.store.create(record, deps.limits);
        deps.log.info({ event: 'watch_created', watch: record.id, channel: record.channel, groups: record.groups, everyMs });
        return (
          `Watching \`${record.sweep}\` in ${plan.groups.join(', ')} every ${formatEvery(everyMs)} (id \`${record.id}\`). ` +
          `I will post here only when a change holds for ${confirm} run${confirm === 1 ? '' : 's'}. ` +
          `\`/sweep watches\` lists this channel's watches; \`/sweep unwatch ${record.id}\` stops this one.`
        );
      }
    }
  }

  private async ofChannel(id: string, channel: string): Promise<WatchRecord> {
    const watch = await this.deps.store.get(id);
    if (!watch || watch.channel !== channel) {
      throw new UnknownWatchError(`there is no watch ${id} in this channel: /sweep watches lists them`);
    }
    return watch;
  }
}
