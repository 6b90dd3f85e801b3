/**
 * The door, end to end: every request from Slack — agents, history, the watch commands, sweeps, traces and buttons —
 * is judged by the policy on what it probes or reveals, counted against its requester's running limit, audited, and
 * answered; and whatever way a request ends, its slot is free again. A real bot process, real redis-server, real
 * agents on loopback, the fake Slack. The channel C0SMALL may sweep only 127.0.0.0/28; the agent covers 127.0.0.0/8.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { AuditTrail } from '../../src/door/audit.js';
import type { AuditEntry } from '../../src/door/audit.js';
import { REPORT_QUEUE, partQueueName, sweepQueueName } from '../../src/queue/names.js';
import { partProcessor } from '../../src/queue/report-worker.js';
import { DELIVERY_QUEUE } from '../../src/slack/delivery/jobs.js';
import type { AgentInfo } from '../../src/queue/registry.js';
import { ACTIONS } from '../../src/views/blocks.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { actionFields, commandFields, postSigned, startBot, type BotProcess } from '../support/bot.js';
import { FakeSlack, type SlackCall } from '../support/fake-slack.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { quietFor, until, waitFor } from '../support/wait.js';

const TIMEOUT = { timeout: 180_000 };
const SMALL_REFUSAL = 'this channel may sweep only any group within 127.0.0.0/28';
const DENIED = 'no sweep is allowed from this channel for you; ask an admin to add a rule to ZENSWEEP_POLICY';
const POLICY = JSON.stringify({
  rules: [
    { channels: ['C0SMALL'], cidrs: ['127.0.0.0/28'] },
    { channels: ['C0PUBLIC', 'C0GONE'] },
    { users: ['U0ADMIN'] },
  ],
});

/** A registry entry of an agent that is not running: its group is planned on, and nothing runs its jobs. */
function planted(group: string, id: string, cidrs: string[], lastError?: string): AgentInfo {
  const now = new Date().toISOString();
  return {
    ...{ group, id, cidrs, version: 'planted', icmp: true, load: { active: 0, concurrency: 1 }, startedAt: now, lastSeen: now },
    ...(lastError ? { lastError: { at: now, message: lastError } } : {}),
  };
}

interface Harness {
  redis: RedisServer;
  client: Redis;
  slack: FakeSlack;
  bot: BotProcess;
}

/** The words of a slash command's ack (the ephemeral answer, or the notice that it is being worked on). */
async function command(h: Harness, words: string, who: { channel?: string; user?: string } = {}): Promise<string> {
  const reply = await postSigned(
    h.bot.eventsUrl,
    commandFields(words, { response_url: h.slack.responseUrl(), channel_id: who.channel ?? 'C0PUBLIC', user_id: who.user ?? 'U0ONCALL' }),
  );
  assert.equal(reply.status, 200, reply.body);
  return (JSON.parse(reply.body) as { text: string }).text;
}

async function audited(h: Harness, count: number): Promise<AuditEntry[]> {
  return new AuditTrail(h.client, pino({ level: 'silent' })).recent(count);
}

const parents = (h: Harness): SlackCall[] => h.slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts === undefined);
const replies = (h: Harness, parent: SlackCall): SlackCall[] => h.slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts === parent.ts);
/** The sweep id a started request was audited with. */
async function startedId(h: Harness, user: string): Promise<string> {
  const entry = await waitFor(`${user}'s start audited`, async () => (await audited(h, 50)).find((e) => e.user === user && e.outcome === 'started'));
  return entry.sweepId ?? '';
}
const running = (h: Harness, user: string): Promise<number> => h.client.zcard(`zensweep:running:${user}`);
/**
 * Waits until no delivery is left to run, so that a test's requests are all answered before the next test's bot
 * starts (a bot stopped mid-delivery hands it back, and the next bot would post it into the next test's Slack).
 */
async function allDelivered(h: Harness): Promise<void> {
  const deliveries = new Queue(DELIVERY_QUEUE, { connection: h.client });
  try {
    await until('every delivery done', async () => {
      const counts = await deliveries.getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'waiting-children');
      return Object.values(counts).every((count) => count === 0);
    });
  } finally {
    await deliveries.close();
  }
}

describe('the door (real bot, agents and redis-server; fake Slack)', () => {
  const h = {} as Harness;
  let agent: AgentProcess;
  const bots: BotProcess[] = [];

  before(async () => {
    assertRoot();
    h.redis = await startRedis();
    h.client = new Redis(h.redis.url, { maxRetriesPerRequest: null });
    agent = await startAgent({ redisUrl: h.redis.url, group: 'lo', cidrs: '127.0.0.0/8' });
  });
  afterEach(async () => {
    await allDelivered(h);
    await Promise.all(bots.splice(0).map((b) => b.stop()));
    await h.slack?.close();
  });
  after(async () => {
    await agent?.kill();
    h.client?.disconnect();
    await h.redis?.destroy();
  });

  async function fresh(env: NodeJS.ProcessEnv = {}): Promise<void> {
    h.slack = await FakeSlack.start();
    h.bot = await startBot({ redisUrl: h.redis.url, slack: h.slack, env: { ZENSWEEP_POLICY: POLICY, ...env } });
    bots.push(h.bot);
  }

  it('agents: a restricted channel sees only the part of each group it may sweep, and no agent’s last error', TIMEOUT, async (t) => {
    await fresh();
    const far = planted('far', 'far-1', ['10.9.0.0/16'], 'Redis: planted far error');
    const near = planted('lo', 'lo-planted', ['127.0.0.0/8'], 'a chunk failed: 127.0.2.0/29 of U0OTHER is outside 127.0.0.0/28');
    for (const info of [far, near]) await h.client.set(`zensweep:{agents}:agent:${info.group}:${info.id}`, JSON.stringify(info), 'EX', 120);
    try {
      const small = await command(h, 'agents', { channel: 'C0SMALL' });
      t.diagnostic(`/sweep agents from C0SMALL:\n${small}`);
      assert.equal(
        small.split('\n').filter((line) => !line.startsWith('    ')).join('\n'),
        [`*lo*`, `• \`${agent.id}\` 127.0.0.0/28 · ICMP+TCP`, '• `lo-planted` 127.0.0.0/28 · ICMP+TCP'].join('\n'),
      );
      assert.doesNotMatch(small, /127\.0\.0\.0\/8|10\.9|far|last error|planted far|U0OTHER/);

      const open = await command(h, 'agents', { channel: 'C0PUBLIC' });
      assert.match(open, /^\*far\*\n• `far-1` 10\.9\.0\.0\/16 · /);
      assert.match(open, /• `lo-planted` 127\.0\.0\.0\/8 · .*\n.*last error [\d.]+ (ms|s) ago: a chunk failed: 127\.0\.2\.0\/29 of U0OTHER/);

      assert.equal((await command(h, 'agents', { channel: 'C0NOWHERE' })).split('\n')[0], `:warning: ${DENIED}`);
      const trail = await audited(h, 3);
      assert.deepEqual(trail.map((e) => [e.kind, e.channel, e.outcome]), [
        ['agents', 'C0NOWHERE', 'refused'],
        ['agents', 'C0PUBLIC', 'allowed'],
        ['agents', 'C0SMALL', 'allowed'],
      ]);
    } finally {
      await h.client.del('zensweep:{agents}:agent:far:far-1', 'zensweep:{agents}:agent:lo:lo-planted');
    }
  });

  it('history: a restricted channel sees only the sweeps within its reach, not another channel’s', TIMEOUT, async (t) => {
    await fresh();
    assert.match(await command(h, '127.0.2.0/29', { channel: 'C0PUBLIC', user: 'U0OTHER' }), /^Sweeping/);
    assert.match(await command(h, '127.0.0.0/30', { channel: 'C0SMALL' }), /^Sweeping/);
    await until('both reports delivered', async () => (await audited(h, 20)).filter((e) => e.outcome === 'delivered').length === 2);

    const small = await command(h, 'history', { channel: 'C0SMALL' });
    t.diagnostic(`/sweep history from C0SMALL:\n${small}`);
    assert.match(small, /^• [\d-]+ [\d:]+ `127\.0\.0\.0\/30` in lo: 2 alive · /);
    assert.doesNotMatch(small, /127\.0\.2\.0|U0OTHER/);
    assert.equal(await command(h, 'history 127.0.2.0/29', { channel: 'C0SMALL' }), 'No sweep of `127.0.2.0/29` is on record.');
    const open = await command(h, 'history', { channel: 'C0PUBLIC' });
    assert.match(open, /`127\.0\.0\.0\/30`/);
    assert.match(open, /`127\.0\.2\.0\/29` in lo: 6 alive · .* by <@U0OTHER>/);
    assert.equal((await command(h, 'history', { channel: 'C0NOWHERE' })).split('\n')[0], `:warning: ${DENIED}`);
  });

  it('watches, unwatch and mute: only where the policy allows the watch’s targets to the asker, each audited', TIMEOUT, async () => {
    await fresh();
    const idOf = (answer: string): string => /\(id `(w[0-9a-f]{6})`\)/.exec(answer)?.[1] ?? assert.fail(answer);
    const wide = idOf(await command(h, 'watch 127.0.1.0/28 every:5m', { channel: 'C0SMALL', user: 'U0ADMIN' }));
    const near = idOf(await command(h, 'watch 127.0.0.0/29 every:5m', { channel: 'C0SMALL', user: 'U0ADMIN' }));
    try {
      const listed = await command(h, 'watches', { channel: 'C0SMALL' });
      assert.match(listed, new RegExp(`\`${near}\` \`127\\.0\\.0\\.0/29\``));
      assert.doesNotMatch(listed, new RegExp(`${wide}|127\\.0\\.1\\.0`));
      assert.match(await command(h, 'watches', { channel: 'C0SMALL', user: 'U0ADMIN' }), new RegExp(`${wide}[^]*${near}|${near}[^]*${wide}`));

      for (const words of [`unwatch ${wide}`, `mute ${wide} 7d`]) {
        assert.equal((await command(h, words, { channel: 'C0SMALL' })).split('\n')[0], `:warning: ${SMALL_REFUSAL}`, words);
      }
      assert.equal(await h.client.exists(`zensweep:{watches}:watch:${wide}`), 1, 'still watched');
      assert.equal(await h.client.exists(`zensweep:{watches}:watch:${wide}:mute`), 0, 'not muted');
      assert.equal((await command(h, 'watches', { channel: 'C0NOWHERE' })).split('\n')[0], `:warning: ${DENIED}`);

      assert.equal(await command(h, `unwatch ${near}`, { channel: 'C0SMALL' }), `Stopped watching \`127.0.0.0/29\` (\`${near}\`).`);
      const trail = await audited(h, 5);
      assert.deepEqual(trail.map((e) => [e.kind, e.user, e.outcome]), [
        ['unwatch', 'U0ONCALL', 'allowed'],
        ['watches', 'U0ONCALL', 'refused'],
        ['mute', 'U0ONCALL', 'refused'],
        ['unwatch', 'U0ONCALL', 'refused'],
        ['watches', 'U0ADMIN', 'allowed'],
      ]);
    } finally {
      await command(h, `unwatch ${wide}`, { channel: 'C0SMALL', user: 'U0ADMIN' });
    }
  });

  it('baselines: listed and forgotten by the channel that saved them only, within the asker’s reach', TIMEOUT, async () => {
    await fresh();
    assert.match(await command(h, '127.0.0.0/29 save:before-cutover', { channel: 'C0SMALL' }), /^Sweeping/);
    assert.match(await command(h, '127.0.3.0/29 save:wide', { channel: 'C0SMALL', user: 'U0ADMIN' }), /^Sweeping/);
    await until('both baselines saved', async () => (await h.client.keys('zensweep:{history}:baseline:C0SMALL:*')).length === 2);

    const small = await command(h, 'baselines', { channel: 'C0SMALL' });
    assert.match(small, /^• `before-cutover` `127\.0\.0\.0\/29` swept [\d-]+ [\d:]+: 6 alive · .*, saved by <@U0ONCALL> · `compare:before-cutover`$/);
    assert.match(await command(h, 'baselines', { channel: 'C0SMALL', user: 'U0ADMIN' }), /`wide`[^]*`before-cutover`/);
    // Another channel has none of them: it neither lists, compares with, nor forgets them.
    assert.match(await command(h, 'baselines', { channel: 'C0PUBLIC' }), /^This channel has no baseline/);
    assert.equal(
      (await command(h, '127.0.0.0/29 compare:before-cutover', { channel: 'C0PUBLIC' })).split('\n')[0],
      ':warning: there is no baseline named before-cutover in this channel: save one here first with save:before-cutover',
    );
    assert.match(await command(h, 'forget before-cutover', { channel: 'C0PUBLIC' }), /^There is no baseline named `before-cutover` in this channel/);
    assert.equal(await h.client.exists('zensweep:{history}:baseline:C0SMALL:before-cutover'), 1);
    // What the asker may not sweep, the asker may not forget.
    assert.equal((await command(h, 'forget wide', { channel: 'C0SMALL' })).split('\n')[0], `:warning: ${SMALL_REFUSAL}`);
    assert.equal(await command(h, 'forget before-cutover', { channel: 'C0SMALL' }), 'Forgot baseline `before-cutover`.');
    assert.equal(await h.client.exists('zensweep:{history}:baseline:C0SMALL:before-cutover'), 0);
    const ttl = await h.client.pttl('zensweep:{history}:baseline:C0SMALL:wide');
    assert.ok(ttl > 29 * 24 * 3600_000, `a baseline expires with the history: ${ttl} ms left`);
    assert.deepEqual((await audited(h, 3)).map((e) => [e.kind, e.outcome]), [
      ['forget', 'allowed'],
      ['forget', 'refused'],
      ['forget', 'allowed'],
    ]);
  });

  it('a policy naming user groups: the ack goes at once while Slack is slow to say who is a member, the answer after', TIMEOUT, async () => {
    const policy = JSON.stringify({ rules: [{ channels: ['C0NET'], usergroups: ['S0NETOPS'] }] });
    h.slack = await FakeSlack.start();
    h.bot = await startBot({ redisUrl: h.redis.url, slack: h.slack, env: { ZENSWEEP_POLICY: policy } });
    bots.push(h.bot);
    h.slack.usergroups.set('S0NETOPS', ['U0NETENG']);
    // Slack rate-limits the membership lookup for 5 s: the request cannot be judged before, the ack cannot wait.
    h.slack.failNext('usergroups.users.list', { status: 429, retryAfter: 5 });
    const url = h.slack.responseUrl();
    const started = Date.now();
    const reply = await postSigned(h.bot.eventsUrl, commandFields('127.0.0.0/30', { response_url: url, channel_id: 'C0NET', user_id: 'U0NETENG' }));
    assert.equal(reply.status, 200);
    assert.ok(Date.now() - started < 3000, `acked after ${Date.now() - started} ms`);
    assert.equal((JSON.parse(reply.body) as { text: string }).text, 'Working on `127.0.0.0/30`…');
    const answer = await waitFor('the answer through response_url', () => h.slack.responsesTo(url)[0]);
    assert.match(String(answer.text), /^Sweeping `127\.0\.0\.0\/30` in lo/);
    assert.equal(answer.response_type, 'ephemeral');
  });

  it('a burst of six sweeps from one user whose limit is 3 starts exactly three; each report posted frees its slot', TIMEOUT, async (t) => {
    await fresh({ ZENSWEEP_MAX_SWEEPS_PER_USER: '3' });
    const answers = await Promise.all(Array.from({ length: 6 }, () => command(h, '127.0.0.0/30 count:5', { user: 'U0BURST' })));
    t.diagnostic(`burst: 6 sent, ${answers.filter((a) => a.startsWith('Sweeping')).length} started`);
    assert.equal(answers.filter((a) => a.startsWith('Sweeping `127.0.0.0/30 count:5` in lo')).length, 3, answers.join('\n'));
    const refusal = ':warning: you already have 3 requests running (sweeps, traces and diags; at most 3): wait for one to finish or cancel it';
    assert.equal(answers.filter((a) => a.split('\n')[0] === refusal).length, 3, answers.join('\n'));
    assert.equal(await running(h, 'U0BURST'), 3);
    await until('three reports posted', () => parents(h).filter((p) => replies(h, p).length === 1).length === 3, {
      show: () => ({ calls: h.slack.calls.map((c) => `${c.method} ${String(c.args.thread_ts ?? '')}`), bot: h.bot.log().split('\n').slice(-20) }),
    });
    await until('the slots freed', async () => (await running(h, 'U0BURST')) === 0);
    assert.match(await command(h, '127.0.0.0/30', { user: 'U0BURST' }), /^Sweeping/);
    const trail = (await audited(h, 20)).filter((e) => e.user === 'U0BURST');
    assert.equal(trail.filter((e) => e.outcome === 'started').length, 4);
    assert.equal(trail.filter((e) => e.outcome === 'refused').length, 3);
  });

  describe('every way a request ends frees its slot (limit 1)', () => {
    let slow: AgentProcess;
    before(async () => {
      // 254 addresses at 20 packets/s: about 13 s, long enough to act on a sweep while it runs.
      slow = await startAgent({ redisUrl: h.redis.url, group: 'slow', cidrs: '127.1.0.0/16', rate: 20 });
    });
    after(async () => {
      await slow?.kill();
    });
    const env = { ZENSWEEP_MAX_SWEEPS_PER_USER: '1', ZENSWEEP_DELIVERY_ATTEMPTS: '2' };
    /** The user may start a sweep again: the answer is a start, whose report then comes. */
    async function freeAgain(user: string): Promise<void> {
      await until(`${user}'s slot freed`, async () => (await running(h, user)) === 0);
      assert.match(await command(h, '127.0.0.0/30', { user }), /^Sweeping/);
      await until(`${user}'s last sweep ended`, async () => (await running(h, user)) === 0);
    }

    it('cancelled: the Cancel button, then the report of how far it got', TIMEOUT, async () => {
      await fresh(env);
      assert.match(await command(h, '127.1.0.0/24 retries:0', { user: 'U0CANCEL' }), /^Sweeping/);
      // Sweeps, traces and diags count alike.
      for (const words of ['127.0.0.0/30', 'trace 127.0.0.1', 'diag 127.0.0.1']) {
        assert.match((await command(h, words, { user: 'U0CANCEL' })).split('\n')[0] ?? '', /at most 1\)/, words);
      }
      const sweepId = await startedId(h, 'U0CANCEL');
      await waitFor('the parent', () => parents(h)[0]);
      const url = h.slack.responseUrl();
      await postSigned(h.bot.eventsUrl, actionFields(ACTIONS.cancel, sweepId, url, 'U0CANCEL'));
      await waitFor('the cancelled report', () => parents(h).flatMap((p) => replies(h, p))[0]);
      await until('the delivery audited as cancelled', async () => (await audited(h, 5)).some((e) => e.sweepId === sweepId && e.outcome === 'cancelled'));
      await freeAgain('U0CANCEL');
    });

    it('response_url expired where the bot cannot post: the delivery fails for good', TIMEOUT, async () => {
      await fresh(env);
      h.slack.failNext('chat.postMessage', { error: 'not_in_channel' }, 1, (args) => args.channel === 'C0GONE');
      assert.match(await command(h, '127.1.0.0/24 retries:0', { channel: 'C0GONE', user: 'U0GONE' }), /^Sweeping/);
      const sweepId = await startedId(h, 'U0GONE');
      // Slack honours a response_url for 30 minutes: gone, as it would be after a longer sweep.
      await h.client.del(`zensweep:slack:response:${sweepId}`);
      await until('the delivery ended', async () => (await audited(h, 5)).some((e) => e.sweepId === sweepId && e.outcome === 'failed'), {
        show: async () => ({ audit: await audited(h, 5), bot: h.bot.log().split('\n').slice(-15) }),
      });
      assert.match((await audited(h, 5)).find((e) => e.sweepId === sweepId && e.outcome === 'failed')?.reason ?? '', /response_url of this request has expired/);
      await freeAgain('U0GONE');
    });

    it('delivery given up: Slack refused the report for every try', TIMEOUT, async () => {
      await fresh(env);
      assert.match(await command(h, '127.1.1.0/25 retries:0', { user: 'U0GIVEUP' }), /^Sweeping/);
      const parent = await waitFor('the parent', () => parents(h)[0]);
      h.slack.failNext('chat.postMessage', { error: 'fatal_error' }, 10, (args) => args.thread_ts === parent.ts);
      const told = await waitFor('the parent says it failed', () =>
        h.slack.callsOf('chat.update').find((c) => c.args.ts === parent.ts && /could not be delivered/.test(String(c.args.text))),
      );
      assert.match(String(told.args.text), /^`127\.1\.1\.0\/25 retries:0` failed: it could not be delivered \(An API error occurred: fatal_error\)$/);
      await freeAgain('U0GIVEUP');
    });
  });
});

describe('the door, with agents that come and go (real bot and redis-server; fake Slack)', () => {
  const h = {} as Harness;
  const agents: AgentProcess[] = [];
  const bots: BotProcess[] = [];
  const ghost = planted('ghost', 'ghost-planted', ['127.9.0.0/16']);
  const plantGhost = (): Promise<unknown> => h.client.set('zensweep:{agents}:agent:ghost:ghost-planted', JSON.stringify(ghost), 'EX', 600);

  before(async () => {
    assertRoot();
    h.redis = await startRedis();
    h.client = new Redis(h.redis.url, { maxRetriesPerRequest: null });
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.kill()));
    await Promise.all(bots.splice(0).map((b) => b.kill()));
    await h.slack?.close();
    await h.client.flushall();
  });
  after(async () => {
    h.client?.disconnect();
    await h.redis?.destroy();
  });

  async function launch(env: NodeJS.ProcessEnv = {}): Promise<BotProcess> {
    const bot = await startBot({ redisUrl: h.redis.url, slack: h.slack, env: { ZENSWEEP_POLICY: POLICY, ZENSWEEP_LOCK_MS: '2000', ...env } });
    bots.push(bot);
    h.bot = bot;
    return bot;
  }

  it('a sweep whose report fails for good is said so on its parent, and frees its slot', TIMEOUT, async () => {
    h.slack = await FakeSlack.start();
    await plantGhost();
    await launch({ ZENSWEEP_MAX_SWEEPS_PER_USER: '1' });
    // What the agents of the group would do, with a report job that cannot be written (it fails for good).
    const connections = [h.client.duplicate(), h.client.duplicate(), h.client.duplicate()];
    const [chunkConnection, reportConnection, partConnection] = connections as [Redis, Redis, Redis];
    const chunks = new Worker(sweepQueueName('ghost'), async () => ({}), { connection: chunkConnection });
    const reportQueue = new Queue(REPORT_QUEUE, { connection: h.client });
    const parts = new Worker(partQueueName('ghost'), partProcessor({ connection: h.client, reports: reportQueue }), { connection: partConnection });
    const reports = new Worker(
      REPORT_QUEUE,
      async () => {
        throw new UnrecoverableError('the history could not be written');
      },
      { connection: reportConnection },
    );
    try {
      assert.match(await command(h, '127.9.0.0/30', { user: 'U0FAIL' }), /^Sweeping `127\.9\.0\.0\/30` in ghost/);
      const parent = await waitFor('the parent', () => parents(h)[0]);
      const told = await waitFor('the failure on the parent', () => h.slack.callsOf('chat.update').find((c) => c.args.ts === parent.ts && /failed/.test(String(c.args.text))));
      assert.match(String(told.args.text), /^`127\.9\.0\.0\/30` failed: sweep \S+ failed: the history could not be written$/);
      await until('the slot freed', async () => (await running(h, 'U0FAIL')) === 0);
      assert.match(await command(h, '127.9.0.0/30', { user: 'U0FAIL' }), /^Sweeping/);
      assert.equal(replies(h, parent).length, 0, 'no report posted for a sweep that failed');
    } finally {
      await chunks.close();
      await parts.close();
      await reports.close();
      await reportQueue.close();
      for (const connection of connections) connection.disconnect();
    }
  });

  it('a trace outlives its bot: killed (SIGKILL) mid-trace, the next bot posts the result in the thread, once', TIMEOUT, async () => {
    h.slack = await FakeSlack.start();
    await plantGhost();
    const first = await launch();
    assert.equal(await command(h, 'trace 127.9.0.1 icmp vpc:ghost'), 'Tracing `127.9.0.1` from ghost…');
    const parent = await waitFor('the parent', () => parents(h)[0]);
    assert.match(String(parent.args.text), /asked for `trace 127\.9\.0\.1 icmp vpc:ghost` on ghost: running…/);
    first.child.kill('SIGKILL');
    await launch();
    // Only now an agent of the group runs the trace, for the new bot to deliver.
    agents.push(await startAgent({ redisUrl: h.redis.url, group: 'ghost', cidrs: '127.9.0.0/16' }));
    const reply = await waitFor('the trace in the thread', () => replies(h, parent)[0]);
    assert.match(String(reply.args.text), /ICMP reaches 127\.9\.0\.1 in 1 hop/);
    await waitFor('the parent updated', () => h.slack.callsOf('chat.update').find((c) => c.args.ts === parent.ts && /ICMP reaches/.test(String(c.args.text))));
    await quietFor(3000);
    assert.equal(replies(h, parent).length, 1, 'posted once');
    assert.equal(parents(h).length, 1, 'one parent');
  });

  it('fifty traces waiting at once cost the bot no more Redis connections than one', TIMEOUT, async (t) => {
    h.slack = await FakeSlack.start();
    await plantGhost();
    await launch();
    const clients = async (): Promise<number> => String(await h.client.client('LIST')).trim().split('\n').length;
    const queue = new Queue(sweepQueueName('ghost'), { connection: h.client });
    assert.match(await command(h, 'trace 127.9.0.1 icmp vpc:ghost', { user: 'U0T00' }), /^Tracing/);
    await until('the first trace enqueued', async () => (await queue.count()) === 1);
    await quietFor(1000);
    const one = await clients();
    for (let i = 1; i < 50; i += 1) {
      assert.match(await command(h, `trace 127.9.0.${i + 1} icmp vpc:ghost`, { user: `U0T${String(i).padStart(2, '0')}` }), /^Tracing/);
    }
    await until('fifty traces waiting', async () => (await queue.count()) === 50);
    await quietFor(2000);
    const fifty = await clients();
    t.diagnostic(`Redis clients (bot, test, planted nothing else): ${one} with one trace waiting, ${fifty} with fifty`);
    assert.ok(fifty <= one, `${one} Redis clients with one trace waiting, ${fifty} with fifty`);
    // And each gets its answer once an agent of the group runs them.
    agents.push(await startAgent({ redisUrl: h.redis.url, group: 'ghost', cidrs: '127.9.0.0/16' }));
    await until('fifty traces delivered', () => parents(h).filter((p) => replies(h, p).length === 1).length === 50, { timeoutMs: 150_000 });
    await queue.close();
  });
});
