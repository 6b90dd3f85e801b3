/**
 * A watch's alert on call: its buttons (Acknowledge, Silence… with its modal, Unwatch), each a request at the door
 * (judged for whoever presses, audited), and the alert itself kept current: edited in place at each change, each
 * change a reply in its thread unless silenced, what changed while silenced said when the silence ends. A real bot
 * process, a real agent probing loopback, a real redis-server, the fake Slack; the watched ports opened and closed
 * for real.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { WATCH_QUEUE, WatchStore, type WatchRecord } from '../../src/queue/watch-store.js';
import { WatchSeries } from '../../src/queue/watch-series.js';
import { SILENCE_VIEW } from '../../src/slack/actions/report-actions.js';
import { WATCH_ACTIONS } from '../../src/slack/watches/render.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { actionFields, commandFields, freePort, postSigned, startBot, viewSubmissionFields, type BotProcess } from '../support/bot.js';
import { FakeSlack, type SlackCall } from '../support/fake-slack.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { Listener } from '../support/loopback-ports.js';
import { until, waitFor } from '../support/wait.js';

const TIMEOUT = { timeout: 240_000 };
const WATCH_ENV = { ZENSWEEP_WATCH_MIN_INTERVAL_MS: '1000', ZENSWEEP_WATCH_RUN_TIMEOUT_MS: '8000' };
/** U0ONCALL may sweep anything; anyone else in C0PUBLIC only 127.0.7.0/24, not the watched 127.0.6.x. */
const POLICY = JSON.stringify({ rules: [{ users: ['U0ONCALL'] }, { channels: ['C0PUBLIC'], cidrs: ['127.0.7.0/24'] }] });

interface Block {
  type: string;
  block_id?: string;
  text?: { text: string };
  elements?: { type?: string; text?: string | { text: string }; action_id?: string; value?: string; confirm?: unknown }[];
}

const blocksOf = (call: SlackCall): Block[] => (call.args.blocks as Block[] | undefined) ?? [];
/** Everything a message says, its text and every block's words. */
function wordsOf(call: SlackCall): string {
  return [
    String(call.args.text ?? ''),
    ...blocksOf(call).map((b) => [b.text?.text ?? '', ...(b.elements ?? []).map((e) => (typeof e.text === 'string' ? e.text : (e.text?.text ?? '')))].join('\n')),
  ].join('\n');
}
/** The buttons of a message: action id → its label and value. */
function buttonsOf(call: SlackCall): Map<string, { label: string; value: string; confirm: boolean }> {
  const buttons = new Map<string, { label: string; value: string; confirm: boolean }>();
  for (const block of blocksOf(call).filter((b) => b.type === 'actions')) {
    for (const e of block.elements ?? []) {
      if (e.type === 'button' && e.action_id) buttons.set(e.action_id, { label: typeof e.text === 'string' ? e.text : (e.text?.text ?? ''), value: e.value ?? '', confirm: e.confirm !== undefined });
    }
  }
  return buttons;
}


describe('a watch’s alert: Acknowledge, Silence…, Unwatch, and the alert kept current (real bot, agent and redis-server)', () => {
  let redis: RedisServer;
  let client: Redis;
  let queue: Queue;
  let store: WatchStore;
  let slack: FakeSlack;
  let agent: AgentProcess;
  let bot: BotProcess;
  let port: number;
  const listeners: Listener[] = [];

  const command = async (text: string): Promise<string> => {
    const answer = await postSigned(bot.eventsUrl, commandFields(text, { response_url: slack.responseUrl() }));
    assert.equal(answer.status, 200, answer.body);
    return (JSON.parse(answer.body) as { text: string }).text;
  };
  /** Presses a button as `user`; resolves with the private answer it got. */
  const press = async (actionId: string, value: string, user: string, messageTs: string): Promise<string> => {
    const url = slack.responseUrl();
    const answer = await postSigned(bot.eventsUrl, actionFields(actionId, value, url, user, { messageTs }));
    assert.equal(answer.status, 200, answer.body);
    const reply = await slack.waitFor(`the answer to ${actionId}`, () => slack.responsesTo(url)[0]);
    return String(reply.text);
  };
  const audit = async (): Promise<Record<string, unknown>[]> => (await client.lrange('zensweep:audit', 0, -1)).map((line) => JSON.parse(line) as Record<string, unknown>);
  /** The channel messages and thread replies of a watch. */
  const posted = (record: WatchRecord): { channel: SlackCall[]; replies: SlackCall[] } => {
    const mine = slack.callsOf('chat.postMessage').filter((c) => wordsOf(c).includes(record.id) && c.args.channel === record.channel);
    return { channel: mine.filter((c) => c.args.thread_ts === undefined), replies: mine.filter((c) => c.args.thread_ts !== undefined) };
  };
  /** Every edit of one message, oldest first. */
  const editsOf = (ts: string): SlackCall[] => slack.callsOf('chat.update').filter((c) => c.args.ts === ts);

  before(async () => {
    assertRoot();
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    queue = new Queue(WATCH_QUEUE, { connection: client });
    store = new WatchStore(client, queue);
    slack = await FakeSlack.start();
    port = await freePort();
    agent = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/16' });
    bot = await startBot({ redisUrl: redis.url, slack, env: { ...WATCH_ENV, ZENSWEEP_POLICY: POLICY } });
  });

  after(async () => {
    await bot?.stop();
    await agent?.kill();
    await Promise.all(listeners.map((l) => l.close()));
    await queue?.close();
    client?.disconnect();
    await slack?.close();
    await redis?.destroy();
    assert.deepEqual(slack?.violations ?? [], [], 'every message and modal within Block Kit limits');
  });

  it('acknowledges and silences from the alert, holds the replies while silenced, and says on recovery what changed meanwhile; Unwatch stops it', TIMEOUT, async (t) => {
    const [a, b] = [new Listener('127.0.6.10', port), new Listener('127.0.6.11', port)];
    listeners.push(a, b);
    await Promise.all([a.open(), b.open()]);
    const ack = await command(`watch 127.0.6.10-11 tcp:${port} every:1s confirm:1`);
    const id = /\(id `(w[0-9a-f]{6})`\)/.exec(ack)?.[1] ?? assert.fail(ack);
    await waitFor('the first run', async () => ((await store.get(id))?.state ? true : undefined));
    const record = (await store.get(id)) as WatchRecord;

    // The alert: what is changed now on its first line, since when, and its three buttons, each naming the watch.
    await a.close();
    const alert = await slack.waitFor('the alert', () => posted(record).channel[0]);
    const alertTs = alert.ts ?? assert.fail('the alert has a ts');
    const first = blocksOf(alert)[0]?.text?.text ?? '';
    assert.match(first, new RegExp(`^:rotating_light: \`127\\.0\\.6\\.10-11 tcp:${port}\`: 127\\.0\\.6\\.10 ${port}/tcp open → closed$`));
    assert.match(wordsOf(alert), /\nOpen since <!date\^\d+\^/);
    assert.deepEqual(
      [...buttonsOf(alert)].map(([action, b]) => [action, b.label, b.value, b.confirm]),
      [
        [WATCH_ACTIONS.acknowledge, 'Acknowledge', id, false],
        [WATCH_ACTIONS.silence, 'Silence…', id, false],
        [WATCH_ACTIONS.unwatch, 'Unwatch', id, true],
      ],
    );

    // Someone the policy keeps from 127.0.6.x: refused, privately, and the alert stays as it was.
    const edits = editsOf(alertTs).length;
    assert.match(await press(WATCH_ACTIONS.acknowledge, id, 'U0VIEWER', alertTs), /may sweep only .*127\.0\.7\.0\/24/);
    assert.equal(editsOf(alertTs).length, edits, 'a refused press edits nothing');

    // Acknowledge: the alert says who, and loses its button.
    assert.match(await press(WATCH_ACTIONS.acknowledge, id, 'U0ONCALL', alertTs), new RegExp(`^Acknowledged: the alert of \`${id}\` says it is yours\\.$`));
    const acked = await slack.waitFor('the alert acknowledged', () => editsOf(alertTs).find((c) => wordsOf(c).includes(':eyes: acknowledged by <@U0ONCALL>')));
    assert.ok(!buttonsOf(acked).has(WATCH_ACTIONS.acknowledge));
    assert.match(await press(WATCH_ACTIONS.acknowledge, id, 'U0ONCALL', alertTs), /^Acknowledged/);

    // Silence…: a modal asks how long and why; its submission is a request at the door.
    const before = slack.callsOf('views.open').length;
    const opened = await postSigned(bot.eventsUrl, actionFields(WATCH_ACTIONS.silence, id, slack.responseUrl(), 'U0ONCALL', { messageTs: alertTs }));
    assert.equal(opened.status, 200);
    const modal = await slack.waitFor('the modal', () => slack.callsOf('views.open')[before]);
    const view = modal.args.view as { callback_id: string; private_metadata: string; blocks: Block[] };
    assert.equal(view.callback_id, SILENCE_VIEW);
    t.diagnostic(`modal: ${JSON.stringify(view.blocks.map((b) => b.block_id))}`);
    // Refused for someone outside: said in the modal, nothing silenced.
    const refused = await postSigned(bot.eventsUrl, viewSubmissionFields(view, { silence_for: { for: { type: 'radio_buttons', selected_option: { value: '0' } } }, silence_reason: { reason: { type: 'plain_text_input', value: 'not mine to say' } } }, 'U0VIEWER'));
    assert.equal(refused.status, 200);
    assert.equal((JSON.parse(refused.body) as { response_action: string }).response_action, 'errors');
    assert.equal((await store.response(id, (await store.get(id))?.state?.incident?.openedAt ?? ''))?.silence, undefined);
    const submitted = await postSigned(
      bot.eventsUrl,
      viewSubmissionFields(view, { silence_for: { for: { type: 'radio_buttons', selected_option: { value: '0' } } }, silence_reason: { reason: { type: 'plain_text_input', value: 'moving the database' } } }),
    );
    assert.equal(submitted.status, 200, submitted.body);
    assert.equal(submitted.body, '', 'the modal closes');
    const silenced = await slack.waitFor('the alert silenced', () => editsOf(alertTs).find((c) => wordsOf(c).includes(':no_bell: Silenced by <@U0ONCALL>')));
    assert.match(wordsOf(silenced), /until it is resolved: “moving the database”/);
    assert.match(wordsOf(silenced), /:eyes: acknowledged by <@U0ONCALL>/);

    // While silenced, a change is no reply: the alert says it, edited in place.
    await b.close();
    const both = await slack.waitFor('the alert showing both hosts', () => editsOf(alertTs).find((c) => (blocksOf(c)[0]?.text?.text ?? '').includes('`: 127.0.6.10-11 ')));
    assert.match(blocksOf(both)[0]?.text?.text ?? '', new RegExp(`: 127\\.0\\.6\\.10-11 ${port}/tcp open → closed$`));
    assert.deepEqual(posted(record).replies.map(wordsOf), [], 'no reply while silenced');

    // Recovery ends the incident and its silence: one reply, saying what changed while it held; the alert resolved.
    await Promise.all([a.open(), b.open()]);
    const resolved = await slack.waitFor('the resolution', () => posted(record).replies[0]);
    assert.equal(resolved.args.thread_ts, alertTs);
    assert.match(wordsOf(resolved), /^:white_check_mark: Resolved after/);
    assert.match(wordsOf(resolved), /It was silenced by <@U0ONCALL> .*; the silence ends with it\. While it held:/);
    assert.match(wordsOf(resolved), new RegExp(`127\\.0\\.6\\.11 ${port}/tcp open → closed`));
    const closed = await slack.waitFor('the alert marked resolved', () => editsOf(alertTs).find((c) => wordsOf(c).includes('*Resolved*')));
    assert.equal(buttonsOf(closed).size, 0, 'an ended incident has no buttons');
    assert.equal(posted(record).replies.length, 1);
    assert.equal(await client.exists(`zensweep:{watches}:watch:${id}:response`), 0, 'the response ends with its incident');

    // Unwatch, from the alert: the watch stops, and the message says who stopped it.
    assert.match(await press(WATCH_ACTIONS.unwatch, id, 'U0ONCALL', alertTs), new RegExp(`^Stopped watching .*\\(\`${id}\`\\)\\.$`));
    await slack.waitFor('the alert saying it was unwatched', () => editsOf(alertTs).find((c) => wordsOf(c).includes('Unwatched by <@U0ONCALL>')));
    assert.equal(await store.get(id), undefined);
    assert.ok(!(await queue.getJobSchedulers()).some((s) => s.key === id));

    // Every press passed the door: audited with its button, the refusals too.
    const trail = (await audit()).filter((e) => e.text === `acknowledge ${id}` || e.text === `silence ${id}` || e.text === `unwatch ${id}`);
    assert.deepEqual(
      trail.map((e) => [e.action, e.user, e.outcome]).reverse(),
      [
        ['acknowledge', 'U0VIEWER', 'refused'],
        ['acknowledge', 'U0ONCALL', 'allowed'],
        ['acknowledge', 'U0ONCALL', 'allowed'],
        ['silence', 'U0VIEWER', 'refused'],
        ['silence', 'U0ONCALL', 'allowed'],
        ['unwatch', 'U0ONCALL', 'allowed'],
      ],
    );
  });

  it('keeps quiet in a maintenance window: runs go on, the alert waits, and one summary comes when the window ends', TIMEOUT, async () => {
    const e = new Listener('127.0.6.30', port);
    listeners.push(e);
    await e.open();
    // A window around now (it would end within the hour; `quiet ID off` ends it at once, as its end would).
    const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);
    const window = `daily ${hhmm(Date.now() - 60_000)}-${hhmm(Date.now() + 3600_000)} UTC`;
    const ack = await command(`watch 127.0.6.30 tcp:${port} every:1s confirm:1 quiet:"${window}"`);
    assert.match(ack, new RegExp(`Quiet ${window}: it sweeps on, its alerts wait`));
    const id = /\(id `(w[0-9a-f]{6})`\)/.exec(ack)?.[1] ?? assert.fail(ack);
    await waitFor('the first run', async () => ((await store.get(id))?.state ? true : undefined));
    const record = (await store.get(id)) as WatchRecord;
    await e.close();
    // The runs see the change and open the incident; nothing is posted while the window holds.
    const held = await waitFor('the incident, held', async () => {
      const now = await store.get(id);
      return now?.state?.incident && now.quietHold && now.outbox.length > 0 ? now : undefined;
    });
    assert.deepEqual(held.outbox.map((n) => n.kind), ['alert']);
    const runsBefore = (await store.get(id))?.lastRun?.at;
    await until('two more runs', async () => (await store.get(id))?.lastRun?.at !== runsBefore);
    assert.deepEqual(posted(record), { channel: [], replies: [] }, 'nothing while quiet');
    assert.match(await command('watches'), new RegExp(`\`${id}\`[^\n]*\n[^\n]*quiet ${window} \\(now: its alerts wait\\)`));

    // The window ends: one summary, then the alert as the incident stands.
    assert.match(await command(`quiet ${id} off`), /has no maintenance window any more/);
    const summary = await slack.waitFor('the summary', () => posted(record).channel[0]);
    assert.match(wordsOf(summary), new RegExp(`^:bell: \`127\\.0\\.6\\.30 tcp:${port}\`: the maintenance window \\(${window.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) has ended\\. While it held:\n127\\.0\\.6\\.30 ${port}/tcp open → closed`, 'm'));
    const alert = await slack.waitFor('the alert after it', () => posted(record).channel[1]);
    assert.match(blocksOf(alert)[0]?.text?.text ?? '', new RegExp(`^:rotating_light: \`127\\.0\\.6\\.30 tcp:${port}\`: 127\\.0\\.6\\.30 ${port}/tcp open → closed$`));
    assert.equal(posted(record).channel.length, 2);
    assert.equal((await store.get(id))?.quietHold, undefined);
    await command(`unwatch ${id}`);
  });

  it('opens an incident for a round trip over twice the host’s own usual (rtt:>2x), and resolves it once that is its usual', TIMEOUT, async () => {
    const f = new Listener('127.0.6.50', port);
    listeners.push(f);
    await f.open();
    const ack = await command(`watch 127.0.6.50 count:3 interval:10 every:1s confirm:1 rtt:>2x`);
    assert.match(ack, /a host over rtt:>2x is a change too/);
    const id = /\(id `(w[0-9a-f]{6})`\)/.exec(ack)?.[1] ?? assert.fail(ack);
    await waitFor('the first run', async () => ((await store.get(id))?.state ? true : undefined));
    const record = (await store.get(id)) as WatchRecord;
    // A history in which this host answered in a microsecond: any real round trip is over twice that.
    const series = new WatchSeries(client);
    const planted = (await series.read(id)).length;
    for (let i = 0; i < 7; i += 1) await series.append(id, { at: new Date(Date.now() - (7 - i) * 60_000).toISOString(), hosts: { '127.0.6.50': [0, 0.001, 0.002, null] } });
    const alert = await slack.waitFor('the alert', () => posted(record).channel[0]);
    assert.match(String(alert.args.text), /: 127\.0\.6\.50 rtt over 2× its usual \(avg [\d.]+ ms\)$/);
    assert.ok(planted >= 1, 'the first run was kept in the series');
    // Its real runs become its usual: the incident resolves by itself.
    const resolved = await slack.waitFor('the resolution', () => posted(record).replies.find((r) => /^:white_check_mark: Resolved/.test(String(r.args.text))));
    assert.match(wordsOf(resolved), /127\.0\.6\.50 rtt back within 2× its usual/);
    await command(`unwatch ${id}`);
  });

  it('opens an incident for a round trip over an absolute limit (rtt:>0.01ms: any loopback echo is slower), with its figure', TIMEOUT, async () => {
    const ack = await command(`watch 127.0.6.60 count:3 interval:10 every:1s confirm:1 rtt:>0.01ms`);
    assert.match(ack, /a host over rtt:>0\.01ms is a change too/);
    const id = /\(id `(w[0-9a-f]{6})`\)/.exec(ack)?.[1] ?? assert.fail(ack);
    const record = await waitFor('the first run', async () => {
      const now = await store.get(id);
      return now?.state ? now : undefined;
    });
    // The first run is the baseline without the limit: the host over it is a change, said with this run's average.
    assert.deepEqual(record.state?.baseline, { '127.0.6.60': 'alive' });
    const alert = await slack.waitFor('the alert', () => posted(record).channel[0]);
    const avg = /: 127\.0\.6\.60 rtt over 0\.01 ms \(avg ([\d.]+) ms\)$/.exec(String(alert.args.text));
    assert.ok(avg, String(alert.args.text));
    assert.ok(Number(avg[1]) > 0.01);
    await command(`unwatch ${id}`);
  });

  it('says when a silence ran out before its incident, with what changed while it held', TIMEOUT, async () => {
    const c = new Listener('127.0.6.20', port);
    const d = new Listener('127.0.6.21', port);
    listeners.push(c, d);
    await Promise.all([c.open(), d.open()]);
    const ack = await command(`watch 127.0.6.20-21 tcp:${port} every:1s confirm:1`);
    const id = /\(id `(w[0-9a-f]{6})`\)/.exec(ack)?.[1] ?? assert.fail(ack);
    await waitFor('the first run', async () => ((await store.get(id))?.state ? true : undefined));
    const record = (await store.get(id)) as WatchRecord;
    await c.close();
    const alert = await slack.waitFor('the alert', () => posted(record).channel[0]);
    const incident = await waitFor('the incident', async () => (await store.get(id))?.state?.incident);
    // A silence as the modal makes it, that runs out in 4 s (the modal offers 1 h at the least).
    await store.respond(id, incident.openedAt, 'silence', { by: 'U0ONCALL', at: new Date().toISOString(), reason: 'short', until: new Date(Date.now() + 4000).toISOString() });
    await d.close();
    const ended = await slack.waitFor('the end of the silence', () => posted(record).replies.find((r) => wordsOf(r).includes('The silence by <@U0ONCALL> ended')));
    assert.equal(ended.args.thread_ts, alert.ts);
    assert.match(wordsOf(ended), new RegExp(`while it held,[\\s\\S]*127\\.0\\.6\\.21 ${port}/tcp open → closed`));
    assert.equal(posted(record).replies.length, 1, 'the held change is said once, in the summary');
    // After it, changes are replies again.
    await c.open();
    await slack.waitFor('a reply after the silence', () => posted(record).replies.find((r) => wordsOf(r).includes(`127.0.6.20 ${port}/tcp closed → open`)));
    await until('the watch removed', async () => (await command(`unwatch ${id}`)).startsWith('Stopped watching'));
  });
});
