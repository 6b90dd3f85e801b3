/**
 * The app's Home tab through the real bot (an agent on loopback, a real redis-server, the fake Slack): opened, it is
 * published with the whole picture within the viewer's reach — the open incident of their watch linked to its alert,
 * the agent groups they may use, their watches with the last run and the next, their last sweeps with Re-run — and
 * another viewer sees only what the policy lets them see. Re-run from Home sweeps again, through the door, and the
 * report comes in the viewer's conversation with the app.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { WATCH_QUEUE, WatchStore } from '../../src/queue/watch-store.js';
import { HOME_RERUN } from '../../src/slack/home.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { actionFields, commandFields, freePort, postEvent, postSigned, startBot, type BotProcess } from '../support/bot.js';
import { FakeSlack, type SlackCall } from '../support/fake-slack.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { waitFor } from '../support/wait.js';

const TIMEOUT = { timeout: 240_000 };
/** U0ONCALL may sweep anything; U0VIEWER only 127.0.7.0/24. */
const POLICY = JSON.stringify({ rules: [{ users: ['U0ONCALL'] }, { users: ['U0VIEWER'], cidrs: ['127.0.7.0/24'] }] });

interface Block {
  type: string;
  text?: { text: string };
  elements?: { text?: string }[];
  accessory?: { action_id?: string; value?: string };
}

describe('the Home tab (real bot, agent and redis-server, fake Slack)', () => {
  let redis: RedisServer;
  let client: Redis;
  let queue: Queue;
  let store: WatchStore;
  let slack: FakeSlack;
  let agent: AgentProcess;
  let bot: BotProcess;
  let server: Server | undefined;

  const command = async (text: string): Promise<string> => {
    const answer = await postSigned(bot.eventsUrl, commandFields(text, { response_url: slack.responseUrl() }));
    assert.equal(answer.status, 200, answer.body);
    return (JSON.parse(answer.body) as { text: string }).text;
  };
  /** Opens `user`'s Home tab; resolves with the view the bot published for them. */
  const openHome = async (user: string, dm: string): Promise<Block[]> => {
    const before = slack.callsOf('views.publish').length;
    const posted = await postEvent(bot.eventsUrl, { type: 'app_home_opened', user, channel: dm, tab: 'home' });
    assert.equal(posted.status, 200, posted.body);
    const call = await slack.waitFor(`${user}'s Home`, () => slack.callsOf('views.publish').slice(before).find((c) => c.args.user_id === user));
    const view = (typeof call.args.view === 'string' ? JSON.parse(call.args.view) : call.args.view) as { type: string; blocks: Block[] };
    assert.equal(view.type, 'home');
    return view.blocks;
  };
  const words = (blocks: Block[]): string => blocks.map((b) => [b.text?.text ?? '', ...(b.elements ?? []).map((e) => e.text ?? '')].join('\n')).join('\n');

  before(async () => {
    assertRoot();
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    queue = new Queue(WATCH_QUEUE, { connection: client });
    store = new WatchStore(client, queue);
    slack = await FakeSlack.start();
    agent = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/16' });
    bot = await startBot({ redisUrl: redis.url, slack, env: { ZENSWEEP_WATCH_MIN_INTERVAL_MS: '1000', ZENSWEEP_WATCH_RUN_TIMEOUT_MS: '8000', ZENSWEEP_POLICY: POLICY } });
  });

  after(async () => {
    await bot?.stop();
    await agent?.kill();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await queue?.close();
    client?.disconnect();
    await slack?.close();
    await redis?.destroy();
    assert.deepEqual(slack?.violations ?? [], [], 'every message and view within Block Kit limits');
  });

  it('shows the viewer’s incident, groups, watches and sweeps, only what the policy lets each see, and re-runs a sweep from it', TIMEOUT, async (t) => {
    // A sweep of U0ONCALL's, and a watch of theirs with an open incident.
    assert.match(await command('127.0.6.0/30'), /^Sweeping `127\.0\.6\.0\/30`/);
    await slack.waitFor('the sweep’s report', () => slack.callsOf('chat.postMessage').find((c) => c.args.thread_ts !== undefined && /2 alive/.test(String(c.args.text))));
    const port = await freePort();
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server?.listen({ host: '127.0.6.40', port }, resolve));
    const ack = await command(`watch 127.0.6.40 tcp:${port} every:1s confirm:1`);
    const id = /\(id `(w[0-9a-f]{6})`\)/.exec(ack)?.[1] ?? assert.fail(ack);
    await waitFor('the first run', async () => ((await store.get(id))?.state ? true : undefined));
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;
    const incident = await waitFor('the alert', async () => (await store.get(id))?.state?.incident?.alert && (await store.get(id))?.state?.incident);
    await store.respond(id, incident.openedAt, 'ack', { by: 'U0ONCALL', at: new Date().toISOString() });

    const home = await openHome('U0ONCALL', 'D0ONCALL');
    const text = words(home);
    t.diagnostic(`Home of U0ONCALL:\n${text}`);
    assert.equal(home[0]?.type, 'header');
    assert.match(text, /\*Open incidents \(1\)\*\n:rotating_light: <https:\/\/test\.slack\.com\/archives\/C0PUBLIC\/p\d+\|127\.0\.6\.40 tcp:\d+> in <#C0PUBLIC> since <!date\^\d+\^\{time\}\|\d\d:\d\d UTC> · :eyes: <@U0ONCALL>/);
    assert.match(text, /\*Agent groups \(1\)\*\n\*lo\* · 1 agent · 127\.0\.0\.0\/16 · all well/);
    assert.match(text, new RegExp(`\\*Your watches \\(1\\)\\*\\n:rotating_light: \`${id}\` \`127\\.0\\.6\\.40 tcp:${port}\` in <#C0PUBLIC> every 1s\\n {4}last run \\d+ s ago: .* · next (now|in \\d+ s)`));
    const rerun = home.find((b) => b.accessory?.action_id === HOME_RERUN);
    assert.ok(rerun, 'a sweep with Re-run');
    assert.match(rerun.text?.text ?? '', /^`127\.0\.6\.0\/30` in lo · .*\n2 alive$/);
    assert.deepEqual(JSON.parse(rerun.accessory?.value ?? ''), { text: '127.0.6.0/30', dm: 'D0ONCALL' });

    // Home follows the incident: once it ends, it is published again without being opened.
    const published = slack.callsOf('views.publish').length;
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server?.listen({ host: '127.0.6.40', port }, resolve));
    const refreshed = await slack.waitFor('Home published again on the end of the incident', () =>
      slack.callsOf('views.publish').slice(published).find((c) => c.args.user_id === 'U0ONCALL' && /No open incident/.test(JSON.stringify(c.args.view))),
    );
    assert.match(JSON.stringify(refreshed.args.view), new RegExp(`\`${id}\``));

    // Someone the policy allows 127.0.7.0/24 alone: the group cut to that, nothing of U0ONCALL's.
    const viewer = words(await openHome('U0VIEWER', 'D0VIEWER'));
    assert.match(viewer, /\*lo\* · 1 agent · 127\.0\.7\.0\/24 · all well/);
    assert.doesNotMatch(viewer, /127\.0\.6\.|127\.0\.0\.0\/16|<@U0ONCALL>/);
    assert.match(viewer, /\*No open incident\* among your watches\./);
    assert.match(viewer, /\*No sweep\* of yours on record yet\./);

    // Re-run from Home: a request at the door, answered and reported in the viewer's conversation with the app.
    const pressed = await postSigned(bot.eventsUrl, actionFields(HOME_RERUN, rerun.accessory?.value ?? '', slack.responseUrl(), 'U0ONCALL', { channel: 'D0ONCALL' }));
    assert.equal(pressed.status, 200);
    const inDm = (): SlackCall[] => slack.callsOf('chat.postMessage').filter((c) => c.args.channel === 'D0ONCALL');
    await slack.waitFor('the answer in the DM', () => inDm().find((c) => /^Sweeping `127\.0\.6\.0\/30`/.test(String(c.args.text))));
    await slack.waitFor('the report in the DM', () => inDm().find((c) => c.args.thread_ts !== undefined && /2 alive/.test(String(c.args.text))));
    const trail = (await client.lrange('zensweep:audit', 0, -1)).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(trail.some((e) => e.kind === 'home' && e.user === 'U0VIEWER' && e.outcome === 'allowed'), 'opening Home is audited');
    assert.ok(trail.some((e) => e.action === 'rerun' && e.channel === 'D0ONCALL' && e.outcome === 'started'), 'Re-run from Home is audited');
    await command(`unwatch ${id}`);
  });
});
