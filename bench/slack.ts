/**
 * The Slack part of `npm run bench`: from the signed POST of `/sweep 127.0.0.0/24` to the threaded summary at the
 * fake Slack, minus the engine's own sweep time (the chunk's probing, as the agent measured it). What is left is
 * ZenSweep's own cost: Bolt, planning, Redis, BullMQ, the report, rendering and posting.
 */
import { Redis } from 'ioredis';
import { ResultStore } from '../src/queue/results.js';
import { startAgent } from '../test/support/agents.js';
import { commandFields, postSigned, startBot } from '../test/support/bot.js';
import { FakeSlack } from '../test/support/fake-slack.js';
import { startRedis } from '../test/support/redis.js';

export async function benchSlack(runs: number, median: (values: number[]) => number): Promise<number> {
  const redis = await startRedis();
  const slack = await FakeSlack.start();
  const agent = await startAgent({ redisUrl: redis.url, group: 'lo', cidrs: '127.0.0.0/16' });
  const bot = await startBot({ redisUrl: redis.url, slack });
  const client = new Redis(redis.url);
  const overheads: number[] = [];
  const totals: number[] = [];
  try {
    const replies = (): number => slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts !== undefined).length;
    for (let i = 0; i < Math.max(runs, 7); i += 1) {
      const before = replies();
      const started = performance.now();
      const ack = await postSigned(bot.eventsUrl, commandFields('127.0.0.0/24', { response_url: slack.responseUrl() }));
      if (ack.status !== 200) throw new Error(`the bot answered ${ack.status}: ${ack.body}`);
      await slack.waitFor('the threaded summary', () => (replies() > before ? true : undefined));
      const total = performance.now() - started;
      const reply = slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts !== undefined).at(-1);
      const buttons = (reply?.args.blocks as { elements?: { action_id?: string; value?: string }[] }[]).at(-1)?.elements ?? [];
      const sweepId = buttons.find((b) => b.action_id === 'sweep_save_baseline')?.value ?? '';
      const report = await new ResultStore(client).loadReport(sweepId);
      const engineMs = Math.max(0, ...(report?.chunks.map((c) => c.durationMs) ?? [0]));
      totals.push(total);
      overheads.push(total - engineMs);
      // Let the CSV upload and the parent's last edit finish before the next command.
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    client.disconnect();
    await bot.stop();
    await agent.stop();
    await slack.close();
    await redis.destroy();
  }
  const overhead = median(overheads);
  console.log('\n5. Slack: signed POST of /sweep 127.0.0.0/24 → threaded summary at the fake Slack, minus the engine');
  console.log(`  total ${median(totals).toFixed(0)} ms   overhead ${overhead.toFixed(0)} ms (medians)`);
  console.log(`  runs  overhead ${overheads.map((o) => o.toFixed(0)).join(', ')}`);
  return overhead;
}
