/**
 * A watch with `loss:>20%` in the network lab: an agent inside it (the sweeper namespace), the real bot, a real
 * redis-server, the fake Slack. A host that answers ping is made to lose most of its echoes (an nftables rule in the
 * LAN namespace drops 60% of the echo requests to it, at random): the host is still "alive", and the watch opens an
 * incident for its loss, says the figure, keeps each run's loss and round trips in the series, and resolves it when
 * the rule goes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { WATCH_QUEUE, WatchStore } from '../../src/queue/watch-store.js';
import { WatchSeries } from '../../src/queue/watch-series.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { actionFields, commandFields, postSigned, startBot, type BotProcess } from '../support/bot.js';
import { WATCH_ACTIONS } from '../../src/slack/watches/render.js';
import { FakeSlack, type SlackCall } from '../support/fake-slack.js';
import { createLab, nft, run, type Lab } from '../support/lab.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { waitFor } from '../support/wait.js';

const TIMEOUT = { timeout: 240_000 };

describe('a watch with loss:>20% on a host that loses its echoes (the network lab)', () => {
  let lab: Lab;
  let redis: RedisServer;
  let client: Redis;
  let queue: Queue;
  let agent: AgentProcess;
  let bot: BotProcess;
  let slack: FakeSlack;

  before(async () => {
    assertRoot();
    lab = await createLab();
    redis = await startRedis({ unixSocket: true });
    await lab.bridgeToHost(redis.port, redis.socketPath ?? '');
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    queue = new Queue(WATCH_QUEUE, { connection: client });
    slack = await FakeSlack.start();
    agent = await startAgent({ redisUrl: redis.url, group: 'lab', cidrs: lab.addresses.lan.v4Cidr, netns: lab.sweeperNs });
    bot = await startBot({ redisUrl: redis.url, slack, env: { ZENSWEEP_WATCH_MIN_INTERVAL_MS: '1000', ZENSWEEP_WATCH_RUN_TIMEOUT_MS: '20000' } });
  });
  after(async () => {
    await bot?.stop();
    await agent?.stop();
    await queue?.close();
    client?.disconnect();
    await slack?.close();
    await redis?.destroy();
    await lab?.destroy();
    assert.deepEqual(slack?.violations ?? [], []);
  });

  it('opens an incident for the loss of a host that still answers, with the figure, and resolves it', TIMEOUT, async () => {
    const host = lab.addresses.lan.alive.v4[0] ?? assert.fail('a live host');
    const store = new WatchStore(client, queue);
    const answer = await postSigned(bot.eventsUrl, commandFields(`watch ${host} count:20 interval:20 timeout:500 every:2s confirm:1 loss:>20%`, { response_url: slack.responseUrl() }));
    const ack = (JSON.parse(answer.body) as { text: string }).text;
    assert.match(ack, /a host over loss:>20% is a change too/);
    const id = /\(id `(w[0-9a-f]{6})`\)/.exec(ack)?.[1] ?? assert.fail(ack);
    await waitFor('the first run', async () => ((await store.get(id))?.state ? true : undefined), { timeoutMs: 60_000 });
    const alerts = (): SlackCall[] => slack.callsOf('chat.postMessage').filter((c) => String(c.args.text).startsWith(':rotating_light:') && String(c.args.text).includes(host));

    const lossy = await nft(
      lab.namespaces.lan,
      `table inet zsloss {
  chain input {
    type filter hook input priority filter - 1; policy accept;
    ip daddr ${host} icmp type echo-request numgen random mod 100 < 60 drop
  }
}
`,
    );
    assert.equal(lossy.code, 0, lossy.stderr);
    const alert = await slack.waitFor('the loss alert', () => alerts()[0]);
    // The alert says the condition and the figure of the run that met it.
    const lost = new RegExp(`^:rotating_light: ${host.replace(/\./g, '\\.')} count:20 .*: ${host.replace(/\./g, '\\.')} loss over 20% \\((\\d+)% lost\\)$`).exec(String(alert.args.text));
    assert.ok(lost, String(alert.args.text));
    assert.ok(Number(lost[1]) > 20, `${lost[1]}% lost`);

    // Each run's loss and round trips are kept: 0% before the rule, over 20% since.
    const points = await new WatchSeries(client).read(id);
    const losses = points.map((p) => p.hosts[host]?.[0] ?? -1);
    assert.ok(losses.some((l) => l === 0), `losses ${losses.join(', ')}`);
    assert.ok(losses.some((l) => l > 20), `losses ${losses.join(', ')}`);
    assert.ok(points.every((p) => (p.hosts[host]?.[1] ?? 0) > 0), 'a round trip in every point');

    // Graph, on the alert: the chart in its thread, a picture at the phone column's width (3 device pixels a CSS pixel).
    assert.ok(JSON.stringify(alert.args.blocks).includes(WATCH_ACTIONS.graph), 'the alert has a Graph button');
    const pressed = await postSigned(bot.eventsUrl, actionFields(WATCH_ACTIONS.graph, id, slack.responseUrl(), 'U0ONCALL', { messageTs: alert.ts }));
    assert.equal(pressed.status, 200);
    const shared = await slack.waitFor('the chart in the thread', () =>
      slack.callsOf('files.completeUploadExternal').find((c) => c.args.thread_ts === alert.ts && (c.args.files as { title?: string }[] | undefined) !== undefined),
    );
    assert.match(String(shared.args.initial_comment), new RegExp(`^${host.replace(/\./g, '\\.')}, ms: :large_blue_square: median :large_red_square: worst · :large_orange_square: loss % · shaded: the incident · UTC$`));
    const chartId = (shared.args.files as { id: string }[])[0]?.id ?? '';
    const png = slack.uploadedBytes.get(chartId);
    assert.ok(png && png.subarray(1, 4).toString('latin1') === 'PNG', 'a PNG was uploaded');
    assert.equal(png.readUInt32BE(16), 918, 'drawn 306 px wide, at 3 device pixels a pixel');

    const removed = await run(['ip', 'netns', 'exec', lab.namespaces.lan, 'nft', 'delete', 'table', 'inet', 'zsloss']);
    assert.equal(removed.code, 0, removed.stderr);
    const resolved = await slack.waitFor('the resolution', () =>
      slack.callsOf('chat.postMessage').find((c) => c.args.thread_ts === alert.ts && /^:white_check_mark: Resolved/.test(String(c.args.text))),
    );
    assert.match(JSON.stringify(resolved.args.blocks), /loss back under 20%/);
    // The incident's chart comes with its end, in the thread, without asking.
    await slack.waitFor('the chart of the ended incident', () =>
      slack.callsOf('files.completeUploadExternal').filter((c) => c.args.thread_ts === alert.ts && /shaded: the incident/.test(String(c.args.initial_comment))).length >= 2 ? true : undefined,
    );
    await postSigned(bot.eventsUrl, commandFields(`unwatch ${id}`, { response_url: slack.responseUrl() }));
  });
});
