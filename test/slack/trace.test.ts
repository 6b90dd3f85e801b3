/**
 * `/sweep trace` and `/sweep diag` end to end: a real bot process, a real redis-server, a real agent probing
 * loopback (the only address the host namespace may probe), and the fake Slack that checks Block Kit's limits.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { sweepQueueName } from '../../src/queue/names.js';
import { AuditTrail } from '../../src/door/audit.js';
import { startAgent, type AgentProcess } from '../support/agents.js';
import { commandFields, postSigned, startBot, type BotProcess } from '../support/bot.js';
import { FakeSlack, type SlackCall } from '../support/fake-slack.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { assertRoot } from '../support/root.js';
import { quietFor, until } from '../support/wait.js';

const TIMEOUT = { timeout: 120_000 };

interface Block {
  type: string;
  text?: { text: string };
  elements?: { text?: string }[];
}

function text(call: SlackCall | undefined): string {
  const blocks = (call?.args.blocks as Block[] | undefined) ?? [];
  return blocks.map((b) => [b.text?.text ?? '', ...(b.elements ?? []).map((e) => e.text ?? '')].join('\n')).join('\n');
}

describe('/sweep trace and /sweep diag (real bot, agent and redis-server; fake Slack)', () => {
  let redis: RedisServer;
  let client: Redis;
  let agent: AgentProcess;
  let slack: FakeSlack;
  let bot: BotProcess;

  const command = async (words: string): Promise<string> => {
    const reply = await postSigned(bot.eventsUrl, commandFields(words, { response_url: slack.responseUrl() }));
    assert.equal(reply.status, 200);
    return (JSON.parse(reply.body) as { text: string }).text;
  };
  const threadReply = (): SlackCall | undefined => slack.callsOf('chat.postMessage').find((c) => c.args.thread_ts !== undefined);

  before(async () => {
    assertRoot();
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    agent = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/16' });
  });
  afterEach(async () => {
    await bot?.stop();
    await slack?.close();
  });
  after(async () => {
    await agent?.kill();
    client?.disconnect();
    await redis?.destroy();
  });

  async function fresh(env: NodeJS.ProcessEnv = {}): Promise<void> {
    slack = await FakeSlack.start();
    bot = await startBot({ redisUrl: redis.url, slack, env });
  }

  it('traces on the agent, answers in a thread with the hop table and attaches the full report', TIMEOUT, async () => {
    await fresh();
    assert.equal(await command('trace 127.0.0.1 icmp'), 'Tracing `127.0.0.1` from lo…');
    const reply = await slack.waitFor('the trace in the thread', threadReply);
    const shown = text(reply);
    assert.match(shown, /\*Trace to 127\.0\.0\.1\* on lo \(/);
    assert.match(shown, /ICMP reaches 127\.0\.0\.1 in 1 hop/);
    assert.match(shown, /``` # address +loss +avg\n 1 127\.0\.0\.1 +0% +[\d.]+```/);
    const [parent] = slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts === undefined);
    assert.equal(reply.args.thread_ts, parent?.ts);
    const upload = await slack.waitFor('the text file', () => slack.callsOf('files.completeUploadExternal')[0]);
    assert.equal(upload.args.thread_ts, parent?.ts);
    const file = [...slack.uploads.values()][0] ?? '';
    assert.match(file, /^trace 127\.0\.0\.1 from 127\.0\.0\.1 on agent \S+ \(lo\)\nICMP reaches 127\.0\.0\.1 in 1 hop/);
    assert.match(file, /Loss%\s+Snt\s+Last\s+Avg\s+Best\s+Wrst\s+StDev/);
    await slack.waitFor('the parent updated', () => slack.callsOf('chat.update').find((c) => /ICMP reaches/.test(String(c.args.text))));
    assert.deepEqual(slack.violations, []);
    // Recorded right after the parent's update: wait for it rather than race it.
    const trail = new AuditTrail(client, pino({ level: 'silent' }));
    await until('the delivery audited', async () => (await trail.recent(1))[0]?.outcome === 'delivered', {
      timeoutMs: 10_000,
      show: () => trail.recent(5),
    });
    const audit = await trail.recent(5);
    assert.deepEqual(audit.slice(0, 2).map((e) => [e.outcome, e.text]), [
      ['delivered', 'trace 127.0.0.1 icmp'],
      ['started', 'trace 127.0.0.1 icmp'],
    ]);
  });

  it('posts the diag for a phone and the ticket text as a file', TIMEOUT, async () => {
    await fresh();
    assert.match(await command('diag 127.0.0.1 tcp:1'), /^Gathering the diag of `127\.0\.0\.1` from lo…$/);
    const reply = await slack.waitFor('the diag in the thread', threadReply);
    const shown = text(reply);
    assert.match(shown, /\*Diag of 127\.0\.0\.1\* on lo/);
    assert.match(shown, /\*Ping\* 10\/10 \(0% loss, avg [\d.]+ ms\)/);
    assert.match(shown, /\*TCP\* 1\/tcp closed/);
    await slack.waitFor('the text file', () => slack.callsOf('files.completeUploadExternal')[0]);
    const file = [...slack.uploads.values()][0] ?? '';
    assert.match(file, /^ZenSweep diag: 127\.0\.0\.1 from agent \S+ \(group lo\)\nTime window \(UTC\): /);
    assert.match(file, /10 packets transmitted, 10 received, 0% packet loss/);
    assert.deepEqual(slack.violations, []);
  });

  it('refuses what the policy does not allow, and bad input, privately, with nothing enqueued', TIMEOUT, async () => {
    await fresh({ ZENSWEEP_POLICY: JSON.stringify({ rules: [{ channels: ['C0PUBLIC'], cidrs: ['127.0.1.0/24'] }] }) });
    const queue = new Queue(sweepQueueName('lo'), { connection: client });
    const before = await queue.getJobCounts();
    assert.match(await command('trace 127.0.0.1'), /this channel may sweep only any group within 127\.0\.1\.0\/24/);
    assert.match(await command('diag 127.0.0.1'), /this channel may sweep only/);
    assert.match(await command('trace 127.0.0.0/24'), /one host/);
    assert.match(await command('trace 127.0.0.1 ports:22'), /not a trace option/);
    // Time for anything a refused command might still have started to show: nothing must.
    await quietFor(300);
    assert.deepEqual(await queue.getJobCounts(), before);
    assert.equal(slack.callsOf('chat.postMessage').length, 0);
    const audit = await new AuditTrail(client, pino({ level: 'silent' })).recent(4);
    assert.deepEqual(audit.map((e) => e.outcome), ['invalid', 'invalid', 'refused', 'refused']);
    await queue.close();
  });
});
