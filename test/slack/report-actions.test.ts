/**
 * The buttons, apart from Bolt: each press is a request at the door, checked against the policy for whoever pressed
 * it, where, and audited. Real redis-server, real stores, dispatcher and starter; the agent is only a registry
 * entry, so the sweeps started here wait in their queue and nothing is probed.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { parseSweepText } from '../../src/core/grammar.js';
import { summarize } from '../../src/core/report.js';
import type { HostResult } from '../../src/core/report.js';
import { Dispatcher } from '../../src/queue/dispatcher.js';
import { HistoryStore, recordHosts, targetKey } from '../../src/queue/history.js';
import type { DistributedReport } from '../../src/core/report.js';
import { cancelledKey, sweepQueueName } from '../../src/queue/names.js';
import { AgentRegistry } from '../../src/queue/registry.js';
import { ResultStore } from '../../src/queue/results.js';
import { buttonRequest } from '../../src/slack/actions/report-actions.js';
import type { ButtonPress } from '../../src/slack/actions/report-actions.js';
import { replyTo } from '../../src/slack/answers.js';
import type { Reply } from '../../src/slack/answers.js';
import { PARSE_LIMITS } from '../../src/slack/commands/sweep.js';
import { parseCommand } from '../../src/core/grammar.js';
import { AuditTrail } from '../../src/door/audit.js';
import type { AuditEntry } from '../../src/door/audit.js';
import { Door } from '../../src/door/door.js';
import { parsePolicy } from '../../src/door/policy.js';
import { RequestRecords } from '../../src/door/requests.js';
import { RequestSlots } from '../../src/door/slots.js';
import { HostJobs } from '../../src/queue/host-jobs.js';
import { DELIVERY_QUEUE } from '../../src/slack/delivery/jobs.js';
import { SlackStarter } from '../../src/slack/delivery/starter.js';
import { SlackStore } from '../../src/slack/store.js';
import { ACTIONS, RANGE_DASH } from '../../src/views/blocks.js';
import { FakeSlack } from '../support/fake-slack.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const POLICY = parsePolicy(
  JSON.stringify({
    rules: [
      { channels: ['C0OPS', 'C0OPS2'] },
      { channels: ['C0SMALL'], cidrs: ['127.0.0.0/28'] },
      { channels: ['C0LAB'], groups: ['lab'] },
    ],
  }),
);
const SMALL_REFUSAL = 'this channel may sweep only any group within 127.0.0.0/28';

function host(ip: string, state: HostResult['state']): HostResult {
  return { ip, state, icmp: { sent: 1, received: state === 'alive' ? 1 : 0, lossPct: state === 'alive' ? 0 : 100 }, ports: [] };
}

describe('report buttons', () => {
  let redis: RedisServer;
  let client: Redis;
  let slack: FakeSlack;
  let dispatcher: Dispatcher;
  let deliveries: Queue;
  let hostJobs: HostJobs;
  let door: Door;
  let audit: AuditTrail;
  const history = (): HistoryStore => new HistoryStore(client);
  const results = (): ResultStore => new ResultStore(client);
  const press = (channel: string, value: string, user = `U0${channel.slice(2)}`): ButtonPress => ({ user, channel, value, responseUrl: slack.responseUrl() });
  /** Presses a button, as Bolt hands it over, and returns the private answer. */
  async function pressed(actionId: string, pressing: ButtonPress): Promise<Reply> {
    const asked = buttonRequest(actionId, pressing);
    assert.ok(asked, actionId);
    return replyTo(await door.answer(asked.request, asked.parse));
  }
  const button = {
    cancel: (p: ButtonPress) => pressed(ACTIONS.cancel, p),
    rerun: (p: ButtonPress) => pressed(ACTIONS.rerun, p),
    showHosts: (p: ButtonPress) => pressed(ACTIONS.showHosts, p),
    showSilent: (p: ButtonPress) => pressed(ACTIONS.showSilent, p),
    saveBaseline: (p: ButtonPress) => pressed(ACTIONS.saveBaseline, p),
  };
  const refusedWith = (reply: Reply, reason: string) => assert.equal(reply.text.split('\n')[0], `:warning: ${reason}`);
  const lastAudit = async (): Promise<AuditEntry | undefined> => (await audit.recent(1))[0];

  /** Records a sweep of 127.0.0.0/24 from C0OPS as finished, with one host alive, as the report worker would. */
  async function finished(sweepId: string): Promise<void> {
    const hosts = [host('127.0.0.1', 'alive')];
    await history().record({
      ...{ id: sweepId, requestedBy: 'U0STARTER', origin: 'C0OPS', at: new Date().toISOString(), targets: ['127.0.0.0/24'] },
      ...{ targetKey: targetKey(['127.0.0.0/24']), groups: ['lo'], summary: summarize(hosts), durationMs: 5, complete: true, ...recordHosts(hosts) },
    });
  }

  /** Starts a sweep from this channel as the slash command does, and returns its id. */
  async function started(channel: string, text: string): Promise<string> {
    const request = { source: 'slack' as const, user: 'U0STARTER', channel, text, responseUrl: slack.responseUrl() };
    const reply = replyTo(await door.answer(request, () => parseCommand(text, PARSE_LIMITS)));
    assert.match(reply.text, /^Sweeping/);
    const entry = await lastAudit();
    assert.equal(entry?.outcome, 'started');
    return entry.sweepId ?? '';
  }

  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    slack = await FakeSlack.start();
    dispatcher = new Dispatcher({ connection: client, maxAddresses: 65_536 });
    deliveries = new Queue(DELIVERY_QUEUE, { connection: client });
    audit = new AuditTrail(client, pino({ level: 'silent' }));
    hostJobs = new HostJobs(client);
    door = new Door({
      policy: POLICY,
      audit,
      slots: new RequestSlots(client, 100),
      requests: new RequestRecords(client),
      services: { dispatcher, history: history(), results: results(), hostJobs, start: new SlackStarter(deliveries, new SlackStore(client)) },
    });
  });

  beforeEach(async () => {
    const now = new Date().toISOString();
    for (const [group, cidrs] of [['lo', ['127.0.0.0/16']], ['lab', ['198.18.0.0/24']]] as const) {
      await new AgentRegistry(client).heartbeat({ group, id: `${group}-1`, cidrs: [...cidrs], version: 'test', icmp: true, load: { active: 0, concurrency: 1 }, startedAt: now, lastSeen: now });
    }
  });

  after(async () => {
    await deliveries?.close();
    await dispatcher?.close();
    await hostJobs?.close();
    client?.disconnect();
    await slack?.close();
    await redis?.destroy();
  });

  it('Cancel: refused to a channel that could not have started the sweep, allowed where it could, audited both ways', async () => {
    const sweepId = await started('C0OPS', '127.0.0.0/24');
    refusedWith(await button.cancel(press('C0SMALL', sweepId)), SMALL_REFUSAL);
    assert.equal(await client.exists(cancelledKey(sweepId)), 0, 'a refused Cancel cancels nothing');
    assert.deepEqual(
      { ...(await lastAudit()), at: undefined },
      { at: undefined, user: 'U0SMALL', channel: 'C0SMALL', text: `cancel ${sweepId}`, action: 'cancel', kind: 'cancel', outcome: 'refused', sweepId, reason: SMALL_REFUSAL },
    );
    refusedWith(await button.cancel(press('C0LAB', sweepId)), 'this channel may sweep only lab');
    refusedWith(await button.cancel(press('C0ELSEWHERE', sweepId)), 'no sweep is allowed from this channel for you; ask an admin to add a rule to ZENSWEEP_POLICY');

    assert.match((await button.cancel(press('C0OPS', sweepId, 'U0OTHER'))).text, /^Cancelling/);
    assert.equal(await client.exists(cancelledKey(sweepId)), 1);
    assert.deepEqual(
      { ...(await lastAudit()), at: undefined },
      { at: undefined, user: 'U0OTHER', channel: 'C0OPS', text: `cancel ${sweepId}`, action: 'cancel', kind: 'cancel', outcome: 'allowed', sweepId },
    );

    // A sweep inside the small channel's networks is one it may cancel.
    const small = await started('C0SMALL', '127.0.0.0/28');
    assert.match((await button.cancel(press('C0SMALL', small))).text, /^Cancelling/);
  });

  it('Cancel: a sweep it knows nothing of is refused to a restricted channel, allowed to an unrestricted one', async () => {
    assert.match((await button.cancel(press('C0SMALL', 'no-such-sweep'))).text, /no longer on record/);
    assert.equal(await client.exists(cancelledKey('no-such-sweep')), 0);
    assert.equal((await lastAudit())?.outcome, 'refused');
    await button.cancel(press('C0OPS', 'no-such-sweep'));
    assert.equal(await client.exists(cancelledKey('no-such-sweep')), 1);
  });

  it('Show all N and the older Show silent hosts: the hosts only to whoever could have run the sweep', async () => {
    const sweepId = await started('C0OPS', '127.0.0.0/24');
    const hosts = [host('127.0.0.1', 'alive'), host('127.0.0.2', 'silent'), host('127.0.0.3', 'silent')];
    const report: DistributedReport = {
      ...{ targets: ['127.0.0.0/24'], options: parseSweepText('127.0.0.0/24').options, startedAt: new Date().toISOString(), durationMs: 5 },
      ...{ complete: true, planned: 3, icmp: { available: true }, summary: summarize(hosts), names: [], hosts },
      ...{ sweepId, groups: ['lo'], requestedBy: 'U0STARTER', chunks: [], cancelled: false, failures: [] },
    };
    await results().saveReport(report);
    refusedWith(await button.showSilent(press('C0SMALL', sweepId)), SMALL_REFUSAL);
    assert.deepEqual([(await lastAudit())?.action, (await lastAudit())?.outcome], ['show_silent', 'refused']);
    const shown = await button.showSilent(press('C0OPS', sweepId));
    assert.equal((shown.blocks?.[0] as { text: { text: string } }).text.text, `*Silent (2)*\n127.0.0.2${RANGE_DASH}3`);
    assert.deepEqual([(await lastAudit())?.action, (await lastAudit())?.outcome], ['show_silent', 'allowed']);
    refusedWith(await button.showHosts(press('C0SMALL', `alive:${sweepId}`)), SMALL_REFUSAL);
    assert.deepEqual([(await lastAudit())?.action, (await lastAudit())?.outcome], ['show_hosts', 'refused']);
    const alive = await button.showHosts(press('C0OPS', `alive:${sweepId}`));
    assert.match((alive.blocks?.[0] as { text: { text: string } }).text.text, /^\*Alive \(1\)\*\n`127\.0\.0\.1` /);
    assert.deepEqual([(await lastAudit())?.action, (await lastAudit())?.outcome], ['show_hosts', 'allowed']);
  });

  it('Save as baseline: saves nothing for a channel that could not have run the sweep, and saves the pressing channel’s own', async () => {
    const sweepId = await started('C0OPS', '127.0.0.0/24');
    await finished(sweepId);
    refusedWith(await button.saveBaseline(press('C0SMALL', sweepId)), SMALL_REFUSAL);
    assert.equal(await history().baseline('C0SMALL', 'base-127.0.0.0-24'), undefined);
    assert.deepEqual([(await lastAudit())?.action, (await lastAudit())?.outcome], ['save_baseline', 'refused']);
    assert.match((await button.saveBaseline(press('C0OPS', sweepId))).text, /^Saved as baseline `base-127\.0\.0\.0-24`.* in this channel/);
    assert.equal((await history().baseline('C0OPS', 'base-127.0.0.0-24'))?.savedBy, 'U0OPS');
    assert.deepEqual([(await lastAudit())?.action, (await lastAudit())?.outcome], ['save_baseline', 'allowed']);
    // Another channel pressing the same button saves its own baseline of that name; the first is left as it was.
    await button.saveBaseline(press('C0OPS2', sweepId, 'U0SECOND'));
    assert.equal((await history().baseline('C0OPS2', 'base-127.0.0.0-24'))?.savedBy, 'U0SECOND');
    assert.equal((await history().baseline('C0OPS', 'base-127.0.0.0-24'))?.savedBy, 'U0OPS');
  });

  it('compare:NAME reads only the asking channel’s baselines: another channel hears there is none', async () => {
    const sweepId = await started('C0OPS', '127.0.0.0/24');
    await finished(sweepId);
    await history().saveBaseline('C0OPS', 'only-ops', sweepId, 'U0OPS');
    const deliveriesBefore = await deliveries.count();
    const ask = async (user: string, channel: string): Promise<Reply> =>
      replyTo(await door.answer({ source: 'slack', user, channel, text: '127.0.0.0/24 compare:only-ops' }, () => parseCommand('127.0.0.0/24 compare:only-ops', PARSE_LIMITS)));
    const refused = await ask('U0SECOND', 'C0OPS2');
    assert.equal(refused.text.split('\n')[0], ':warning: there is no baseline named only-ops in this channel: save one here first with save:only-ops');
    assert.equal(await deliveries.count(), deliveriesBefore, 'nothing started');
    assert.match((await ask('U0OPS', 'C0OPS')).text, /^Sweeping/);
    // The sweep's jobs carry its owner, for the report worker's compare and save.
    const entry = await lastAudit();
    const delivery = await deliveries.getJob(`deliver-${entry?.sweepId ?? ''}`);
    assert.equal((delivery?.data as { flow?: { report?: { owner?: string } } } | undefined)?.flow?.report?.owner, 'C0OPS');
  });

  it('Re-run: a new sweep from whoever pressed it, refused with the policy reason where they may not, and audited', async () => {
    const parentsBefore = slack.callsOf('chat.postMessage').length;
    const queued = new Queue(sweepQueueName('lo'), { connection: client });
    const chunksBefore = await queued.count();
    for (const [value, reason] of [
      ['127.0.0.0/24', SMALL_REFUSAL],
      ['vpc:all', SMALL_REFUSAL],
      ['127.0.0.0/8', SMALL_REFUSAL],
    ] as const) {
      refusedWith(await button.rerun(press('C0SMALL', value)), reason);
      assert.deepEqual([(await lastAudit())?.action, (await lastAudit())?.outcome, (await lastAudit())?.reason], ['rerun', 'refused', reason]);
    }
    assert.equal(slack.callsOf('chat.postMessage').length, parentsBefore, 'nothing posted');
    assert.equal(await queued.count(), chunksBefore, 'nothing enqueued');
    const deliveriesBefore = await deliveries.count();

    const allowed = await button.rerun(press('C0SMALL', '127.0.0.0/28'));
    assert.match(allowed.text, /^Sweeping `127\.0\.0\.0\/28` in lo \(14 addresses\)/);
    assert.deepEqual([(await lastAudit())?.action, (await lastAudit())?.outcome, (await lastAudit())?.user], ['rerun', 'started', 'U0SMALL']);
    // Started as one delivery job, which enqueues the sweep when a bot runs it (none does here).
    assert.equal(await deliveries.count(), deliveriesBefore + 1);
    await queued.close();
  });
});
