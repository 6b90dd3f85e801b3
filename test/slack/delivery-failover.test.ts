/**
 * A report is posted once even when a failover lost the record of its posting (real redis-servers and Sentinels, a
 * real bot and agent, the fake Slack): once the parent message is posted, the replica is stopped and its link cut, so
 * that everything the master writes from then on — the sweep's end, the report, the delivery's records of the reply
 * and the files, the delivery job's completion — is lost when the master is then killed and the replica promoted.
 * The delivery runs again on the promoted replica, with its sweep; it finds its reply and its files in the thread
 * (by their metadata and name) and posts nothing twice. Both services write only JSON lines, never the password.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { DELIVERY_QUEUE } from '../../src/slack/delivery/jobs.js';
import { commandFields, postSigned, startBot, type BotProcess } from '../support/bot.js';
import { FakeSlack, type SlackCall } from '../support/fake-slack.js';
import { sentinelsWithAgent } from '../support/failover.js';
import { assertRoot } from '../support/root.js';
import { notJsonLines } from '../support/service.js';
import { quietFor, until } from '../support/wait.js';

const PASSWORD = 'zs-delivery-failover-s3cret';

function replicationField(info: string, field: string): number {
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
}

describe('a report posted once through a failover that lost its delivery record (Sentinels, bot, agent, fake Slack)', () => {
  const lab = sentinelsWithAgent(PASSWORD, 'ha', '127.0.0.0/24');
  let slack: FakeSlack;
  let bot: BotProcess;

  before(async () => {
    assertRoot();
    slack = await FakeSlack.start();
    // Locks of 5 s: a delivery whose completion the failover lost is found stalled and run again within seconds.
    bot = await startBot({ redisUrl: '', slack, env: { ...lab.set.env, ZENSWEEP_LOCK_MS: '5000' } });
  });
  after(async () => {
    await bot?.stop();
    await slack?.close();
  });

  it('runs the delivery again on the promoted replica and finds its reply and files in Slack instead of posting them again', { timeout: 240_000 }, async () => {
    const { set, agent } = lab;
    const replies = (): SlackCall[] => slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts !== undefined);
    const parents = (): SlackCall[] => slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts === undefined);
    const master = new Redis({ port: set.master.port, host: '127.0.0.1', password: PASSWORD });
    try {
      // Four echoes a second apart: the sweep takes about 3 s, time to cut the replica off before it ends.
      const ack = await postSigned(bot.eventsUrl, commandFields('127.0.0.0/29 count:4 interval:1000', { response_url: slack.responseUrl() }));
      assert.match(ack.body, /Sweeping/);
      const parent = await slack.waitFor('the parent message', () => parents()[0]);
      const sweepId = String((slack.messages.get('C0PUBLIC')?.find((m) => m.ts === parent.ts)?.metadata as { event_payload?: { id?: string } }).event_payload?.id);
      const deliveryKey = `bull:${DELIVERY_QUEUE}:deliver-${sweepId}`;
      const replica = new Redis({ port: set.replica.port, host: '127.0.0.1', password: PASSWORD });
      try {
        await until('the parent recorded on the replica', async () => (await replica.hget(`zensweep:slack:delivered:${sweepId}`, 'posted')) === parent.ts);
      } finally {
        replica.disconnect();
      }
      assert.equal(replies().length, 0, 'cut off before the report');

      // From here on the master's writes reach no replica.
      const frozen = set.replica.freeze(20_000);
      await master.call('CLIENT', 'KILL', 'TYPE', 'replica');
      await slack.waitFor('the files in the thread', () => slack.callsOf('files.completeUploadExternal')[0], 60_000);
      await until('the delivery completed on the master', async () => (await master.hget(deliveryKey, 'finishedOn')) !== null, { show: () => bot.log() });
      assert.equal(await master.hexists(`zensweep:slack:delivered:${sweepId}`, 'report'), 1);
      const written = replicationField(await master.info('replication'), 'master_repl_offset');
      master.disconnect();
      await set.master.kill();
      await frozen;
      const promotedPort = await set.failedOverFrom(set.master.port, 60_000);
      assert.equal(promotedPort, set.replica.port);
      const promoted = new Redis({ port: promotedPort, host: '127.0.0.1', password: PASSWORD });
      try {
        const lostBytes = written - (replicationField(await promoted.info('replication'), 'second_repl_offset') - 1);
        // The failover really lost the delivery's records and its completion: otherwise this test proves nothing.
        assert.ok(lostBytes > 0, `the promoted replica missed no write (${lostBytes} bytes)`);
        assert.equal(await promoted.hexists(`zensweep:slack:delivered:${sweepId}`, 'report'), 0, 'the record of the reply was lost');
        assert.equal(await promoted.hget(deliveryKey, 'finishedOn'), null, 'the completion of the delivery was lost');

        await until('the delivery completed again, on the promoted replica', async () => (await promoted.hget(deliveryKey, 'finishedOn')) !== null, {
          timeoutMs: 120_000,
          show: () => `${bot.log()}\n${agent.log()}`,
        });
        assert.equal(await promoted.hget(`zensweep:slack:delivered:${sweepId}`, 'report'), replies()[0]?.ts);
      } finally {
        promoted.disconnect();
      }
      await quietFor(1000);
      assert.equal(parents().length, 1);
      assert.equal(replies().length, 1, 'the report posted once');
      assert.equal(slack.callsOf('files.completeUploadExternal').length, 1, 'the files shared once');
      const found = bot.log().split('\n').filter((l) => l.includes('"delivery_found_posted"')).map((l) => (JSON.parse(l) as { step: string }).step);
      assert.deepEqual(found, ['report', 'files'], bot.log());
      assert.deepEqual(slack.violations, []);
      for (const service of [bot, agent]) {
        assert.deepEqual(notJsonLines(service), []);
        assert.ok(!service.log().includes(PASSWORD), 'the password was written');
      }
    } finally {
      master.disconnect();
    }
  });
});
