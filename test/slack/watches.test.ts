/**
 * Watches end to end: a real bot process, real agents probing loopback, a real redis-server, the fake Slack. The
 * watched state is flipped for real: TCP listeners on loopback addresses that the test opens and closes (loopback
 * always answers ping, so the port's state is what changes), and agent processes that are killed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { partQueueName } from '../../src/queue/names.js';
import { ResultStore } from '../../src/queue/results.js';
import { WATCH_QUEUE, WatchStore, type WatchRecord } from '../../src/queue/watch-store.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { commandFields, freePort, postSigned, startBot, type BotProcess } from '../support/bot.js';
import { FakeSlack, type SlackCall } from '../support/fake-slack.js';
import { scrape, valueOf } from '../support/metrics.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { Listener } from '../support/loopback-ports.js';
import { until, waitFor } from '../support/wait.js';

const TIMEOUT = { timeout: 240_000 };
/** Watches here may run every second; a run waits 8 s at most for its report. */
const WATCH_ENV = { ZENSWEEP_WATCH_MIN_INTERVAL_MS: '1000', ZENSWEEP_WATCH_RUN_TIMEOUT_MS: '8000', ZENSWEEP_WATCH_MAX_PER_CHANNEL: '20' };


interface Block {
  type: string;
  text?: { text: string };
  elements?: { text?: string }[];
}

function textOf(call: SlackCall): string {
  const blocks = (call.args.blocks as Block[] | undefined) ?? [];
  return [String(call.args.text ?? ''), ...blocks.map((b) => [b.text?.text ?? '', ...(b.elements ?? []).map((e) => e.text ?? '')].join('\n'))].join('\n');
}

describe('/sweep watch (real bot, agents and redis-server, fake Slack)', () => {
  let redis: RedisServer;
  let client: Redis;
  let queue: Queue;
  let store: WatchStore;
  let slack: FakeSlack;
  let agent: AgentProcess;
  let bot: BotProcess;
  let port: number;
  let metricsPort: number;
  const botEnv = (): NodeJS.ProcessEnv => ({ ...WATCH_ENV, METRICS_PORT: String(metricsPort) });
  /**
   * Starts the bot again (after a stop), on a fresh metrics port: the last one may have been taken meanwhile, e.g.
   * as the local port of some outgoing connection on this busy machine.
   */
  const restartBot = async (env: NodeJS.ProcessEnv = {}): Promise<BotProcess> => {
    metricsPort = await freePort();
    return startBot({ redisUrl: redis.url, slack, env: { ...botEnv(), ...env } });
  };
  const listeners: Listener[] = [];
  const extraAgents: AgentProcess[] = [];

  const command = async (text: string, overrides: Record<string, string> = {}): Promise<string> => {
    const answer = await postSigned(bot.eventsUrl, commandFields(text, { response_url: slack.responseUrl(), ...overrides }));
    assert.equal(answer.status, 200, answer.body);
    return (JSON.parse(answer.body) as { text: string }).text;
  };
  const listener = async (host: string): Promise<Listener> => {
    const made = new Listener(host, port);
    listeners.push(made);
    await made.open();
    return made;
  };
  /** Creates a watch (in C0PUBLIC unless `overrides` say where) and waits for its first run (its baseline). */
  const watch = async (text: string, overrides: Record<string, string> = {}): Promise<WatchRecord> => {
    const ack = await command(`watch ${text}`, overrides);
    const id = /\(id `(w[0-9a-f]{6})`\)/.exec(ack)?.[1];
    assert.ok(id, ack);
    return waitFor(`the first run of ${id}`, async () => {
      const record = await store.get(id);
      return record?.state !== undefined ? record : undefined;
    });
  };
  /** Waits for `count` more runs of a watch to finish; resolves with the record after the last. */
  const runs = async (id: string, count = 1): Promise<WatchRecord> => {
    let record = await store.get(id);
    for (let i = 0; i < count; i += 1) {
      const last = record?.lastRun?.at;
      await until(`run ${i + 1} of ${count} of ${id}`, async () => {
        record = await store.get(id);
        return record?.lastRun?.at !== last;
      });
    }
    return record as WatchRecord;
  };
  /** Waits for `count` more runs that each swept (a new sweep id every time); resolves with their sweep ids. */
  const sweeps = async (id: string, count: number): Promise<string[]> => {
    const seen: string[] = [];
    let last = (await store.get(id))?.lastRun?.sweepId;
    while (seen.length < count) {
      await until(`sweep ${seen.length + 1} of ${count} of ${id}`, async () => {
        const now = (await store.get(id))?.lastRun?.sweepId;
        if (now === undefined || now === last) return false;
        last = now;
        return true;
      });
      seen.push(last ?? '');
    }
    return seen;
  };
  /** The bot's log events of this name (this bot process only). */
  const botEvents = (name: string): Record<string, unknown>[] =>
    bot
      .log()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((event) => event.event === name);
  /** Messages of this watch: channel messages (alerts, notices) and replies in a thread. */
  const posted = (record: WatchRecord): { channel: SlackCall[]; replies: SlackCall[] } => {
    const mine = slack.callsOf('chat.postMessage').filter((c) => textOf(c).includes(record.id) && c.args.channel === record.channel);
    return { channel: mine.filter((c) => c.args.thread_ts === undefined), replies: mine.filter((c) => c.args.thread_ts !== undefined) };
  };

  before(async () => {
    assertRoot();
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    queue = new Queue(WATCH_QUEUE, { connection: client });
    store = new WatchStore(client, queue);
    slack = await FakeSlack.start();
    port = await freePort();
    metricsPort = await freePort();
    agent = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/16' });
    bot = await startBot({ redisUrl: redis.url, slack, env: botEnv() });
  });

  after(async () => {
    await bot?.stop();
    await Promise.all([agent, ...extraAgents].map((a) => a?.kill()));
    await Promise.all(listeners.map((l) => l.close()));
    await queue?.close();
    client?.disconnect();
    await slack?.close();
    await redis?.destroy();
    assert.deepEqual(slack?.violations ?? [], [], 'every message within Block Kit limits');
  });

  it('refuses bad watch commands privately and creates nothing', TIMEOUT, async () => {
    assert.match(await command('watch 127.0.5.0/28 every:500ms'), /is not a valid interval/);
    assert.match(await command('watch 127.0.5.0/28 every:1m confirm:11'), /confirm takes/);
    assert.match(await command('unwatch w000000'), /there is no watch w000000 in this channel/);
    assert.match(await command('mute w000000 1h'), /there is no watch w000000 in this channel/);
    assert.match(await command('watch 198.18.0.0/28'), /no live agent covers 198\.18\.0\.1-198\.18\.0\.14/);
    assert.match(await command('watches'), /^No watch in this channel/);
    assert.equal(await queue.getJobSchedulersCount(), 0);
  });

  it('alerts once for a confirmed change of two hosts, ignores a blip, and resolves in the alert’s thread', TIMEOUT, async () => {
    const a = await listener('127.0.5.10');
    const b = await listener('127.0.5.11');
    const record = await watch(`127.0.5.10-11 tcp:${port} every:2s`);
    assert.deepEqual(record.state?.baseline, { '127.0.5.10': `alive ${port}/open`, '127.0.5.11': `alive ${port}/open` });
    const list = await command('watches');
    assert.match(list, new RegExp(`• \`${record.id}\` \`127\\.0\\.5\\.10-11 tcp:${port}\` every 2s, confirm 2 · by <@U0ONCALL>\\n {4}last run \\d+ s ago: 2 alive`));

    // A blip: one run sees it, the next does not. Nothing is said.
    await a.close();
    await runs(record.id);
    await a.open();
    await runs(record.id, 3);
    assert.deepEqual(posted(record), { channel: [], replies: [] });

    // Both hosts change together and stay so: one alert, naming both.
    await Promise.all([a.close(), b.close()]);
    const alert = await slack.waitFor('the alert', () => posted(record).channel[0]);
    assert.match(String(alert.args.text), new RegExp(`^:rotating_light: 127\\.0\\.5\\.10-11 tcp:${port}: 127\\.0\\.5\\.10-11 ${port}/tcp open → closed$`));
    await runs(record.id, 3);
    assert.equal(posted(record).channel.length, 1, 'one alert, however long the change lasts');
    assert.equal(posted(record).replies.length, 0);
    assert.match(await command('watches'), /incident open since/);

    // Back: one reply in the alert's thread, and the alert marked resolved.
    await Promise.all([a.open(), b.open()]);
    const reply = await slack.waitFor('the recovery', () => posted(record).replies[0]);
    assert.equal(reply.args.thread_ts, alert.ts);
    assert.match(String(reply.args.text), /^:white_check_mark: Resolved after \d+ s: every host is back as it was\.$/);
    // The reply is posted first, the alert edited right after: wait for the edit rather than race it.
    const edit = await slack.waitFor('the alert edited', () => slack.callsOf('chat.update').find((c) => c.args.ts === alert.ts));
    assert.match(textOf(edit), /\*Resolved\* after \d+ s/);
    await runs(record.id, 3);
    assert.equal(posted(record).channel.length, 1);
    assert.equal(posted(record).replies.length, 1);

    // Each run is a sweep like any other: in the history of its targets, by whoever made the watch.
    const history = await command('history 127.0.5.10-11');
    assert.match(history, /`127\.0\.5\.10-11` in lo: 2 alive .*by <@U0ONCALL>/);

    // The bot's metrics saw the same (this is the first watch of this bot process).
    const samples = await scrape(metricsPort);
    assert.equal(valueOf(samples, 'zensweep_watch_alerts_total', { kind: 'alert' }), 1);
    assert.equal(valueOf(samples, 'zensweep_watch_alerts_total', { kind: 'resolved' }), 1);
    assert.equal(valueOf(samples, 'zensweep_watch_alerts_total', { kind: 'update' }), 0);
    assert.ok((valueOf(samples, 'zensweep_watch_runs_total', { outcome: 'changed' }) ?? 0) >= 2);
    const runsCounted = valueOf(samples, 'zensweep_watch_runs_total', { outcome: 'unchanged' }) ?? 0;
    assert.ok(runsCounted >= 6, `${runsCounted} unchanged runs`);
    assert.ok((valueOf(samples, 'zensweep_sweeps_started_total') ?? 0) >= runsCounted);
  });

  it('reports a flapping host once, and nothing more while it flaps', TIMEOUT, async () => {
    const a = await listener('127.0.5.20');
    const record = await watch(`127.0.5.20 tcp:${port} every:2s`);
    // Flagged at its fourth move away (the seventh flip); three more flips after it.
    for (let i = 0; i < 10; i += 1) {
      await (i % 2 === 0 ? a.close() : a.open());
      await runs(record.id);
    }
    const { channel, replies } = posted(record);
    assert.equal(channel.length, 1, channel.map(textOf).join('\n---\n'));
    assert.match(textOf(channel[0] as SlackCall), /127\.0\.5\.20 is flapping: 4 changes in the last 10 runs/);
    assert.deepEqual(replies, []);
    assert.doesNotMatch(textOf(channel[0] as SlackCall), /→/, 'no change reported one by one');
    assert.deepEqual((await store.get(record.id))?.state?.flapping, ['127.0.5.20']);
  });

  it('carries on after the bot restarts, without a second alert', TIMEOUT, async () => {
    const a = await listener('127.0.5.30');
    const record = await watch(`127.0.5.30 tcp:${port} every:2s`);
    await a.close();
    // One run has seen the change (not yet confirmed) when the bot stops.
    const seen = await runs(record.id);
    assert.equal(seen.state?.pending['127.0.5.30']?.runs, 1);
    assert.equal(await bot.stop(), 0);
    bot = await restartBot();
    const alert = await slack.waitFor('the alert after the restart', () => posted(record).channel[0]);
    assert.match(String(alert.args.text), new RegExp(`127\\.0\\.5\\.30 ${port}/tcp open → closed`));
    const later = await runs(record.id, 3);
    assert.ok((later.state?.runs ?? 0) >= 4, 'the schedule went on');
    assert.equal(posted(record).channel.length, 1, 'exactly one alert');
    assert.equal((await queue.getJobSchedulers()).filter((s) => s.key === record.id || s.id === record.id).length, 1);
  });

  it('says once that its agents are gone, never that the hosts went silent, and once that they are back', TIMEOUT, async () => {
    const far = await startAgent({ redisUrl: redis.url, group: 'far', cidrs: '127.0.6.0/24' });
    extraAgents.push(far);
    await listener('127.0.6.10');
    const record = await watch(`127.0.6.10 tcp:${port} vpc:far every:2s`);
    assert.deepEqual(record.groups, ['far']);
    await far.kill();
    const paused = await slack.waitFor('the paused notice', () => posted(record).channel[0], 90_000);
    assert.match(String(paused.args.text), /^:double_vertical_bar: 127\.0\.6\.10 tcp:\d+ vpc:far: no agent of far is alive; watch paused/);
    await runs(record.id, 3);
    assert.equal(posted(record).channel.length, 1, 'said once');
    assert.equal((await store.get(record.id))?.lastRun?.outcome, 'paused');

    const back = await startAgent({ redisUrl: redis.url, group: 'far', cidrs: '127.0.6.0/24' });
    extraAgents.push(back);
    const resumed = await slack.waitFor('the resumed notice', () => posted(record).channel[1], 60_000);
    assert.match(String(resumed.args.text), /far has a live agent again; watch resumed/);
    await runs(record.id, 3);
    const all = posted(record);
    assert.equal(all.channel.length, 2, all.channel.map(textOf).join('\n---\n'));
    assert.deepEqual(all.replies, []);
    assert.ok(!all.channel.some((c) => /silent|→/.test(textOf(c))), 'no host was reported for its agent being gone');
  });

  it('says nothing while muted, then alerts once the mute has ended', TIMEOUT, async () => {
    const a = await listener('127.0.5.40');
    const record = await watch(`127.0.5.40 tcp:${port} every:1s`);
    assert.match(await command(`mute ${record.id} 8s`), new RegExp(`^Muted \`${record.id}\``));
    const mutedAt = Date.now();
    await a.close();
    // Three of the watch's turns (every:1s) pass while it is muted, each passed over (the bot counts them): the change
    // is there to be seen, and nothing is said of it.
    const mutedTurns = async (): Promise<number> => valueOf(await scrape(metricsPort), 'zensweep_watch_runs_total', { outcome: 'muted' }) ?? 0;
    const turnsBefore = await mutedTurns();
    await until('three muted turns of the watch', async () => (await mutedTurns()) >= turnsBefore + 3);
    assert.ok(Date.now() - mutedAt < 8000, 'the three turns took the whole mute: this check saw nothing');
    assert.deepEqual(posted(record).channel, [], 'nothing while muted');
    const alert = await slack.waitFor('the alert after the mute', () => posted(record).channel[0]);
    assert.ok(Date.now() - mutedAt >= 8000, 'not before the mute ended');
    assert.match(String(alert.args.text), new RegExp(`127\\.0\\.5\\.40 ${port}/tcp open → closed`));
  });

  it('stops running once unwatched', TIMEOUT, async () => {
    await listener('127.0.5.50');
    const record = await watch(`127.0.5.50 tcp:${port} every:1s`);
    assert.match(await command(`unwatch ${record.id}`), new RegExp(`^Stopped watching \`127\\.0\\.5\\.50 tcp:${port}\` \\(\`${record.id}\`\\)`));
    assert.equal(await store.get(record.id), undefined);
    assert.ok(!(await queue.getJobSchedulers()).some((s) => s.key === record.id || s.id === record.id));
    assert.doesNotMatch(await command('watches'), new RegExp(record.id));
  });

  it('says the end of an incident anew when its alert was deleted (edit or thread gone), and sweeps on', TIMEOUT, async () => {
    const where = { channel_id: 'C0DELETED' };
    const a = await listener('127.0.5.80');
    const b = await listener('127.0.5.81');
    const record = await watch(`127.0.5.80-81 tcp:${port} every:1s confirm:1`, where);
    const inChannel = (args: Record<string, unknown>): boolean => args.channel === 'C0DELETED';
    const alerts = (): SlackCall[] => posted(record).channel.filter((c) => /^:rotating_light:/.test(String(c.args.text)));
    const ends = (): SlackCall[] => posted(record).channel.filter((c) => /^:white_check_mark: 127\.0\.5\.80-81 tcp:\d+: resolved after \d+ s/.test(String(c.args.text)));

    // The alert's message is deleted before the incident ends: every edit of it answers message_not_found.
    await a.close();
    const alert = await slack.waitFor('the alert', () => alerts()[0]);
    slack.failNext('chat.update', { error: 'message_not_found' }, 100, (args) => inChannel(args) && args.ts === alert.ts);
    await a.open();
    const resolved = await slack.waitFor('the resolution as a message of its own', () => ends()[0]);
    assert.match(textOf(resolved), /Its alert, of .*, is no longer there: 127\.0\.5\.80-81 tcp:\d+: 127\.0\.5\.80 \d+\/tcp open → closed/);
    // The next runs sweep (a new sweep each), and say nothing more about it: no edit tried again, no reply again.
    const said = posted(record);
    await sweeps(record.id, 3);
    assert.equal(slack.callsOf('chat.update!failed').filter((c) => c.args.ts === alert.ts).length, 1, 'one edit tried');
    assert.deepEqual(posted(record), said, 'the resolution is not said again');
    assert.deepEqual((await store.get(record.id))?.outbox, []);
    slack.clearFailures('chat.update');

    // A later change of an incident whose alert was deleted with its thread: a new alert.
    await b.close();
    const second = await slack.waitFor('the second alert', () => alerts()[1]);
    slack.failNext('chat.postMessage', { error: 'thread_not_found' }, 1, (args) => inChannel(args) && args.thread_ts === second.ts);
    await a.close();
    const third = await slack.waitFor('the change as a new alert', () => alerts()[2]);
    // The new alert says the incident as it stands: .81 closed since the second alert, .80 now.
    assert.match(String(third.args.text), new RegExp(`^:rotating_light: 127\\.0\\.5\\.80-81 tcp:${port}: 127\\.0\\.5\\.80-81 ${port}/tcp open → closed$`));
    // And its end, when that alert's thread is gone too: a message of its own, and no edit tried. (The two hosts may
    // come back in two runs: only the reply saying the incident ended is refused.)
    slack.failNext('chat.postMessage', { error: 'invalid_thread_ts' }, 1, (args) => inChannel(args) && args.thread_ts !== undefined && /^:white_check_mark: Resolved/.test(String(args.text)));
    // Edits that mark the alert ended (a host back in a run of its own edits the living alert, which is there).
    const editsHere = (): number => slack.callsOf('chat.update').filter((c) => c.args.channel === 'C0DELETED' && /Resolved|Settled/.test(String(c.args.text))).length;
    const editsBefore = editsHere();
    await Promise.all([a.open(), b.open()]);
    await slack.waitFor('the second resolution, as a message of its own', () => ends()[1]);
    await sweeps(record.id, 2);
    assert.equal(editsHere(), editsBefore, 'the alert whose thread is gone is not marked ended');
    assert.equal(slack.pendingFailures('chat.postMessage'), 0);
    assert.deepEqual(posted(record).replies.filter((c) => c.args.thread_ts === second.ts), [], 'nothing said in a thread that is gone');
    assert.equal(ends().length, 2);
    await command(`unwatch ${record.id}`, where);
  });

  it('pauses speaking in a channel that is gone, tells its creator once, sweeps on, and speaks again when it can', TIMEOUT, async () => {
    const where = { channel_id: 'C0ARCHIVED' };
    const a = await listener('127.0.5.71');
    const record = await watch(`127.0.5.71 tcp:${port} every:1s confirm:1`, where);
    slack.failNext('chat.postMessage', { error: 'channel_not_found' }, 1000, (args) => args.channel === 'C0ARCHIVED');
    await a.close();
    const dm = await slack.waitFor('the private word to its creator', () =>
      slack.callsOf('chat.postMessage').find((c) => c.args.channel === 'U0ONCALL' && textOf(c).includes(record.id)),
    );
    assert.match(String(dm.args.text), new RegExp(`^:double_vertical_bar: Your watch \`${record.id}\` \\(.*\\) cannot post in <#C0ARCHIVED>: that channel is gone, or I cannot see it \\(channel_not_found\\)`));
    const triedBefore = slack.callsOf('chat.postMessage!failed').filter((c) => c.args.channel === 'C0ARCHIVED').length;
    const swept = await sweeps(record.id, 4);
    assert.equal(new Set(swept).size, 4, 'every run swept');
    const tried = slack.callsOf('chat.postMessage!failed').filter((c) => c.args.channel === 'C0ARCHIVED').length - triedBefore;
    assert.ok(tried >= 1 && tried <= 5, `one try a run at most: ${tried} tries in 4 runs`);
    const paused = await store.get(record.id);
    assert.equal(paused?.cannotPost?.code, 'channel_not_found');
    assert.equal(paused?.outbox[0]?.kind, 'alert', 'what it has to say is kept');
    assert.equal(botEvents('watch_cannot_post').filter((e) => e.watch === record.id).length, 1, 'logged once');
    assert.equal(slack.callsOf('chat.postMessage').filter((c) => c.args.channel === 'U0ONCALL' && textOf(c).includes(record.id)).length, 1, 'told once');
    assert.match(await command('watches', where), /cannot post here since .*\(channel_not_found\): it keeps what it has to say/);

    // The channel is back: the next run says what was kept, and the watch is itself again.
    slack.clearFailures('chat.postMessage');
    const alert = await slack.waitFor('the kept alert', () => posted(record).channel[0]);
    assert.match(String(alert.args.text), new RegExp(`127\\.0\\.5\\.71 ${port}/tcp open → closed`));
    await sweeps(record.id, 1);
    assert.equal((await store.get(record.id))?.cannotPost, undefined);
    assert.equal(botEvents('watch_can_post_again').filter((e) => e.watch === record.id).length, 1);
    await command(`unwatch ${record.id}`, where);
  });

  it('tries a notice through a run of 429s once a run, 10 times at most, drops it with one log line, and sweeps on', TIMEOUT, async () => {
    const where = { channel_id: 'C0RATELIMITED' };
    const a = await listener('127.0.5.72');
    const record = await watch(`127.0.5.72 tcp:${port} every:1s confirm:1`, where);
    slack.failNext('chat.postMessage', { status: 429, retryAfter: 1 }, 12, (args) => args.channel === 'C0RATELIMITED');
    await a.close();
    await until('the alert dropped after 10 tries', () => botEvents('watch_notice_dropped').some((e) => e.watch === record.id), { timeoutMs: 120_000 });
    const dropped = botEvents('watch_notice_dropped').filter((e) => e.watch === record.id);
    assert.deepEqual(dropped.map((e) => [e.kind, e.attempts, e.reason]), [['alert', 10, 'ratelimited']]);
    assert.equal(slack.callsOf('chat.postMessage!failed').filter((c) => c.args.channel === 'C0RATELIMITED').length, 10);
    assert.equal(slack.pendingFailures('chat.postMessage'), 2, 'no more tries than 10');
    const swept = await sweeps(record.id, 2);
    assert.equal(new Set(swept).size, 2);
    const after = await store.get(record.id);
    assert.deepEqual(after?.outbox, []);
    assert.ok(after?.state?.incident, 'the incident is still open, only its alert went unsaid');
    slack.clearFailures('chat.postMessage');
    await command(`unwatch ${record.id}`, where);
  });

  it('lists a watch whose record does not read by its id, runs nothing for it, and removes it with unwatch', TIMEOUT, async () => {
    const where = { channel_id: 'C0BROKEN' };
    await listener('127.0.5.73');
    const record = await watch(`127.0.5.73 tcp:${port} every:1s`, where);
    await client.set(`zensweep:{watches}:watch:${record.id}`, JSON.stringify({ ...record, everyMs: 'often' }));
    const listed = await command('watches', where);
    assert.match(listed, new RegExp(`• \`${record.id}\` cannot be read \\(everyMs: Invalid input: expected number, received string\\): it does not run; \`/sweep unwatch ${record.id}\` removes it`));
    // Its runs say so in one line each and do nothing else.
    await until('a run of the unreadable record', () => botEvents('bad_record').filter((e) => e.key === `zensweep:{watches}:watch:${record.id}`).length >= 3);
    assert.equal((await client.get(`zensweep:{watches}:watch:${record.id}`))?.includes('"often"'), true, 'left as it was until removed');
    const elsewhere = await command(`unwatch ${record.id}`, { channel_id: 'C0OTHER' });
    assert.equal(elsewhere.split('\n')[0], `:warning: there is no watch ${record.id} in this channel: /sweep watches lists them`);
    assert.equal(await command(`unwatch ${record.id}`, where), `Removed the unreadable watch \`${record.id}\`.`);
    assert.equal(await client.exists(`zensweep:{watches}:watch:${record.id}`), 0);
    assert.ok(!(await queue.getJobSchedulers()).some((s) => s.key === record.id));
    assert.match(await command('watches', where), /^No watch in this channel/);
  });

  it('cancels the sweep of a run in progress when the bot stops (SIGTERM)', TIMEOUT, async () => {
    const where = { channel_id: 'C0STOPPING' };
    // Four echoes a second apart: the first run's sweep takes about 4 s.
    const ack = await command('watch 127.0.5.74 count:4 interval:1000 every:1m', where);
    const id = /\(id `(w[0-9a-f]{6})`\)/.exec(ack)?.[1];
    assert.ok(id, ack);
    // The sweep's part on group lo waits for its chunks while the sweep runs.
    const reports = new Queue(partQueueName('lo'), { connection: client });
    let sweepId = '';
    try {
      await until('the first run’s sweep under way', async () => {
        const waiting = await reports.getJobs(['waiting-children']);
        const part = waiting.find((job) => (job.data as { report?: { targets?: string[] } }).report?.targets?.[0] === '127.0.5.74');
        sweepId = (part?.data as { sweepId?: string } | undefined)?.sweepId ?? '';
        return sweepId !== '';
      });
      assert.equal(await bot.stop(), 0);
      assert.equal(await client.exists(`zensweep:cancelled:${sweepId}`), 1, 'cancelled before the bot exited');
      assert.equal(JSON.parse(bot.log().split('\n').filter((l) => l.includes('"watch_run_abandoned"'))[0] ?? '{}').sweepId, sweepId, bot.log());
      let report: Awaited<ReturnType<ResultStore['loadReport']>>;
      await until('the cancelled sweep’s report', async () => (report = await new ResultStore(client).loadReport(sweepId)) !== undefined);
      assert.equal(report?.cancelled, true);
      assert.equal(report?.complete, false);
    } finally {
      await reports.close();
      bot = await restartBot();
    }
    await command(`unwatch ${id}`, where);
  });

  it('caps the watches of one user (DMs count) and of the whole bot, naming the cap and how to free a place', TIMEOUT, async () => {
    await listener('127.0.5.75');
    const total = await client.hlen('zensweep:{watches}:owners');
    assert.equal(await bot.stop(), 0);
    bot = await restartBot({ ZENSWEEP_WATCH_MAX_PER_USER: '2', ZENSWEEP_WATCH_MAX_TOTAL: String(total + 2) });
    try {
      const capped = { user_id: 'U0CAPPED' };
      const made = [
        await watch(`127.0.5.75 tcp:${port} every:1m`, { ...capped, channel_id: 'C0CAPA' }),
        await watch(`127.0.5.75 tcp:${port} every:1m`, { ...capped, channel_id: 'D0CAPDM' }),
      ];
      assert.equal(
        (await command(`watch 127.0.5.75 tcp:${port} every:1m`, { ...capped, channel_id: 'C0CAPB' })).split('\n')[0],
        ':warning: you already have 2 watches, the most one person may have: remove one with /sweep unwatch ID in its channel (yours are in C0CAPA, D0CAPDM)',
      );
      assert.match(
        await command(`watch 127.0.5.75 tcp:${port} every:1m`, { user_id: 'U0SOMEONE', channel_id: 'C0CAPB' }),
        new RegExp(`^:warning: this bot already runs ${total + 2} watches, the most it may run: remove one with /sweep unwatch ID`),
      );
      assert.match(await command('watches', { channel_id: 'C0CAPB' }), /^No watch in this channel/);
      // Freeing a place makes room again.
      await command(`unwatch ${made[0]?.id}`, { ...capped, channel_id: 'C0CAPA' });
      assert.match(await command(`watch 127.0.5.75 tcp:${port} every:1m`, { ...capped, channel_id: 'C0CAPB' }), /^Watching/);
    } finally {
      assert.equal(await bot.stop(), 0);
      bot = await restartBot();
    }
  });

  it('applies the policy to every run: a run the policy no longer allows pauses the watch, once', TIMEOUT, async () => {
    await listener('127.0.5.60');
    const record = await watch(`127.0.5.60 tcp:${port} every:2s`);
    const policy = JSON.stringify({ rules: [{ channels: ['C0PUBLIC'], cidrs: ['127.0.9.0/24'] }] });
    assert.equal(await bot.stop(), 0);
    bot = await restartBot({ ZENSWEEP_POLICY: policy });
    const paused = await slack.waitFor('the policy notice', () => posted(record).channel[0]);
    assert.match(String(paused.args.text), /the policy no longer allows it: this channel may sweep only any group within 127\.0\.9\.0\/24; watch paused/);
    const sweptBefore = (await store.get(record.id))?.lastRun?.sweepId;
    await runs(record.id, 2);
    assert.equal((await store.get(record.id))?.lastRun?.sweepId, sweptBefore, 'no sweep ran');
    assert.equal(posted(record).channel.length, 1);
    assert.match(await command(`watch 127.0.5.61 tcp:${port} every:2s`), /this channel may sweep only any group within 127\.0\.9\.0\/24/);
  });
});
