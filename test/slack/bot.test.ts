/**
 * `/sweep` end to end: a real bot process, a real redis-server, real agents probing loopback, and the fake Slack
 * on 127.0.0.1 that checks every message against Block Kit's limits.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, afterEach, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { targetKey } from '../../src/queue/history.js';
import type { DistributedReport } from '../../src/core/report.js';
import { ResultStore } from '../../src/queue/results.js';
import { AuditTrail } from '../../src/door/audit.js';
import { ACTIONS } from '../../src/views/blocks.js';
import { DELIVERY_QUEUE } from '../../src/slack/delivery/jobs.js';
import { partQueueName } from '../../src/queue/names.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { SIGNING_SECRET, actionFields, commandFields, postSigned, startBot, type BotProcess } from '../support/bot.js';
import { APP_TOKEN, BOT_TOKEN, FakeSlack, type SlackCall } from '../support/fake-slack.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { quietFor, until, waitFor } from '../support/wait.js';
import { pino } from 'pino';

const TIMEOUT = { timeout: 120_000 };

interface Block {
  type: string;
  text?: { text: string };
  elements?: { action_id?: string; value?: string; text?: string | { text: string } }[];
}

function blocksOf(call: SlackCall | undefined): Block[] {
  return (call?.args.blocks as Block[] | undefined) ?? [];
}

function allText(blocks: Block[]): string {
  return blocks
    .map((b) => [b.text?.text ?? '', ...(b.elements ?? []).map((e) => (typeof e.text === 'string' ? e.text : (e.text?.text ?? '')))].join('\n'))
    .join('\n');
}

describe('zensweep bot (HTTP mode, real processes, fake Slack)', () => {
  let redis: RedisServer;
  let client: Redis;
  let slack: FakeSlack;
  let agent: AgentProcess;
  let bot: BotProcess;
  const bots: BotProcess[] = [];
  const launch = async (env: NodeJS.ProcessEnv = {}): Promise<BotProcess> => {
    const started = await startBot({ redisUrl: redis.url, slack, env });
    bots.push(started);
    return started;
  };
  const threadReplies = (): SlackCall[] => slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts !== undefined);
  const parents = (): SlackCall[] => slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts === undefined);
  const command = (text: string, overrides: Record<string, string> = {}) =>
    postSigned(bot.eventsUrl, commandFields(text, { response_url: slack.responseUrl(), ...overrides }));

  before(async () => {
    assertRoot();
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    agent = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/16' });
  });

  afterEach(async () => {
    await Promise.all(bots.splice(0).map((b) => b.stop()));
    const logs = bots.map((b) => b.log()).join('');
    assert.doesNotMatch(logs, new RegExp(`${BOT_TOKEN}|${SIGNING_SECRET}|${APP_TOKEN}`));
    await slack?.close();
  });

  after(async () => {
    await agent?.kill();
    client?.disconnect();
    await redis?.destroy();
  });

  async function fresh(env: NodeJS.ProcessEnv = {}): Promise<void> {
    slack = await FakeSlack.start();
    bot = await launch(env);
  }

  it('acks at once, posts the parent with a Cancel button, then the report in its thread, once', TIMEOUT, async () => {
    await fresh();
    const ack = await command('127.0.0.0/24 tcp:1');
    assert.equal(ack.status, 200);
    const body = JSON.parse(ack.body) as { response_type: string; text: string };
    assert.equal(body.response_type, 'ephemeral');
    assert.equal(body.text, 'Sweeping `127.0.0.0/24 tcp:1` in lo (254 addresses)…');

    const reply = await slack.waitFor('the threaded report', () => threadReplies()[0]);
    const [parent] = parents();
    assert.ok(parent);
    assert.equal(parent.args.channel, 'C0PUBLIC');
    assert.match(allText(blocksOf(parent)), /<@U0ONCALL> swept `127\.0\.0\.0\/24 tcp:1` in \*lo\*/);
    assert.ok(blocksOf(parent).some((b) => b.elements?.some((e) => e.action_id === ACTIONS.cancel)));

    const blocks = blocksOf(reply);
    assert.match(blocks[0]?.text?.text ?? '', /^\*254 alive\* · [\d.]+ (ms|s)$/);
    // One echo: its round trip; a closed port is no news about a host that answers echo.
    assert.match(allText(blocks), /\*Alive \(254\)\*\n`127\.0\.0\.1` rtt [\d.]+ ms\n`127\.0\.0\.2` rtt /);
    assert.match(allText(blocks), /\nand 246 more\n/);
    const buttons = blocks.at(-1)?.elements ?? [];
    assert.deepEqual(buttons.map((e) => e.action_id), [ACTIONS.rerun, ACTIONS.showHosts, ACTIONS.saveBaseline]);
    assert.equal(buttons[1]?.text && typeof buttons[1].text === 'object' ? buttons[1].text.text : '', 'Show all 254 alive');

    // The parent ends with the summary and no buttons; the map and the full table come in one reply in the thread.
    await slack.waitFor('the parent marked done', () =>
      slack.callsOf('chat.update').find((c) => /done: 254 alive/.test(allText(blocksOf(c)))),
    );
    const upload = await slack.waitFor('the map and the CSV', () => slack.callsOf('files.completeUploadExternal')[0]);
    assert.equal(upload.args.channel_id, 'C0PUBLIC');
    assert.equal(upload.args.thread_ts, parent.ts);
    assert.equal(upload.args.initial_comment, '🟩 254 alive · ▫️ not swept');
    assert.equal((upload.args.files as unknown[]).length, 2);
    assert.equal(reply.args.thread_ts, parent.ts);
    const files = [...slack.uploads.values()];
    const csv = files.find((f) => f.startsWith('ip,')) ?? '';
    assert.equal(csv.trim().split('\n').length, 255, 'a header and one row per host');
    assert.ok(files.some((f) => f.slice(1, 4) === 'PNG' && f.includes('IHDR')), 'the map is a PNG picture');
    await quietFor(1000);
    assert.equal(threadReplies().length, 1, 'the report is posted once');
    assert.deepEqual(slack.violations, []);
    const audit = await new AuditTrail(client, pino({ level: 'silent' })).recent(10);
    assert.deepEqual(audit.slice(0, 2).map((a) => a.outcome), ['delivered', 'started']);
    assert.equal(audit[0]?.user, 'U0ONCALL');
    assert.equal(audit[0]?.channel, 'C0PUBLIC');
  });

  it('refuses requests that are unsigned, wrongly signed or stale, and does nothing', TIMEOUT, async () => {
    await fresh();
    const fields = commandFields('127.0.0.0/28', { response_url: slack.responseUrl() });
    const unsigned = await postSigned(bot.eventsUrl, fields, { signature: null });
    const wrong = await postSigned(bot.eventsUrl, fields, { secret: 'not-the-secret' });
    const stale = await postSigned(bot.eventsUrl, fields, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    for (const result of [unsigned, wrong, stale]) assert.equal(result.status, 401, result.body);
    await quietFor(500);
    assert.deepEqual(slack.calls.filter((c) => c.method !== 'auth.test'), []);
  });

  it('answers bad input with one private line and an example, posting and enqueueing nothing', TIMEOUT, async () => {
    await fresh();
    // A sweep's part jobs are added when it starts (its report job only once its parts have ended).
    const reports = new Queue(partQueueName('lo'), { connection: client });
    const before = await reports.count();
    const cases: [string, RegExp][] = [
      ['10.0.1.0/33', /10\.0\.1\.0\/33/],
      ['127.0.0.0/24 count:0', /count/],
      ['127.0.0.0/24 tcp:70000', /70000/],
      ['127.0.0.0/24 —json', /json/],
      ['0.0.0.0/0', /addresses/],
      ['198.18.0.0/24', /no live agent covers 198\.18\.0\.1-198\.18\.0\.254: lo covers 127\.0\.0\.0\/16/],
      ['127.0.0.0/24 vpc:nowhere', /no live agent in group nowhere/],
      ['127.0.0.0/24 compare:never-saved', /no baseline named never-saved/],
    ];
    for (const [text, expected] of cases) {
      const ack = await command(text);
      assert.equal(ack.status, 200);
      const body = JSON.parse(ack.body) as { response_type: string; text: string };
      assert.equal(body.response_type, 'ephemeral', text);
      assert.match(body.text, expected, text);
      assert.match(body.text, /For example: `\/sweep 10\.0\.1\.0\/24 tcp:5432`/, text);
    }
    await quietFor(500);
    assert.deepEqual(parents(), []);
    assert.equal(await reports.count(), before);
    await reports.close();
  });

  it('answers help, agents and history privately', TIMEOUT, async () => {
    await fresh();
    const help = JSON.parse((await command('help')).body) as { text: string };
    assert.match(help.text, /`\/sweep 10\.0\.2\.0\/24 tcp:3306,5432`/);
    const empty = JSON.parse((await command('')).body) as { text: string };
    assert.equal(empty.text, help.text);
    const agents = JSON.parse((await command('agents')).body) as { text: string };
    assert.match(agents.text, new RegExp(`\\*lo\\*\\n• \`${agent.id}\` 127\\.0\\.0\\.0/16 · ICMP\\+TCP`));
    const none = JSON.parse((await command('history 127.0.3.0/28')).body) as { text: string };
    assert.equal(none.text, 'No sweep of `127.0.3.0/28` is on record.');
    await command('127.0.3.0/28');
    await slack.waitFor('the report', () => threadReplies()[0]);
    const history = JSON.parse((await command('history 127.0.3.0/28')).body) as { text: string };
    assert.match(history.text, /^• \d{4}-\d\d-\d\d \d\d:\d\d `127\.0\.3\.0\/28` in lo: 14 alive · 0 TCP only · 0 prohibited · 0 unreachable · 0 silent, by <@U0ONCALL>$/);
  });

  it('starts one sweep however often Slack retries the same request', TIMEOUT, async () => {
    await fresh();
    const fields = commandFields('127.0.0.0/28', { response_url: slack.responseUrl() });
    const first = await postSigned(bot.eventsUrl, fields);
    const retry = await postSigned(bot.eventsUrl, fields, { headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } });
    assert.equal(first.status, 200);
    assert.equal(retry.status, 200);
    await slack.waitFor('the report', () => threadReplies()[0]);
    await quietFor(1000);
    assert.equal(parents().length, 1);
    assert.equal(threadReplies().length, 1);
  });

  it('delivers through response_url, with how to invite the bot, where it cannot post', TIMEOUT, async () => {
    await fresh();
    slack.failNext('chat.postMessage', { error: 'not_in_channel' });
    const responseUrl = slack.responseUrl();
    const ack = await postSigned(bot.eventsUrl, commandFields('127.0.0.0/28', { channel_id: 'G0PRIVATE', response_url: responseUrl }));
    assert.match(ack.body, /Sweeping/);
    const delivered = await slack.waitFor('the report by response_url', () => slack.responsesTo(responseUrl)[0]);
    assert.equal(delivered.response_type, 'ephemeral');
    const blocks = delivered.blocks as Block[];
    assert.match(allText(blocks), /invite me: `\/invite @ZenSweep`/);
    assert.match(allText(blocks), /\*14 alive\* · /);
    assert.deepEqual(threadReplies(), []);
    assert.deepEqual(slack.violations, []);
  });

  it('still posts the report exactly once when Slack answers 429 (honouring Retry-After) and 5xx', TIMEOUT, async () => {
    await fresh();
    const ack = await command('127.0.0.0/28');
    assert.match(ack.body, /Sweeping/);
    await slack.waitFor('the parent', () => parents()[0]);
    slack.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    slack.failNext('chat.postMessage', { status: 503 });
    const reply = await slack.waitFor('the report', () => threadReplies()[0]);
    const failed = slack.callsOf('chat.postMessage!failed');
    assert.equal(failed.length, 2, 'both failures were met');
    assert.ok(reply);
    await quietFor(1500);
    assert.equal(threadReplies().length, 1);
  });

  it('delivers the report once after the bot restarts in the middle of a sweep', TIMEOUT, async () => {
    await fresh();
    const slow = await startAgent({ redisUrl: redis.url, group: 'slow', cidrs: '127.1.0.0/16', rate: 40 });
    try {
      const ack = await command('127.1.0.0/24 retries:0');
      assert.match(ack.body, /Sweeping/);
      await slack.waitFor('the parent', () => parents()[0]);
      assert.equal(await bot.stop(), 0);
      const second = await launch();
      const reply = await slack.waitFor('the report after the restart', () => threadReplies()[0], 90_000);
      assert.match(blocksOf(reply)[0]?.text?.text ?? '', /^\*254 alive/);
      await quietFor(1500);
      assert.equal(threadReplies().length, 1);
      await second.stop();
    } finally {
      await slow.kill();
    }
  });

  it('posts each message of a delivery once when its records in Redis are lost, finding them in Slack by their metadata', TIMEOUT, async () => {
    await fresh();
    const deliveries = new Queue(DELIVERY_QUEUE, { connection: client });
    /**
     * What a failover does to a delivery whose writes the promoted replica never had: its records of what it posted
     * are gone, and the job runs again. Here, with the bot stopped: the records deleted, the job added anew.
     */
    const loseRecords = async (sweepId: string): Promise<void> => {
      assert.equal(await bot.stop(), 0);
      const job = await deliveries.getJob(`deliver-${sweepId}`);
      assert.equal(await job?.getState(), 'completed');
      assert.equal(await client.del(`zensweep:slack:delivered:${sweepId}`), 1);
      await job?.remove();
      await deliveries.add(job?.name ?? 'sweep', job?.data, { jobId: `deliver-${sweepId}`, attempts: job?.opts.attempts ?? 1 });
      bot = await launch();
    };
    const sweepIdOf = (ts: string | undefined): string => {
      const metadata = slack.messages.get('C0PUBLIC')?.find((m) => m.ts === ts)?.metadata as { event_type?: string; event_payload?: { id?: string; step?: string } } | undefined;
      assert.equal(metadata?.event_type, 'zensweep_delivery');
      assert.equal(metadata.event_payload?.step, 'posted');
      return metadata.event_payload.id ?? '';
    };
    try {
      assert.match((await command('127.0.0.0/28')).body, /Sweeping/);
      await slack.waitFor('the files in the thread', () => slack.callsOf('files.completeUploadExternal')[0]);
      const [parent] = parents();
      const sweepId = sweepIdOf(parent?.ts);
      await until('the delivery ended', async () => (await deliveries.getJob(`deliver-${sweepId}`))?.finishedOn !== undefined);
      // A fresh delivery looks in Slack once, for its parent: what follows a message it posted itself cannot be there.
      assert.deepEqual([slack.callsOf('conversations.history').length, slack.callsOf('conversations.replies').length], [1, 0]);
      const recorded = await client.hgetall(`zensweep:slack:delivered:${sweepId}`);
      assert.equal(recorded.posted, parent?.ts);
      assert.equal(recorded.report, threadReplies()[0]?.ts);

      await loseRecords(sweepId);
      await until('the delivery ended again', async () => (await deliveries.getJob(`deliver-${sweepId}`))?.finishedOn !== undefined, { show: () => bot.log() });
      // Nothing posted twice: each step found in Slack, and recorded again as it was.
      assert.equal(parents().length, 1);
      assert.equal(threadReplies().length, 1);
      assert.equal(slack.callsOf('files.completeUploadExternal').length, 1);
      assert.deepEqual(await client.hgetall(`zensweep:slack:delivered:${sweepId}`), recorded);
      const found = bot.log().split('\n').filter((l) => l.includes('"delivery_found_posted"')).map((l) => (JSON.parse(l) as { step: string }).step);
      assert.deepEqual(found, ['posted', 'report', 'files'], bot.log());
      assert.ok(slack.callsOf('conversations.history').every((c) => c.args.channel === 'C0PUBLIC'));

      // A token without the history scopes: said once, in one line naming them, and the delivery goes on as before
      // (a record lost then means a message posted again).
      slack.historyScopes = false;
      await loseRecords(sweepId);
      await until('the delivery ended a third time', async () => (await deliveries.getJob(`deliver-${sweepId}`))?.finishedOn !== undefined, { show: () => bot.log() });
      const unreadable = bot.log().split('\n').filter((l) => l.includes('"history_unreadable"'));
      assert.equal(unreadable.length, 1, bot.log());
      assert.match(unreadable[0] ?? '', /it needs channels:history, groups:history, im:history, mpim:history/);
      assert.equal(parents().length, 2, 'posted again, as the warning says');
      assert.deepEqual(slack.violations, []);
    } finally {
      await deliveries.close();
    }
  });

  it('runs the buttons: Cancel, Save as baseline, Re-run, Show all N and the older Show silent hosts', TIMEOUT, async () => {
    await fresh();
    const slow = await startAgent({ redisUrl: redis.url, group: 'slow', cidrs: '127.1.0.0/16', rate: 20 });
    try {
      await command('127.1.0.0/24 retries:0');
      const parent = await slack.waitFor('the parent', () => parents()[0]);
      const sweepId = blocksOf(parent).flatMap((b) => b.elements ?? []).find((e) => e.action_id === ACTIONS.cancel)?.value ?? '';
      // Live progress on the parent: a bar, done/total and alive so far, the Cancel button kept.
      const progress = await slack.waitFor('a progress edit', () =>
        slack.callsOf('chat.update').find((c) => /`[█░]{20}` \d+\/254 · \d+ alive/.test(allText(blocksOf(c)))),
      );
      assert.equal(progress.args.ts, parent.ts);
      assert.ok(blocksOf(progress).some((b) => b.elements?.some((e) => e.action_id === ACTIONS.cancel)));
      const cancelUrl = slack.responseUrl();
      const cancel = await postSigned(bot.eventsUrl, actionFields(ACTIONS.cancel, sweepId, cancelUrl));
      assert.equal(cancel.status, 200);
      const reply = await slack.waitFor('the cancelled report', () => threadReplies()[0]);
      assert.match(allText(blocksOf(reply)), /Partial: \d+ of 254 addresses probed before it was cancelled\./);
      assert.match(String(slack.responsesTo(cancelUrl)[0]?.text), /Cancelling/);
    } finally {
      await slow.kill();
    }

    slack.calls.length = 0;
    await command('127.0.0.0/28 timeout:200 retries:0 tcp:1');
    const report = await slack.waitFor('the report', () => threadReplies()[0]);
    const buttons = blocksOf(report).at(-1)?.elements ?? [];
    const value = (id: string): string => buttons.find((e) => e.action_id === id)?.value ?? '';

    const saveUrl = slack.responseUrl();
    await postSigned(bot.eventsUrl, actionFields(ACTIONS.saveBaseline, value(ACTIONS.saveBaseline), saveUrl));
    const saved = await slack.waitFor('the save answer', () => slack.responsesTo(saveUrl)[0]);
    assert.match(String(saved.text), /Saved as baseline `base-127\.0\.0\.0-28`\. Compare later with `\/sweep 127\.0\.0\.0\/28 compare:base-127\.0\.0\.0-28`/);
    const compared = await command('127.0.0.0/28 compare:base-127.0.0.0-28');
    assert.match(compared.body, /Sweeping/);
    const second = await slack.waitFor('the compared report', () => threadReplies()[1]);
    assert.match(allText(blocksOf(second)), /\*Against baseline base-127\.0\.0\.0-28, \d\d:\d\d UTC:\* no change in 14 hosts/);

    const rerunUrl = slack.responseUrl();
    await postSigned(bot.eventsUrl, actionFields(ACTIONS.rerun, value(ACTIONS.rerun), rerunUrl));
    await slack.waitFor('the re-run report', () => threadReplies()[2]);
    assert.match(String(slack.responsesTo(rerunUrl)[0]?.text), /Sweeping `127\.0\.0\.0\/28 tcp:1 timeout:200 retries:0` in lo/);
    assert.match(allText(blocksOf(threadReplies()[2])), /\*Since \d\d:\d\d UTC( \(\d+ min ago\))?:\* no change in 14 hosts/);

    // Loopback has no silent address: the report behind the button is one the agents could have stored.
    const stored = (await new ResultStore(client).loadReport(value(ACTIONS.saveBaseline))) as DistributedReport;
    stored.sweepId = 'silent-test';
    stored.hosts = stored.hosts.map((h, i) => (i >= 2 && i <= 9 ? { ...h, state: 'silent' as const } : h));
    stored.hosts[12] = { ...stored.hosts[12]!, state: 'silent' };
    await new ResultStore(client).saveReport(stored);
    const silentUrl = slack.responseUrl();
    await postSigned(bot.eventsUrl, actionFields(ACTIONS.showSilent, 'silent-test', silentUrl));
    const silent = await slack.waitFor('the silent hosts', () => slack.responsesTo(silentUrl)[0]);
    assert.equal(silent.response_type, 'ephemeral');
    assert.equal(allText(silent.blocks as Block[]), '*Silent (9)*\n127.0.0.3\u2013\u206010, .13');
    // The button of reports since: Show all N of any state cut short.
    const allUrl = slack.responseUrl();
    await postSigned(bot.eventsUrl, actionFields(ACTIONS.showHosts, 'alive:silent-test', allUrl));
    const alive = await slack.waitFor('the alive hosts', () => slack.responsesTo(allUrl)[0]);
    assert.match(allText(alive.blocks as Block[]), /^\*Alive \(5\)\*\n`127\.0\.0\.1` rtt [\d.]+ ms\n`127\.0\.0\.2` rtt /);
    const goneUrl = slack.responseUrl();
    await postSigned(bot.eventsUrl, actionFields(ACTIONS.showSilent, 'no-such-sweep', goneUrl));
    assert.match(String((await slack.waitFor('the answer', () => slack.responsesTo(goneUrl)[0])).text), /older than a day/);
    assert.deepEqual(slack.violations, []);
  });

  it('keeps a /16 report within Block Kit limits with the map and the CSV attached', TIMEOUT, async () => {
    await fresh();
    const idle = await startAgent({ redisUrl: redis.url, group: 'empty', cidrs: '127.2.0.0/16' });
    try {
      await command('127.0.0.0/16 retries:0 rate:0');
      const big = await slack.waitFor('the /16 report', () => threadReplies()[0], 90_000);
      assert.match(blocksOf(big)[0]?.text?.text ?? '', /^\*65,534 alive\* · /);
      assert.ok(blocksOf(big).length <= 50);
      const upload = await slack.waitFor('the /16 map and CSV', () => slack.callsOf('files.completeUploadExternal')[0], 30_000);
      // A /16 is drawn as an overview, one square per /24.
      assert.equal(upload.args.initial_comment, '🟩 65,534 alive · a square: a /24, its best state');
      const csv = [...slack.uploads.values()].find((f) => f.startsWith('ip,')) ?? '';
      assert.equal(csv.trim().split('\n').length, 65_535);
      assert.deepEqual(slack.violations, []);
    } finally {
      await idle.kill();
    }
  });

  /**
   * `vpc:all` (and a /8) from a channel limited to a /28: the policy's reason alone, privately, before any size or
   * planning answer; nothing posted, nothing enqueued, the refusal audited.
   */
  async function restrictedVpcAll(): Promise<void> {
    // Every sweep has a part job per group, added when it starts. Other sweeps of this test are still starting and
    // delivering (their flows enqueued by their deliveries, after the ack): what counts is no sweep of this user.
    const parts = new Queue(partQueueName('lo'), { connection: client });
    const jobs = async (): Promise<number> =>
      (await parts.getJobs()).filter((job) => (job.data as { report?: { requestedBy?: string } }).report?.requestedBy === 'U0FIFTH').length;
    const posted = (): SlackCall[] => parents().filter((c) => c.args.channel === 'C0SMALL' || /U0FIFTH/.test(String(c.args.text)));
    assert.equal(await jobs(), 0);
    for (const text of ['vpc:all', 'vpc:all tcp:22 count:3', '127.0.0.0/8']) {
      const ack = await command(text, { channel_id: 'C0SMALL', user_id: 'U0FIFTH' });
      const body = JSON.parse(ack.body) as { response_type: string; text: string };
      assert.equal(body.response_type, 'ephemeral', text);
      assert.match(body.text, /^:warning: this channel may sweep only any group within 127\.0\.0\.0\/28\n/, text);
      assert.doesNotMatch(body.text, /covers|addresses|agent|lo\b/, text);
      // Other sweeps of this test still write their deliveries: the newest entry of this user is the one.
      const entry = (await new AuditTrail(client, pino({ level: 'silent' })).recent(50)).find((e) => e.user === 'U0FIFTH');
      assert.deepEqual([entry?.user, entry?.channel, entry?.outcome, entry?.reason], ['U0FIFTH', 'C0SMALL', 'refused', 'this channel may sweep only any group within 127.0.0.0/28']);
    }
    await quietFor(500);
    assert.deepEqual(posted(), [], 'nothing posted');
    assert.equal(await jobs(), 0, 'nothing enqueued');
    await parts.close();
  }

  it('skips bad records in Redis with one log line each, and keeps answering', TIMEOUT, async () => {
    await fresh();
    await command('127.0.4.0/28');
    await slack.waitFor('the report', () => threadReplies()[0]);
    const sweepId = blocksOf(parents()[0]).flatMap((b) => b.elements ?? []).find((e) => e.action_id === ACTIONS.cancel)?.value ?? '';
    /** The bot's bad_record lines so far, once there are `count` (its log reaches us a moment after its answers). */
    const badRecords = async (count: number): Promise<unknown[][]> => {
      const lines = (): unknown[][] =>
        bot
          .log()
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .filter((event) => event.event === 'bad_record')
          .map((event) => [event.what, event.key, event.reason]);
      await until(`${count} bad_record lines from the bot`, () => lines().length >= count, { timeoutMs: 10_000, show: lines });
      return lines();
    };
    const later = Date.now() + 60_000;
    await client.set('zensweep:{history}:sweep:bot-garbage', 'hunter2-planted');
    await client.zadd('zensweep:{history}:all', later, 'bot-garbage');
    await client.zadd(`zensweep:{history}:target:${targetKey(['127.0.4.0/28'])}`, later, 'bot-garbage');
    await client.set('zensweep:{agents}:agent:lo:bogus', JSON.stringify({ group: 'lo', id: 'bogus', cidrs: 'hunter2-planted' }), 'EX', 60);
    await client.set('zensweep:report:{sweep-reports}:bogus', gzipSync(JSON.stringify({ sweepId: 'bogus', hosts: 'hunter2-planted' })), 'EX', 60);
    const heartbeat = ['agent heartbeat', 'zensweep:{agents}:agent:lo:bogus', 'cidrs: Invalid input: expected array, received string'];
    try {
      const history = JSON.parse((await command('history 127.0.4.0/28')).body) as { text: string };
      assert.match(history.text, /^• \d{4}-\d\d-\d\d \d\d:\d\d `127\.0\.4\.0\/28` in lo: 14 alive .*, by <@U0ONCALL>$/);
      const garbage = ['history record', 'zensweep:{history}:sweep:bot-garbage', 'not JSON'];
      assert.deepEqual(await badRecords(1), [garbage]);

      const agents = JSON.parse((await command('agents')).body) as { text: string };
      assert.match(agents.text, new RegExp(`\\*lo\\*\\n• \`${agent.id}\` 127\\.0\\.0\\.0/16 · ICMP\\+TCP`));
      assert.doesNotMatch(agents.text, /bogus/);
      assert.deepEqual(await badRecords(2), [garbage, heartbeat]);

      const silentUrl = slack.responseUrl();
      await postSigned(bot.eventsUrl, actionFields(ACTIONS.showSilent, 'bogus', silentUrl));
      assert.match(String((await slack.waitFor('the answer', () => slack.responsesTo(silentUrl)[0])).text), /older than a day/);
      const report = ['report', 'zensweep:report:{sweep-reports}:bogus', 'targets: Invalid input: expected array, received undefined'];
      assert.deepEqual(await badRecords(3), [garbage, heartbeat, report]);

      // Deliveries: job data of the wrong shape, and a response_url that is not one, fail for good with the reason.
      const url = ['response_url', `zensweep:slack:response:${sweepId}`, 'record: Invalid URL'];
      const deliveries = new Queue(DELIVERY_QUEUE, { connection: client });
      try {
        await client.hdel(`zensweep:slack:delivered:${sweepId}`, 'report');
        await client.set(`zensweep:slack:response:${sweepId}`, 'javascript:hunter2-planted', 'EX', 60);
        const header = { user: 'U0ONCALL', text: '127.0.4.0/28', groups: ['lo'], addresses: 14 };
        const badUrl = await deliveries.add('deliver', { v: 1, sweepId, channel: 'C0PUBLIC', header }, { jobId: 'bad-url' });
        const badData = await deliveries.add('deliver', { v: 1, sweepId: 'x', header: { user: 7 } }, { jobId: 'bad-data' });
        const failedReason = async (id: string): Promise<string | undefined> =>
          (await deliveries.getJobState(id)) === 'failed' ? (await deliveries.getJob(id))?.failedReason : undefined;
        const bothReasons = async (): Promise<(string | undefined)[]> => [await failedReason(badUrl.id ?? ''), await failedReason(badData.id ?? '')];
        const reasons = await waitFor(
          'both deliveries to fail',
          async () => {
            const both = await bothReasons();
            return both.every(Boolean) ? both : undefined;
          },
          { timeoutMs: 30_000, show: bothReasons },
        );
        assert.deepEqual(reasons, [
          'the response_url of this request has expired or is unreadable: the answer is in the history only',
          'bad delivery job data: channel: Invalid input: expected string, received undefined',
        ]);
        assert.deepEqual(await badRecords(4), [garbage, heartbeat, report, url]);
      } finally {
        await deliveries.close();
      }

      // Still serving: a sweep is planned (past the bad heartbeat, one line more) and its report delivered.
      assert.match((await command('127.0.5.0/28')).body, /Sweeping/);
      await slack.waitFor('the next report', () => threadReplies()[1]);
      assert.deepEqual(await badRecords(5), [garbage, heartbeat, report, url, heartbeat]);
      assert.doesNotMatch(bot.log(), /hunter2/);
    } finally {
      await client.del('zensweep:{history}:sweep:bot-garbage', 'zensweep:{agents}:agent:lo:bogus', 'zensweep:report:{sweep-reports}:bogus');
    }
  });

  it('limits concurrent sweeps per user and applies the policy by channel, user and user group', TIMEOUT, async () => {
    const policy = JSON.stringify({
      rules: [
        { channels: ['C0PUBLIC'], groups: ['*'] },
        { channels: ['C0SMALL'], cidrs: ['127.0.0.0/28'] },
        { channels: ['C0NET'], usergroups: ['S0NETOPS'] },
      ],
    });
    await fresh({ ZENSWEEP_MAX_SWEEPS_PER_USER: '1', ZENSWEEP_POLICY: policy });
    slack.usergroups.set('S0NETOPS', ['U0NETENG']);
    const member = await command('127.0.0.0/28', { channel_id: 'C0NET', user_id: 'U0NETENG' });
    assert.match(member.body, /Sweeping/);
    const outsider = await command('127.0.0.0/28', { channel_id: 'C0NET', user_id: 'U0OUTSIDER' });
    assert.match(outsider.body, /no sweep is allowed from this channel for you/);
    const slow = await startAgent({ redisUrl: redis.url, group: 'slow', cidrs: '127.1.0.0/16', rate: 20 });
    try {
      const first = await command('127.1.0.0/24 retries:0');
      assert.match(first.body, /Sweeping/);
      const second = await command('127.0.0.0/28');
      assert.match(second.body, /you already have 1 request running \(sweeps, traces and diags; at most 1\)/);
      const other = await command('127.0.0.0/28', { user_id: 'U0OTHER' });
      assert.match(other.body, /Sweeping/);
    } finally {
      await slow.kill();
    }
    const small = await command('127.0.0.0/24', { channel_id: 'C0SMALL', user_id: 'U0THIRD' });
    assert.match(small.body, /this channel may sweep only any group within 127\.0\.0\.0\/28/);
    await restrictedVpcAll();
    const fine = await command('127.0.0.0/28', { channel_id: 'C0SMALL', user_id: 'U0THIRD' });
    assert.match(fine.body, /Sweeping/);
    const elsewhere = await command('127.0.0.0/28', { channel_id: 'C0OTHER', user_id: 'U0FOURTH' });
    assert.match(elsewhere.body, /no sweep is allowed from this channel for you/);
  });
});

describe('zensweep bot (Socket Mode)', () => {
  it('connects through apps.connections.open, acks the command over the socket and posts the report', TIMEOUT, async () => {
    assertRoot();
    const redis = await startRedis();
    const slack = await FakeSlack.start();
    const agent = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/16' });
    const bot = await startBot({ redisUrl: redis.url, slack, socketMode: true });
    try {
      const fields = commandFields('127.0.0.0/28 tcp:1', { response_url: slack.responseUrl() });
      const ack = (await slack.sendEnvelope('slash_commands', fields)) as { response_type: string; text: string };
      assert.equal(ack.response_type, 'ephemeral');
      assert.match(ack.text, /^Sweeping `127\.0\.0\.0\/28 tcp:1` in lo/);
      const reply = await slack.waitFor('the report', () =>
        slack.callsOf('chat.postMessage').find((c) => c.args.thread_ts !== undefined),
      );
      assert.match(blocksOf(reply)[0]?.text?.text ?? '', /^\*14 alive\* · /);
      assert.equal(slack.callsOf('apps.connections.open').length >= 1, true);
      assert.deepEqual(slack.badTokens, []);
      assert.deepEqual(slack.violations, []);
    } finally {
      await bot.stop();
      await agent.kill();
      await slack.close();
      await redis.destroy();
    }
    assert.doesNotMatch(bot.log(), new RegExp(`${BOT_TOKEN}|${APP_TOKEN}`));
  });
});

describe('zensweep bot configuration', () => {
  it('refuses a bad environment in one line, exit 2, naming the variable and never a secret', async () => {
    const { zensweep } = await import('../support/cli.js');
    const base = { PATH: process.env.PATH, REDIS_URL: 'redis://127.0.0.1:1', SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: 's3cr3t' };
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{ ...base, SLACK_BOT_TOKEN: undefined }, /^zensweep: SLACK_BOT_TOKEN is required/],
      [{ ...base, SLACK_BOT_TOKEN: 'xoxp-user-token-secret' }, /^zensweep: SLACK_BOT_TOKEN must be a bot token/],
      [{ ...base, SLACK_SIGNING_SECRET: undefined }, /^zensweep: SLACK_SIGNING_SECRET is required in HTTP mode/],
      [{ ...base, SLACK_APP_TOKEN: 'nope-secret' }, /^zensweep: SLACK_APP_TOKEN must be an app-level token/],
      [{ ...base, ZENSWEEP_POLICY: '{"rules":[{"channels":["nope"]}]}' }, /^zensweep: ZENSWEEP_POLICY: rules\.0\.channels\.0 /],
      [{ ...base, PORT: 'http' }, /^zensweep: PORT must be a port number/],
    ];
    for (const [env, expected] of cases) {
      const result = await zensweep(['bot'], { env, timeoutMs: 10_000 });
      assert.equal(result.code, 2, `${JSON.stringify(env)}: ${result.stderr}`);
      assert.match(result.stderr, expected);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
      assert.doesNotMatch(result.stderr, /secret|xoxb-test/);
    }
  });
});
