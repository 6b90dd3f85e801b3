/**
 * The view from several agents, for real: two agents of one group in two lab namespaces on the same LAN, with a
 * firewall between the second one and the subnet behind the router (test/support/vantage-lab.ts). `from:all` sweeps
 * the same targets from both: the host behind the router is alive from one and prohibited from the other. Through
 * `zensweep submit` (text, JSON, CSV), the real bot (its ack says the cost; the report's first lines say the
 * disagreement, within the phone's two rows a line), a watch with `confirm:agents` through the bot's runner, and an
 * agent that leaves mid-sweep (its view is missing, no host is reported silent for it).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { DistributedReport } from '../../src/core/report.js';
import { compareVantages } from '../../src/core/vantage.js';
import { agentQueueName } from '../../src/queue/names.js';
import { WATCH_QUEUE, WatchStore, type WatchRecord } from '../../src/queue/watch-store.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { commandFields, postSigned, startBot, type BotProcess } from '../support/bot.js';
import { zensweep } from '../support/cli.js';
import { FakeSlack, type SlackCall } from '../support/fake-slack.js';
import { createLab, type Lab } from '../support/lab.js';
import { phoneRowsPerLine, phoneThreadHeight } from '../support/phone-layout.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { addSecondVantage, type SecondVantage } from '../support/vantage-lab.js';
import { until, waitFor } from '../support/wait.js';

const TIMEOUT = { timeout: 240_000 };

interface Block {
  type: string;
  text?: { text: string };
  elements?: { text?: string | { text: string } }[];
}

function blocksOf(call: SlackCall | undefined): Block[] {
  return (call?.args.blocks as Block[] | undefined) ?? [];
}

function lines(blocks: readonly Block[]): { text: string; context: boolean }[] {
  return blocks.flatMap((b): { text: string; context: boolean }[] => {
    if (b.type === 'section') return (b.text?.text ?? '').split('\n').map((text) => ({ text, context: false }));
    if (b.type === 'context') return (b.elements ?? []).flatMap((e) => (typeof e.text === 'string' ? e.text.split('\n').map((text) => ({ text, context: true })) : []));
    return [];
  });
}

describe('from:all through two agents that see one subnet differently (network lab)', () => {
  let lab: Lab;
  let second: SecondVantage;
  let redis: RedisServer;
  let client: Redis;
  let agentA: AgentProcess;
  let agentB: AgentProcess;
  const cidrs = '198.18.0.0/24,198.18.1.0/24';
  const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, REDIS_URL: redis.url });

  before(async () => {
    assertRoot();
    lab = await createLab();
    second = await addSecondVantage(lab);
    redis = await startRedis({ unixSocket: true });
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    await lab.bridgeToHost(redis.port, redis.socketPath ?? '');
    await second.bridgeToHost(redis.port, redis.socketPath ?? '');
    agentA = await startAgent({ redisUrl: redis.url, group: 'lab', cidrs, id: 'lab-a', netns: lab.sweeperNs });
    // A short lock: killed mid-chunk (the last test), its chunk is found stalled soon.
    agentB = await startAgent({ redisUrl: redis.url, group: 'lab', cidrs, id: 'lab-b', netns: second.sweeperNs, lockMs: 4000 });
  });

  after(async () => {
    await Promise.all([agentA?.kill(), agentB?.kill()]);
    client?.disconnect();
    await redis?.destroy();
    await second?.destroy();
    await lab?.destroy();
  });

  const { behind, lan } = {
    behind: { alive: '198.18.1.10', dropped: '198.18.1.30', router: '198.18.0.254' },
    lan: ['198.18.0.10', '198.18.0.11', '198.18.0.12'],
  };
  const targets = ['198.18.0.10-12', behind.alive, behind.dropped];

  it('sweeps the same hosts from both agents and puts the real disagreement first, in text, JSON and CSV', TIMEOUT, async () => {
    const json = await zensweep(['submit', ...targets, 'from:all', 'timeout:500', '--json'], { env: env(), timeoutMs: 120_000 });
    assert.equal(json.code, 0, `submit exited ${json.code}:\n${json.stderr}\nA:\n${agentA.log()}\nB:\n${agentB.log()}`);
    // The cost, said before it runs.
    assert.match(json.stderr, /5 addresses in 6 chunks on lab, from 2 agents \(lab-a, lab-b\): 2× the probes, 5 addresses each \(10 in all\), each at its own agent's rate\n/);
    const report = JSON.parse(json.stdout) as DistributedReport;
    if (process.env.ZS_VANTAGE_REPORT) writeFileSync(process.env.ZS_VANTAGE_REPORT, json.stdout);
    assert.equal(report.complete, true);
    // One result per agent per host: each agent ran its own copy.
    assert.deepEqual(report.vantages?.map((v) => [v.name, v.agent, v.hosts.length, v.complete]), [
      ['lab-a', 'lab-a', 5, true],
      ['lab-b', 'lab-b', 5, true],
    ]);
    // A chunk per range of each /24 (three), once for each agent, each run by its own agent.
    assert.deepEqual(
      report.chunks.map((c) => [c.index, c.agentId]),
      [
        [0, 'lab-a'],
        [1, 'lab-a'],
        [2, 'lab-a'],
        [3, 'lab-b'],
        [4, 'lab-b'],
        [5, 'lab-b'],
      ],
    );
    const [fromA, fromB] = report.vantages ?? [];
    const state = (hosts: DistributedReport['hosts'] | undefined, ip: string): string | undefined => hosts?.find((h) => h.ip === ip)?.state;
    assert.equal(state(fromA?.hosts, behind.alive), 'alive');
    assert.equal(state(fromB?.hosts, behind.alive), 'prohibited');
    assert.equal(fromB?.hosts.find((h) => h.ip === behind.alive)?.reporter?.address, behind.router);
    assert.equal(state(fromA?.hosts, behind.dropped), 'silent');
    assert.equal(state(fromB?.hosts, behind.dropped), 'prohibited');
    for (const ip of lan) assert.deepEqual([state(fromA?.hosts, ip), state(fromB?.hosts, ip)], ['alive', 'alive'], ip);
    // The combined view keeps each host once, as it was reached best.
    assert.deepEqual(report.hosts.map((h) => [h.ip, h.state]), [...lan.map((ip) => [ip, 'alive']), [behind.alive, 'alive'], [behind.dropped, 'prohibited']]);
    assert.deepEqual(compareVantages(report).disagreements.map((d) => d.ip), [behind.alive, behind.dropped]);

    const text = await zensweep(['submit', ...targets, 'from:all', 'timeout:500'], { env: env(), timeoutMs: 120_000 });
    assert.equal(text.code, 0, text.stderr);
    const out = text.stdout.split('\n');
    assert.match(out[0] ?? '', /^198\.18\.0\.10-12 198\.18\.1\.10 198\.18\.1\.30 from:all — 2 seen differently · 3 alive · /);
    assert.deepEqual(out.slice(1, 5), [
      '',
      'lab-a and lab-b disagree on 2 hosts',
      '  198.18.1.10   alive from lab-a, prohibited (admin prohibited, said router 198.18.0.254) from lab-b',
      '  198.18.1.30   silent from lab-a, prohibited (admin prohibited, said router 198.18.0.254) from lab-b',
    ]);
    assert.equal(out[5], 'They agree on the other 3: 3 alive');
    // What they agree on follows, and the disputed hosts are not listed there again.
    const alive = text.stdout.slice(text.stdout.indexOf('\nAlive (3)\n'));
    assert.ok(alive.length > 0 && !alive.includes('198.18.1.10   '), text.stdout);

    const csv = await zensweep(['submit', ...targets, 'from:all', 'timeout:500', '--csv'], { env: env(), timeoutMs: 120_000 });
    assert.equal(csv.code, 0, csv.stderr);
    const rows = csv.stdout.trim().split('\n');
    assert.match(rows[0] ?? '', /^ip,from,names,state,/);
    assert.equal(rows.length, 11, 'a header and one row per agent per host');
    assert.ok(rows.some((r) => r.startsWith(`${behind.alive},lab-a,,alive,`)), csv.stdout);
    assert.ok(rows.some((r) => r.startsWith(`${behind.alive},lab-b,,prohibited,`)), csv.stdout);
  });

  it('vpc:a,b from:each sweeps the same hosts from two groups, one agent each, and puts their disagreement first', TIMEOUT, async () => {
    // The same two vantage points as two groups (on-prem and the VPC behind the line), each with an agent of its own.
    const siteA = await startAgent({ redisUrl: redis.url, group: 'site-a', cidrs, id: 'site-a-1', netns: lab.sweeperNs });
    const siteB = await startAgent({ redisUrl: redis.url, group: 'site-b', cidrs, id: 'site-b-1', netns: second.sweeperNs });
    try {
      const json = await zensweep(['submit', ...targets, 'vpc:site-a,site-b', 'from:each', 'timeout:500', '--json'], { env: env(), timeoutMs: 120_000 });
      assert.equal(json.code, 0, `submit exited ${json.code}:\n${json.stderr}\n${siteA.log()}\n${siteB.log()}`);
      const report = JSON.parse(json.stdout) as DistributedReport;
      assert.deepEqual(report.vantages?.map((v) => [v.name, v.group, v.hosts.length, v.complete]), [
        ['site-a', 'site-a', 5, true],
        ['site-b', 'site-b', 5, true],
      ]);
      // Each group's copy ran on that group's agent only.
      const ran = new Map(report.chunks.map((c) => [c.index, c.agentId]));
      assert.deepEqual([...new Set(ran.values())].sort(), ['site-a-1', 'site-b-1']);
      assert.deepEqual(compareVantages(report).disagreements.map((d) => d.ip), [behind.alive, behind.dropped]);

      const text = await zensweep(['submit', ...targets, 'vpc:site-a,site-b', 'from:each', 'timeout:500'], { env: env(), timeoutMs: 120_000 });
      assert.equal(text.code, 0, text.stderr);
      const out = text.stdout.split('\n');
      assert.match(out[0] ?? '', / from:each — 2 seen differently · 3 alive · /);
      assert.equal(out[2], 'site-a and site-b disagree on 2 hosts');
      assert.equal(out[3], '  198.18.1.10   alive from site-a, prohibited (admin prohibited, said router 198.18.0.254) from site-b');
    } finally {
      await Promise.all([siteA.kill(), siteB.kill()]);
    }
  });

  describe('through the bot', () => {
    let slack: FakeSlack;
    let bot: BotProcess;
    let queue: Queue;
    let store: WatchStore;
    const command = async (text: string): Promise<string> => {
      const answer = await postSigned(bot.eventsUrl, commandFields(text, { response_url: slack.responseUrl() }));
      assert.equal(answer.status, 200, answer.body);
      return (JSON.parse(answer.body) as { text: string }).text;
    };

    before(async () => {
      slack = await FakeSlack.start();
      queue = new Queue(WATCH_QUEUE, { connection: client });
      store = new WatchStore(client, queue);
      bot = await startBot({
        redisUrl: redis.url,
        slack,
        env: { ZENSWEEP_WATCH_MIN_INTERVAL_MS: '1000', ZENSWEEP_WATCH_RUN_TIMEOUT_MS: '15000' },
      });
    });

    after(async () => {
      await bot?.stop();
      await queue?.close();
      await slack?.close();
      assert.deepEqual(slack?.violations ?? [], [], 'every message within Block Kit limits');
    });

    it('says the cost in the ack, and the disagreement in the report’s first lines, each within two phone rows', TIMEOUT, async () => {
      const ack = await command(`${targets.join(' ')} from:all timeout:500`);
      assert.equal(
        ack,
        "Sweeping `198.18.0.10-12 198.18.1.10 198.18.1.30 timeout:500 from:all` in lab from 2 agents (lab-a, lab-b): 2× the probes, 5 addresses each (10 in all), each at its own agent's rate…",
      );
      const reply = await slack.waitFor('the threaded report', () => slack.callsOf('chat.postMessage').find((c) => c.args.thread_ts !== undefined));
      const blocks = blocksOf(reply);
      assert.match(blocks[0]?.text?.text ?? '', /^\*2 seen differently · 3 alive\* · [\d.]+ (ms|s)$/);
      assert.equal(
        blocks[1]?.text?.text,
        [
          '*lab-a and lab-b disagree on 2 hosts*',
          '`198.18.1.10` alive from lab-a, prohibited from lab-b',
          '`198.18.1.30` silent from lab-a, prohibited from lab-b',
        ].join('\n'),
      );
      // Then what they agree on (after what changed since the sweeps above).
      assert.ok(blocks.slice(2).some((b) => /^\*Alive \(3\)\*\n`198\.18\.0\.10` rtt /.test(b.text?.text ?? '')), JSON.stringify(blocks));
      for (const line of lines(blocks)) assert.ok(phoneRowsPerLine(line.text, { context: line.context }).every((rows) => rows <= 2), line.text);
      // The parent and the summary and disagreement fit the first screen (about 650 px under the app's bars).
      const parent = slack.callsOf('chat.postMessage').find((c) => c.args.thread_ts === undefined);
      assert.ok(phoneThreadHeight([{ blocks: blocksOf(parent) }, { blocks: blocks.slice(0, 2) }]) < 650);
      const files = await slack.waitFor('the CSV', () => [...slack.uploads.values()].find((f) => f.startsWith('ip,from,')));
      assert.equal(files.trim().split('\n').length, 11, 'one row per agent per host');
      // To look at the thread as the phone shows it (test/support/phone-shot.ts draws it): the messages as posted.
      if (process.env.ZS_VANTAGE_THREAD) {
        const done = await slack.waitFor('the parent marked done', () => slack.callsOf('chat.update').find((c) => c.args.ts === parent?.ts && /done|incomplete/.test(JSON.stringify(c.args))));
        const upload = slack.callsOf('files.completeUploadExternal')[0];
        writeFileSync(
          process.env.ZS_VANTAGE_THREAD,
          JSON.stringify([{ blocks: blocksOf(done) }, { blocks }, { text: String(upload?.args.initial_comment ?? ''), files: [{ name: 'Every host (CSV)' }] }]),
        );
      }
    });

    it('confirm:agents: what one agent alone sees is that agent’s view, said once; what both see opens an incident', TIMEOUT, async () => {
      const ack = await command(`watch ${lan[1]} ${behind.alive} every:1s confirm:agents timeout:300`);
      assert.match(ack, /every agent sees it \(lab: each live agent sweeps it/);
      const id = /\(id `(w[0-9a-f]{6})`\)/.exec(ack)?.[1] ?? '';
      const first = await waitFor('the first run', async () => ((await store.get(id))?.state ? await store.get(id) : undefined));
      assert.equal(first.agents, true);
      assert.match(first.sweep, /from:all$/);
      // The host behind the firewall is alive as the first agent reaches it; the other's view is its own.
      assert.deepEqual(first.state?.baseline, { [lan[1] ?? '']: 'alive', [behind.alive]: 'alive' });
      assert.deepEqual(first.state?.dissent, { 'lab-b': { [behind.alive]: 'prohibited' } });
      const runs = async (count: number): Promise<WatchRecord> => {
        let record = await store.get(id);
        for (let i = 0; i < count; i += 1) {
          const last = record?.lastRun?.at;
          await until(`run ${i + 1} of ${count}`, async () => (record = await store.get(id))?.lastRun?.at !== last);
        }
        return record as WatchRecord;
      };
      const posts = (): SlackCall[] => slack.callsOf('chat.postMessage').filter((c) => JSON.stringify(c.args).includes(id));
      await runs(2);
      assert.deepEqual(posts(), [], 'what was so from the start is not news');

      // Only the second agent loses the LAN host: its own trouble, said once, no incident.
      await second.dropFromSecond(lan[1] ?? '');
      const own = await slack.waitFor('the second agent’s view', () => posts()[0]);
      assert.match(String(own.args.text), new RegExp(`^:eyes: .*lab-b alone sees ${lan[1]?.replace(/\./g, '\\.')} went silent`));
      await runs(3);
      assert.equal(posts().length, 1, 'said once, however long it lasts');
      assert.doesNotMatch(JSON.stringify(posts()), /rotating_light/);
      assert.equal((await store.get(id))?.state?.incident, undefined);

      // Both lose it: the host's trouble, an incident.
      await second.dropFromAll(lan[1] ?? '');
      const alert = await slack.waitFor('the alert', () => posts().find((c) => String(c.args.text).startsWith(':rotating_light:')));
      assert.match(String(alert.args.text), new RegExp(`${lan[1]?.replace(/\./g, '\\.')} went silent`));
      await second.clearDrops();
      await slack.waitFor('the end of the incident', () => posts().find((c) => c.args.thread_ts !== undefined && /Resolved/.test(JSON.stringify(c.args))));
      assert.equal(await command(`unwatch ${id}`), `Stopped watching \`${first.sweep}\` (\`${id}\`).`);
    });
  });

  it('says an agent that left mid-sweep is missing its view, without calling its hosts silent', TIMEOUT, async () => {
    // Slow enough that the second agent is killed while its copy runs.
    const running = zensweep(['submit', lab.addresses.lan.v4Cidr, 'from:all', 'rate:20', 'timeout:200', 'retries:0', '--json'], {
      env: env(),
      timeoutMs: 200_000,
    });
    const own = new Queue(agentQueueName('lab', 'lab-b'), { connection: client });
    try {
      await until('the second agent’s copy under way', async () => (await own.getActiveCount()) > 0);
    } finally {
      await own.close();
    }
    await agentB.kill();
    const result = await running;
    assert.equal(result.code, 1, `an incomplete sweep exits 1:\n${result.stderr}\n${agentA.log()}`);
    const report = JSON.parse(result.stdout) as DistributedReport;
    const [fromA, fromB] = report.vantages ?? [];
    assert.equal(fromA?.complete, true);
    assert.equal(fromA?.hosts.length, 254);
    assert.equal(fromB?.complete, false);
    assert.match(fromB?.missing ?? '', /^no view: agent lab-b of lab left before it ran this chunk$/);
    assert.deepEqual(fromB?.hosts, []);
    // The combined view is the first agent's; nothing is said to disagree.
    assert.equal(report.hosts.length, 254);
    assert.deepEqual(compareVantages(report).disagreements, []);
    assert.equal(report.hosts.find((h) => h.ip === lan[0])?.state, 'alive');
  });
});
